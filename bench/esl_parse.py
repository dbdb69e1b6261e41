#!/usr/bin/env python
"""Receive the captured FreeSWITCH events with fsapp's parser and with greenswitch's
own receive path, equal work: both decode every header of every event.

    .venv/bin/python bench/esl_parse.py [--captures DIR] [--repeat 5] [--rounds 200]

Per size class of text/event-plain events, the class's events are one byte stream:
  fsapp        Parser().feed(stream), then event.headers of each (every header decoded)
  greenswitch  ESLProtocol.receive_events() reading the same stream through a file object
               (its real path: readline per header line, ESLEvent, Content-Length read,
               ESLEvent of the body, queued), i.e. every header decoded
  floor        the stream decoded to str and every header line split at ': ', no
               framing and no URL decoding: what no parser in Python can go below
CPU time (time.process_time), sides alternating, min / median / max over --repeat runs
(bench/fair.py); each run receives the stream --rounds times.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fair import alternate, ratios, spread  # noqa: E402
from greenswitch.esl import ESLProtocol  # noqa: E402

from fsapp.esl.wire import Parser  # noqa: E402


def load(captures: Path) -> list[bytes]:
    out = []
    for path in sorted(captures.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["dir"] == "fs->app" and entry["raw"]:
                out.append(entry["raw"].encode("utf-8"))
    return out


class _NoSocket:
    def close(self):
        pass


def greenswitch_receive(stream: bytes) -> int:
    proto = ESLProtocol()
    proto.sock, proto.sock_file = _NoSocket(), io.BytesIO(stream)
    proto.receive_events()                      # until EOF
    n = proto._esl_event_queue.qsize()
    while not proto._esl_event_queue.empty():
        proto._esl_event_queue.get_nowait()
    return n


def fsapp_receive(stream: bytes) -> int:
    messages = Parser().feed(stream)
    for m in messages:
        m.event.headers
    return len(messages)


def floor_split(stream: bytes) -> int:
    n = 0
    for line in stream.decode("utf-8").split("\n"):
        line.split(": ", 1)
        n += 1
    return n


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captures", type=Path, default=ROOT / "tests" / "data" / "esl-captures")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=200, help="times each run receives the stream")
    args = parser.parse_args()
    raws = load(args.captures)
    if not raws:
        print(f"no captures found in {args.captures}", file=sys.stderr)
        return 1
    classes: dict[str, list[bytes]] = {"small (<50 headers)": [], "medium (50-149)": [], "large (150+)": []}
    for raw in raws:
        head, _, body = raw.partition(b"\n\n")
        if b"text/event-plain" not in head:
            continue
        count = body.split(b"\n\n", 1)[0].count(b"\n") + 1
        classes["small (<50 headers)" if count < 50 else "medium (50-149)" if count < 150 else "large (150+)"].append(raw)

    print(f"{len(raws)} captured messages from {args.captures}; CPU µs per event, "
          f"min / median / max of {args.repeat} alternating runs")
    print(f"{'class':20} {'n':>4} {'fsapp':>22} {'greenswitch':>22} {'floor (split only)':>22} "
          f"{'greenswitch/fsapp':>20} {'fsapp/floor':>18}")
    for name, items in classes.items():
        if not items:
            continue
        stream = b"".join(items)
        assert fsapp_receive(stream) == greenswitch_receive(stream) == len(items), name
        rounds = args.rounds
        runs = alternate({
            "fsapp": lambda: [fsapp_receive(stream) for _ in range(rounds)],
            "greenswitch": lambda: [greenswitch_receive(stream) for _ in range(rounds)],
            "floor": lambda: [floor_split(stream) for _ in range(rounds)],
        }, args.repeat)
        per = 1e6 / (rounds * len(items))
        print(f"{name:20} {len(items):>4} {spread(runs['fsapp'], per, '{:.1f}'):>22} "
              f"{spread(runs['greenswitch'], per, '{:.1f}'):>22} {spread(runs['floor'], per, '{:.1f}'):>22} "
              f"{spread(ratios(runs['greenswitch'], runs['fsapp'])):>20} "
              f"{spread(ratios(runs['fsapp'], runs['floor'])):>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

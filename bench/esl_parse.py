#!/usr/bin/env python
"""Parse the captured FreeSWITCH events with fsapp.esl.wire and with greenswitch's own
ESLEvent, in one run, and print events/s for both and the ratio.

    .venv/bin/python bench/esl_parse.py [--captures DIR] [--seconds 0.5]

Two workloads per size class of text/event-plain events:
  route  what the runtime does with every event: frame the message, then read the
         headers it routes on (Event-Name, Unique-ID, Application-UUID, DTMF-Digit,
         variable_read_result); fsapp decodes lazily, greenswitch decodes everything
  full   every header decoded into a dict (fsapp: event.headers)
greenswitch is given only the already-framed event body as str (its ESLEvent input),
so its own line-by-line socket framing is not even counted against it.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from greenswitch.esl import ESLEvent  # noqa: E402

from fsapp.esl.wire import Parser  # noqa: E402

ROUTE_KEYS = ("Event-Name", "Unique-ID", "Application-UUID", "DTMF-Digit", "variable_read_result")


def load(captures: Path) -> list[bytes]:
    out = []
    for path in sorted(captures.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["dir"] == "fs->app" and entry["raw"]:
                out.append(entry["raw"].encode("utf-8"))
    return out


def rate(fn, items, seconds: float) -> float:
    """Best-of-3 items/s of fn over items, each round at least `seconds` long."""
    best = 0.0
    for _ in range(3):
        n = 0
        start = time.perf_counter()
        while True:
            fn(items)
            n += len(items)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, n / elapsed)
    return best


def fsapp_route(raws):
    for raw in raws:
        event = Parser().feed(raw)[0].event
        for key in ROUTE_KEYS:
            event.get(key)


def fsapp_full(raws):
    for raw in raws:
        Parser().feed(raw)[0].event.headers


def gs_route(bodies):
    for body in bodies:
        headers = ESLEvent(body).headers
        for key in ROUTE_KEYS:
            headers.get(key)


def gs_full(bodies):
    for body in bodies:
        ESLEvent(body).headers


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--captures", type=Path, default=ROOT / "tests" / "data" / "esl-captures")
    parser.add_argument("--seconds", type=float, default=0.5, help="minimum length of one timing round")
    args = parser.parse_args()
    raws = load(args.captures)
    if not raws:
        print(f"no captures found in {args.captures}", file=sys.stderr)
        return 1

    classes: dict[str, tuple[list[bytes], list[str]]] = {"small (<50 headers)": ([], []),
                                                        "medium (50-149)": ([], []),
                                                        "large (150+)": ([], [])}
    json_events = []
    for raw in raws:
        head, _, body = raw.partition(b"\n\n")
        if b"text/event-json" in head:
            json_events.append(raw)
        if b"text/event-plain" not in head:
            continue
        count = body.split(b"\n\n", 1)[0].count(b"\n") + 1
        name = "small (<50 headers)" if count < 50 else "medium (50-149)" if count < 150 else "large (150+)"
        classes[name][0].append(raw)
        classes[name][1].append(body.decode("utf-8"))

    print(f"{len(raws)} captured messages from {args.captures}")
    print(f"{'class':22} {'n':>4} {'work':>6} {'fsapp ev/s':>12} {'greenswitch ev/s':>17} {'ratio':>7}")
    worst_small = None
    for name, (class_raws, bodies) in classes.items():
        if not class_raws:
            continue
        for work, fs_fn, gs_fn in (("route", fsapp_route, gs_route), ("full", fsapp_full, gs_full)):
            fs_rate = rate(fs_fn, class_raws, args.seconds)
            gs_rate = rate(gs_fn, bodies, args.seconds)
            ratio = fs_rate / gs_rate
            print(f"{name:22} {len(class_raws):>4} {work:>6} {fs_rate:>12,.0f} {gs_rate:>17,.0f} {ratio:>6.2f}x")
            if name.startswith("small"):
                worst_small = ratio if worst_small is None else min(worst_small, ratio)
    if json_events:
        fs_rate = rate(fsapp_full, json_events, args.seconds)
        print(f"{'json events':22} {len(json_events):>4} {'full':>6} {fs_rate:>12,.0f} "
              f"{'(no JSON support)':>17} {'-':>7}")
    all_rate = rate(lambda items: Parser().feed(b"".join(items)), raws, args.seconds)
    print(f"{'all messages, 1 stream':22} {len(raws):>4} {'frame':>6} {all_rate:>12,.0f}")
    if worst_small is not None and worst_small < 1.0:
        print(f"WARNING: slower than greenswitch on small events ({worst_small:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

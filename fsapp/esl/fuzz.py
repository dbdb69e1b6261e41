"""Fuzz the Event Socket parser with mutated real FreeSWITCH frames.

    python -m fsapp.esl.fuzz --frames 100000 [--seed 1] [--captures DIR]

Each input is one to three messages FreeSWITCH really sent (tests/data/esl-captures),
mutated (bytes flipped, inserted, cut, spliced; Content-Length values made
non-numeric, negative, huge or off by one; JSON bodies made deeply nested or given a
non-string _body; invalid UTF-8 and %-escapes), then fed to `Parser` twice: whole, and
cut at random read boundaries. Every message is read completely (headers, body, the
event's lazily decoded headers and body, JSON).

The promise checked: any bytes give messages or `ProtocolError`, nothing else, and the
same outcome however the bytes are split. The counts printed are inputs, messages
(events among them), ProtocolErrors, other exceptions and whole/split mismatches; the
exit status is 1 unless the last two are 0. tests/esl/test_esl_fuzz.py runs the same
mutations under hypothesis in CI.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from fsapp.esl.wire import EVENT_JSON, EVENT_PLAIN, Parser, ProtocolError

DEFAULT_CAPTURES = Path(__file__).resolve().parents[2] / "tests" / "data" / "esl-captures"

# Content-Length values a hostile or broken peer might send.
BAD_LENGTHS = [b"abc", b"-1", b"-0", b"+5", b" 5", b"5 ", b"1_0", b"0x10", b"1e3", b"",
               "\u0661\u0662".encode(), "\u00b2".encode(), b"9" * 400, b"99999999999999999999",
               b"67108865", b"4294967296", b"0"]
HEAD_NAMES = [b"Content-Length", b"Content-Type", b"Event-Name", b"Unique-ID", b"Reply-Text"]
CONTENT_TYPES = [b"text/event-plain", b"text/event-json", b"api/response", b"command/reply",
                 b"text/disconnect-notice", b"auth/request", b"log/data", b""]


def load_frames(captures: Path = DEFAULT_CAPTURES) -> list[bytes]:
    """Every message FreeSWITCH sent in the captures, as raw bytes."""
    frames = []
    for path in sorted(Path(captures).glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["dir"] == "fs->app" and entry["raw"]:
                frames.append(entry["raw"].encode("utf-8"))
    if not frames:
        raise SystemExit(f"no captured frames in {captures}")
    return frames


# -- mutations: (rng, data) -> data ------------------------------------------------------
def _pos(rng: random.Random, data: bytes) -> int:
    return rng.randrange(len(data) + 1)


def flip_bytes(rng, data):
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf)


def insert_bytes(rng, data):
    token = rng.choice([b"\n", b"\n\n", b"\r\n", b":", b": ", b"%", b"%0A", b"%ZZ", b"%E4%B8",
                        b"\xff\xfe", b"\xc3", b"\x00", b"{", b"[", b'"', b"\\ud800",
                        bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))])
    p = _pos(rng, data)
    return data[:p] + token * rng.randint(1, 3) + data[p:]


def delete_range(rng, data):
    a = _pos(rng, data)
    return data[:a] + data[min(len(data), a + rng.randint(1, 64)):]


def duplicate_range(rng, data):
    a = _pos(rng, data)
    b = min(len(data), a + rng.randint(1, 256))
    return data[:b] + data[a:b] + data[b:]


def truncate(rng, data):
    return data[:_pos(rng, data)]


def bad_content_length(rng, data):
    """Replace one Content-Length value (outer head or the event's own) with a bad one."""
    marks = [i for i in range(len(data)) if data.startswith(b"Content-Length: ", i)]
    value = rng.choice(BAD_LENGTHS)
    if not marks:
        return b"Content-Length: " + value + b"\n" + data
    start = rng.choice(marks) + len(b"Content-Length: ")
    end = data.find(b"\n", start)
    end = len(data) if end < 0 else end
    return data[:start] + value + data[end:]


def off_by_one_length(rng, data):
    head, sep, body = data.partition(b"\n\n")
    return b"Content-Length: %d\n" % (len(body) + rng.choice([-2, -1, 1, 2])) + head + sep + body


def swap_content_type(rng, data):
    head, sep, body = data.partition(b"\n\n")
    lines = [line for line in head.split(b"\n") if not line.startswith(b"Content-Type:")]
    lines.insert(rng.randrange(len(lines) + 1), b"Content-Type: " + rng.choice(CONTENT_TYPES))
    return b"\n".join(lines) + sep + body


def hostile_json(rng, data):
    """A text/event-json message with a body that is deep, wrong-typed or not JSON."""
    depth = rng.choice([10, 500, 999, 1000, 5000, 100000])
    open_, close = rng.choice([(b"[", b"]"), (b'{"a":', b"}")])
    body = rng.choice([
        open_ * depth + close * depth,
        b'{"Event-Name":"DTMF","x":' + open_ * depth + b"1" + close * depth + b"}",
        b'{"Event-Name":"DTMF","_body":' + rng.choice([b"1", b"null", b"[]", b"{}", b"true", b'["x"]']) + b"}",
        b'{"Event-Name":"' + "\ud800".encode("utf-8", "surrogatepass") + b'"}',
        b'{"Event-Name":"\\ud800","_body":"\\udfff"}',
        b'{"n":' + b"9" * rng.choice([10, 4300, 5000]) + b"}",
        b'{"n":1e999999}', b"[1,2]", b'"text"', b"", b"{", b"\xff",
    ])
    return b"Content-Type: text/event-json\nContent-Length: %d\n\n" % len(body) + body


def splice(rng, data, other=b""):
    a, b = _pos(rng, data), rng.randrange(len(other) + 1)
    return data[:a] + other[b:]


MUTATIONS = [flip_bytes, insert_bytes, delete_range, duplicate_range, truncate, bad_content_length,
             off_by_one_length, swap_content_type, hostile_json, splice]


def mutate(rng: random.Random, frames: list[bytes]) -> bytes:
    """One fuzz input: 1-3 consecutive captured messages with 1-4 mutations."""
    start = rng.randrange(len(frames))
    data = b"".join(frames[start:start + rng.randint(1, 3)])
    for _ in range(rng.randint(1, 4)):
        mutation = rng.choice(MUTATIONS)
        data = mutation(rng, data, rng.choice(frames)) if mutation is splice else mutation(rng, data)
    return data


def random_cuts(rng: random.Random, size: int) -> list[int]:
    return sorted(rng.sample(range(1, size), min(size - 1, rng.randint(1, 12)))) if size > 1 else []


# -- the property --------------------------------------------------------------------------
def read_fully(message) -> tuple:
    """Everything a caller can read of a message, as comparable values."""
    event = message.event
    seen = (message.content_type, dict(message.headers), message.body, message.data, message.ok,
            repr(message))
    if event is not None:
        names = list(event.headers)
        # message.json itself is left out: NaN != NaN, and a nested value's repr is the
        # harness's recursion, not the parser's.
        seen += (names, event.body, [event.get(name) for name in names], event.name, repr(event),
                 type(message.json).__name__)
    return seen


def outcome(data: bytes, cuts: list[int]):
    """("ok", [messages read fully]) or ("ProtocolError", None). Anything else raises."""
    parser = Parser()
    read = []
    try:
        last = 0
        for cut in cuts + [len(data)]:
            for message in parser.feed(data[last:cut]):
                read.append(read_fully(message))
            last = cut
    except ProtocolError:
        return "ProtocolError", None
    return "ok", read


@dataclass
class Counts:
    inputs: int = 0
    messages: int = 0
    events: int = 0
    protocol_errors: int = 0
    other_exceptions: int = 0
    mismatches: int = 0
    failures: list[str] = field(default_factory=list)
    kinds: Counter = field(default_factory=Counter)


def check(data: bytes, cuts: list[int], counts: Counts) -> None:
    """Feed data whole and cut; count what happened. Never raises."""
    counts.inputs += 1
    try:
        whole = outcome(data, [])
        split = outcome(data, cuts)
    except Exception as exc:  # the promise is broken: record it with its input
        counts.other_exceptions += 1
        counts.kinds[type(exc).__name__] += 1
        if len(counts.failures) < 5:
            counts.failures.append(f"{data[:300]!r} cuts={cuts}\n{traceback.format_exc()}")
        return
    if whole[0] != split[0] or whole[1] != split[1]:
        counts.mismatches += 1
        if len(counts.failures) < 5:
            counts.failures.append(f"whole {whole[0]} vs split {split[0]}: {data[:300]!r} cuts={cuts}")
        return
    if whole[0] == "ProtocolError":
        counts.protocol_errors += 1
    else:
        counts.messages += len(whole[1])
        counts.events += sum(1 for seen in whole[1] if seen[0] in (EVENT_PLAIN, EVENT_JSON))


def run(n: int, seed: int, frames: list[bytes]) -> Counts:
    rng = random.Random(seed)
    counts = Counts()
    for _ in range(n):
        data = mutate(rng, frames)
        check(data, random_cuts(rng, len(data)), counts)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fsapp.esl.fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=10000, help="number of mutated inputs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--captures", type=Path, default=DEFAULT_CAPTURES)
    args = ap.parse_args(argv)
    frames = load_frames(args.captures)
    start = time.process_time()
    counts = run(args.frames, args.seed, frames)
    print(f"inputs (mutated frames, each fed whole and split): {counts.inputs}")
    print(f"messages parsed: {counts.messages} (events: {counts.events})")
    print(f"ProtocolError: {counts.protocol_errors}")
    print(f"other exceptions: {counts.other_exceptions} {dict(counts.kinds) or ''}")
    print(f"whole/split mismatches: {counts.mismatches}")
    print(f"seed {args.seed}, {len(frames)} captured frames, {time.process_time() - start:.1f} s CPU")
    for failure in counts.failures:
        print("---\n" + failure, file=sys.stderr)
    return 1 if counts.other_exceptions or counts.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())

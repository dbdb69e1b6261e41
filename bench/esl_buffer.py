#!/usr/bin/env python
"""Buffering cost of fsapp.esl.wire.Parser: one big message fed in TCP-segment-sized
reads against the same bytes fed in one read. Linear buffering keeps the ratio near 1
(the issue-10 parser concatenated the buffer on every read: 4 MiB took 2.4 s, 16 MiB
did not finish in 60 s).

    .venv/bin/python bench/esl_buffer.py [--mib 64] [--read 1460] [--runs 3]

Both sides do the same work: frame the message and decode its body text (what a caller
of api() does with a big api/response). The reads are cut before timing (recv() hands
them over ready-made), sides alternate, CPU time (time.process_time), min/median/max.
"""
from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fsapp.esl.wire import Parser  # noqa: E402


def message(size: int) -> bytes:
    line = b"0123456789abcdef" * 4 + b"\n"  # 65 bytes: show-channels-like text
    body = (line * (size // len(line) + 1))[:size]
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % size + body


def run(reads: list[bytes], size: int) -> float:
    gc.collect()
    start = time.process_time()
    parser = Parser(max_frame_bytes=size)
    out = []
    for data in reads:
        out += parser.feed(data)
    text = out[0].body
    elapsed = time.process_time() - start
    assert len(out) == 1 and len(text) == size and parser.pending_bytes == 0
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=64, help="body size in MiB")
    ap.add_argument("--read", type=int, default=1460, help="bytes per read (a TCP segment)")
    ap.add_argument("--runs", type=int, default=3, help="runs of each side, alternating")
    args = ap.parse_args()
    size = args.mib << 20
    raw = message(size)
    split = [raw[i:i + args.read] for i in range(0, len(raw), args.read)]
    whole = [raw]
    times = {"split": [], "whole": []}
    for _ in range(args.runs):
        times["split"].append(run(split, size))
        times["whole"].append(run(whole, size))
    print(f"{args.mib} MiB api/response body, {len(split):,} reads of {args.read} bytes "
          f"vs 1 read; CPU seconds over {args.runs} alternating runs")
    print(f"{'side':8} {'min':>8} {'median':>8} {'max':>8}")
    for side, values in times.items():
        print(f"{side:8} {min(values):8.3f} {statistics.median(values):8.3f} {max(values):8.3f}")
    ratio = statistics.median(times["split"]) / statistics.median(times["whole"])
    print(f"ratio split/whole (medians): {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

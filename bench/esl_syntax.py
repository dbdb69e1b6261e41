#!/usr/bin/env python
"""What building FreeSWITCH syntax through fsapp.esl.syntax costs per command, beside
the plain framing it replaced (fsapp.esl.wire.encode_sendmsg / an f-string originate
with commas escaped, the builder before issue 10). CPU time (time.process_time), sides
alternating, each figure repeated: min / median / max microseconds per command.

    .venv/bin/python bench/esl_syntax.py [--rounds 7] [--n 20000]

Workloads: the router's agent originate (7 variables, a caller id number), a Call.set of
a caller's name (unicode, quote, comma), and a playback execute.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fsapp.esl import syntax, wire  # noqa: E402

UUID = "0d2b3f4e-1111-2222-3333-444455556666"
VARIABLES = {"origination_uuid": UUID, "origination_caller_id_number": "+8613800138000", "fsapp_queue": "hotline",
             "fsapp_member_uuid": UUID, "fsapp_offer": "1a2b3c4d", "ignore_early_media": "true",
             "originate_timeout": 20}


def old_originate():
    parts = [f"{k}={str(v).replace(',', chr(92) + ',')}" for k, v in VARIABLES.items()]
    return "originate {" + ",".join(parts) + "}user/1001 &park"


def new_originate():
    return syntax.originate_command("user/1001", "&park", VARIABLES)


def old_set():
    return wire.encode_sendmsg("set", "fsapp_name=张伟 O'Brien, J", event_uuid=UUID)


def new_set():
    return syntax.sendmsg_execute("set", syntax.set_arg("fsapp_name", "张伟 O'Brien, J"), event_uuid=UUID)


def old_play():
    return wire.encode_sendmsg("playback", "/usr/share/sounds/zh-CN/common/welcome.wav", event_uuid=UUID)


def new_play():
    return syntax.sendmsg_execute("playback", "/usr/share/sounds/zh-CN/common/welcome.wav", event_uuid=UUID)


def per_call_us(fn, n: int) -> float:
    start = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - start) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    for name, old, new in (("agent originate", old_originate, new_originate), ("Call.set", old_set, new_set),
                           ("playback", old_play, new_play)):
        olds, news = [], []
        for i in range(args.rounds):
            pair = ((olds, old), (news, new)) if i % 2 == 0 else ((news, new), (olds, old))
            for out, fn in pair:
                out.append(per_call_us(fn, args.n))
        for side, figures in (("before", olds), ("syntax", news)):
            print(f"{name:16s} {side:7s} us/command min {min(figures):6.2f}  median {statistics.median(figures):6.2f}"
                  f"  max {max(figures):6.2f}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Two probes of what a FreeSWITCH charges a socket client, behind the design choices of
fsapp's outbound runtime (docs/performance.md, "On a real FreeSWITCH"):

  bytes     FreeSWITCH's CPU per command as a function of the command's head size:
            `noevents` with and without a 400-byte header nobody reads, on an inbound
            connection, alternating (mod_event_socket reads a command's head with one
            recv() per byte; a Content-Length body in one).
  timeline  one call at a time through the lean client (bench/lean_ivr.py's commands):
            when each reply and event arrives, from `connect` on, median over the calls;
            with --pipelined, `answer` goes without waiting (as the flow runtime sends it).
  idle      what a call's length costs over the socket: --calls calls at once, each
            answered, 5 s of silence, hung up, natively (extension 9917) and through the
            lean client (9916: three commands, a few events), alternating: FreeSWITCH's CPU
            per call on each side, and the difference per second of call.

    .venv/bin/python bench/switch_probes.py bytes --commands 3000 --runs 3
    .venv/bin/python bench/switch_probes.py timeline --calls 20 [--pipelined] --listen 127.0.0.1:8095
    .venv/bin/python bench/switch_probes.py idle --calls 20 --runs 3 --listen 127.0.0.1:8095

`timeline` and `idle` need extensions 9916 (a socket to --listen) and 9917 of
`bench/real_switch.py --print-dialplan`. FreeSWITCH's CPU is read from /proc/<pid>/stat (--fs-pid, or `pidof
freeswitch`). --emulator runs either against fsapp.sim, which checks the script and says
nothing about FreeSWITCH.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import collections  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
from gevent.server import StreamServer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("FSAPP_LOG_LEVEL", "WARNING")

from fsapp.esl import InboundClient  # noqa: E402
from fsapp.esl.outbound import parse_listen  # noqa: E402
from lean_ivr import _Frames, run_call  # noqa: E402
from real_switch import IDLE_APPS, IDLE_EXT, LEAN_EXT, NATIVE_APPS, cpu_ticks, spread  # noqa: E402

PAD = 400


def fs_pid(args) -> int | None:
    if args.fs_pid or args.emulator:
        return args.fs_pid
    found = subprocess.run(["pidof", "freeswitch"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


def inbound(host: str, port: int, password: str):
    sock = socket.create_connection((host, port), timeout=30)
    frames = _Frames(sock)
    frames.next()
    sock.sendall(f"auth {password}\n\n".encode())
    frames.next()
    return sock, frames


def probe_bytes(args, host: str, port: int, pid: int | None) -> None:
    tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
    plain = b"noevents\n\n"
    padded = b"noevents\nX-Pad: " + b"a" * (PAD - 8) + b"\n\n"
    cost: dict[int, list[float]] = {len(plain): [], len(padded): []}
    for run in range(args.runs):
        for command in ((plain, padded) if run % 2 == 0 else (padded, plain)):
            sock, frames = inbound(host, port, args.password)
            before = cpu_ticks(pid)
            for _ in range(args.commands):
                sock.sendall(command)
                frames.next()
            if pid is not None:
                cost[len(command)].append((cpu_ticks(pid) - before) * tick_us / args.commands)
            sock.close()
    if pid is None:
        print(f"{args.runs} x {args.commands} commands of {len(plain)} and {len(padded)} bytes sent; "
              "FreeSWITCH's CPU not measured (no pid)")
        return
    for size, values in cost.items():
        print(f"command of {size:4} bytes: FreeSWITCH CPU us/command {spread(values)}")
    extra = [b - a for a, b in zip(cost[len(plain)], cost[len(padded)])]
    print(f"{len(padded) - len(plain)} more head bytes: +{spread(extra)} us per command "
          f"({spread([e / (len(padded) - len(plain)) for e in extra])} us per byte)")


class TimelineServer:
    """The lean client's outbound server, stamping each call into `marks`."""

    def __init__(self, listen: tuple[str, int], pipelined: bool, apps=NATIVE_APPS):
        self.marks: dict[str, list[float]] = collections.defaultdict(list)
        self.ended = gevent.event.Event()
        self.pipelined = pipelined
        self.apps = apps
        self.server = StreamServer(listen, self._handle)
        self.server.start()

    def _handle(self, sock, _address) -> None:
        try:
            started = time.monotonic()
            run_call(sock, self.apps, pipelined=self.pipelined,
                     mark=lambda what: self.marks[what].append((time.monotonic() - started) * 1000))
        except (EOFError, OSError):
            pass
        finally:
            sock.close()
            self.ended.set()


def probe_timeline(args, host: str, port: int, pid: int | None, timeline: TimelineServer) -> None:
    marks, ended, server = timeline.marks, timeline.ended, timeline.server
    client = InboundClient(host, port, args.password).start()

    def press(ev) -> None:
        if ev.get("Application") == "play_and_get_digits":
            gevent.spawn(client.api, f"uuid_recv_dtmf {ev.get('Unique-ID')} 1")
    client.on("CHANNEL_EXECUTE", press)
    client.subscribe("CHANNEL_EXECUTE")
    before = cpu_ticks(pid)
    try:
        for _ in range(args.calls):
            ended.clear()
            client.originate(f"loopback/{LEAN_EXT}/{args.context}", "&park", timeout=30)
            ended.wait(30)
    finally:
        client.stop()
        server.stop(timeout=2)
    print(f"{args.calls} calls one at a time, answer {'pipelined' if args.pipelined else 'waited for'}; "
          "ms since the switch connected, min / median / max:")
    for what, values in sorted(marks.items(), key=lambda kv: statistics.median(kv[1])):
        print(f"  {what:46} {spread(values)}")
    if pid is not None:
        print(f"FreeSWITCH CPU per call, idle gaps included: {(cpu_ticks(pid) - before) * 1000 / os.sysconf('SC_CLK_TCK') / args.calls:.2f} ms")


def probe_idle(args, host: str, port: int, pid: int | None, server: TimelineServer) -> None:
    """--calls calls at once per side; a side's batch ends when all its B legs hung up."""
    client = InboundClient(host, port, args.password).start()
    ended = gevent.event.Event()
    count = [0]

    def on_end(ev) -> None:
        if ev.get("variable_loopback_leg") == "B" or (ev.get("Channel-Name") or "").endswith("-b"):
            count[0] += 1
            ended.set()
    client.on("CHANNEL_HANGUP_COMPLETE", on_end)
    client.subscribe("CHANNEL_HANGUP_COMPLETE")
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    cost: dict[str, list[float]] = {"native": [], "socket": []}
    seconds = float(IDLE_APPS[1][1].rsplit("/", 1)[1]) / 1000
    try:
        for run in range(args.runs):
            for side in (("native", "socket") if run % 2 == 0 else ("socket", "native")):
                count[0] = 0
                before = cpu_ticks(pid)
                ext = IDLE_EXT if side == "native" else LEAN_EXT
                gevent.joinall([gevent.spawn(client.originate, f"loopback/{ext}/{args.context}", "&park",
                                             timeout=30) for _ in range(args.calls)])
                deadline = time.monotonic() + seconds + 60
                while count[0] < args.calls and time.monotonic() < deadline:
                    ended.clear()
                    ended.wait(1.0)
                if count[0] < args.calls:
                    raise SystemExit(f"{side}: only {count[0]} of {args.calls} calls ended")
                if pid is not None:
                    cost[side].append((cpu_ticks(pid) - before) * tick_ms / args.calls)
    finally:
        client.stop()
        server.server.stop(timeout=2)
    if pid is None:
        print(f"{args.runs} x {args.calls} calls of {seconds:g} s each side; FreeSWITCH's CPU not measured (no pid)")
        return
    for side, values in cost.items():
        print(f"{side:6} ({seconds:g} s calls, {args.calls} at once): FreeSWITCH CPU ms/call {spread(values)}")
    extra = [s - n for n, s in zip(cost["native"], cost["socket"])]
    print(f"socket - native: +{spread(extra)} ms per call, +{spread([e / seconds for e in extra])} ms "
          f"per second of call")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("probe", choices=("bytes", "timeline", "idle"))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8021)
    p.add_argument("--password", default="ClueCon")
    p.add_argument("--context", default="default")
    p.add_argument("--listen", default="127.0.0.1:8095", help="the lean client's listen address (extension 9916)")
    p.add_argument("--commands", type=int, default=3000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--pipelined", action="store_true")
    p.add_argument("--fs-pid", type=int)
    p.add_argument("--emulator", action="store_true", help="against fsapp.sim (checks the script only)")
    args = p.parse_args()
    if args.runs < 3:
        p.error("--runs must be >= 3 (min/median/max)")
    timeline = None
    if args.probe in ("timeline", "idle"):
        timeline = TimelineServer(parse_listen(args.listen), args.pipelined,
                                  IDLE_APPS if args.probe == "idle" else NATIVE_APPS)
    host, port, switch = args.host, args.port, None
    if args.emulator:
        from fsapp.sim import RealClock, Socket, Switch
        # idle's calls last 5 s of emulated time: run that faster (timeline's times stay real)
        clock = RealClock(scale=20.0) if args.probe == "idle" else None
        switch = Switch(password=args.password, esl=("127.0.0.1", 0), clock=clock).start()
        if timeline is not None:
            switch.dialplan.add(rf"^{LEAN_EXT}$", Socket(f"127.0.0.1:{timeline.server.server_port} async full"))
        from fsapp.sim import Apps
        switch.dialplan.add(rf"^{IDLE_EXT}$", Apps(steps=list(IDLE_APPS)))
        host, port = "127.0.0.1", switch.esl_port
        print("AGAINST THE EMULATOR (fsapp.sim): checks that the probe works; the figures say nothing "
              "about FreeSWITCH.")
    pid = fs_pid(args)
    try:
        if args.probe == "bytes":
            probe_bytes(args, host, port, pid)
        elif args.probe == "idle":
            probe_idle(args, host, port, pid, timeline)
        else:
            probe_timeline(args, host, port, pid, timeline)
    finally:
        if switch is not None:
            switch.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

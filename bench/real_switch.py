#!/usr/bin/env python
"""The same IVR natively (dialplan), through the leanest socket client and through fsapp
(outbound socket), on a real FreeSWITCH: calls/s, and FreeSWITCH's CPU per call when it
runs on this host.

    .venv/bin/python bench/real_switch.py --print-dialplan          # install this first
    .venv/bin/python bench/real_switch.py --host 127.0.0.1 --port 8021 --password ClueCon \\
        --listen 127.0.0.1:8094 --calls 200 --concurrency 50 --runs 3 [--fs-pid PID]
    .venv/bin/python bench/real_switch.py --emulator --calls 20 --concurrency 5 --runs 3

The IVR (issue 14): answer, a 100 ms tone, play_and_get_digits (the caller presses 1),
hang up. Three sides: `native` (extension 9914, the dialplan), `lean` (9916,
bench/lean_ivr.py: connect, filter + event, three executes each waited for, hangup; the
floor of a socket client that waits for each application) and `fsapp` (9915, fsapp's Call API under OutboundServer). Calls are `originate loopback/<ext>/<context> &park` over the inbound socket;
the "caller" presses 1 with `uuid_recv_dtmf` when play_and_get_digits starts (its
CHANNEL_EXECUTE). A call counts as completed when its CHANNEL_HANGUP_COMPLETE carries
bench_digit=1. Sides alternate (native lean fsapp, fsapp lean native, ...); each figure
is min/median/max over --runs. FreeSWITCH's CPU per call is utime+stime of its process
(/proc/<pid>/stat; --fs-pid, or `pidof freeswitch`) over the completed calls. Against a
real switch fsapp's outbound server and the lean one run in child processes (this
script with --serve-only / --lean-only), so their CPU per completed call is read the same
way and printed as the worker's CPU.

--emulator runs the same thing against fsapp's emulator (fsapp.sim) in this process: it
checks that the benchmark works, nothing more. Figures against the emulator say NOTHING
about FreeSWITCH's CPU or throughput (the emulator is Python, sharing this process).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402
import gevent.pool  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("FSAPP_LOG_LEVEL", "WARNING")

from fsapp.esl import InboundClient, OutboundServer  # noqa: E402
from fsapp.esl.outbound import parse_listen  # noqa: E402

from lean_ivr import LeanServer  # noqa: E402  (bench/, beside this script)

TONE = "tone_stream://%(100,0,800)"
MENU = "tone_stream://%(100,0,600)"
NATIVE_EXT, FSAPP_EXT, LEAN_EXT, BEFORE_EXT, MYEVENTS_EXT = "9914", "9915", "9916", "9918", "9919"
VAR = "bench_digit"
PAGD = f"1 1 1 3000 # {MENU} silence_stream://250 {VAR} \\d 3000"
NATIVE_APPS = [("answer", ""), ("playback", TONE), ("play_and_get_digits", PAGD), ("hangup", "")]
# bench/switch_probes.py idle: a call that only lasts (5 s of silence), natively on IDLE_EXT
IDLE_EXT = "9917"
IDLE_APPS = [("answer", ""), ("playback", "silence_stream://5000"), ("hangup", "")]


def lean_listen(listen: str, offset: int = 1) -> str:
    """The lean server listens on the port after fsapp's; --compare's worker on the next,
    --lean-myevents's lean server on the one after."""
    host, port = parse_listen(listen)
    return f"{host}:{port + offset}"


def dialplan_snippet(listen: str, context: str) -> str:
    def actions(apps):
        return "\n".join(f'      <action application="{app}"' + (f' data="{arg}"' if arg else "") + "/>"
                         for app, arg in apps)
    sockets = "".join(f"""
  <extension name="fsapp_bench_{name}">
    <condition field="destination_number" expression="^{ext}$">
      <action application="socket" data="{lean_listen(listen, offset)} async full"/>
    </condition>
  </extension>""" for name, ext, offset in (("socket", FSAPP_EXT, 0), ("lean", LEAN_EXT, 1),
                                          ("before", BEFORE_EXT, 2), ("lean_myevents", MYEVENTS_EXT, 3)))
    return f"""<!-- conf/dialplan/{context}/fsapp_bench.xml (then: fs_cli -x reloadxml) -->
<include>
  <extension name="fsapp_bench_native">
    <condition field="destination_number" expression="^{NATIVE_EXT}$">
{actions(NATIVE_APPS)}
    </condition>
  </extension>
  <extension name="fsapp_bench_idle_native">
    <condition field="destination_number" expression="^{IDLE_EXT}$">
{actions(IDLE_APPS)}
    </condition>
  </extension>{sockets}
</include>"""


def fsapp_ivr(call) -> None:
    """The same IVR through fsapp's Call API: the answer and the tone go without waiting
    (the question starts on the switch's side the moment the tone ends), as the flow
    runtime sends a flow's prompts."""
    call.answer(wait=False)
    call.playback(TONE, wait=False)
    call.play_and_get_digits(1, 1, 1, 3000, "#", MENU, "silence_stream://250", regex="\\d", var=VAR)
    call.hangup()


def freeswitch_pid(host: str, given: int | None) -> int | None:
    """The switch's pid to read its CPU from: the one given, else `pidof freeswitch` when
    it runs on this host."""
    if given is not None or host not in ("127.0.0.1", "localhost", "::1"):
        return given
    found = subprocess.run(["pidof", "freeswitch"], capture_output=True, text=True).stdout.split()
    return int(found[0]) if found else None


def cpu_ticks(pid: int | None) -> int | None:
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime + stime (fields 14, 15)


class Driver:
    """Places calls over the inbound socket and presses 1 when the question starts."""

    def __init__(self, client: InboundClient, context: str):
        self.client, self.context = client, context
        self.completed = 0
        self.ended = 0
        self._watch: gevent.event.Event = gevent.event.Event()
        client.on("CHANNEL_EXECUTE", self._on_execute)
        client.on("CHANNEL_HANGUP_COMPLETE", self._on_hangup)
        client.subscribe("CHANNEL_EXECUTE", "CHANNEL_HANGUP_COMPLETE")

    def _on_execute(self, ev) -> None:
        if ev.get("Application") == "play_and_get_digits":
            gevent.spawn(self.client.api, f"uuid_recv_dtmf {ev.get('Unique-ID')} 1")

    def _on_hangup(self, ev) -> None:
        if ev.get("variable_loopback_leg") == "B" or "-b" in (ev.get("Channel-Name") or "")[-2:]:
            self.ended += 1
            if ev.get(f"variable_{VAR}") == "1":
                self.completed += 1
            self._watch.set()

    def batch(self, ext: str, calls: int, concurrency: int, timeout: float) -> tuple[int, float]:
        """Place `calls` (at most `concurrency` originates at once); wait for their ends.
        Returns (completed, seconds)."""
        self.completed = self.ended = 0
        pool = gevent.pool.Pool(concurrency)
        started = time.monotonic()
        failures = []

        def one():
            try:
                self.client.originate(f"loopback/{ext}/{self.context}", "&park", timeout=30)
            except Exception as exc:   # counted, not fatal: the batch reports lost calls
                failures.append(str(exc))
                self._watch.set()
        for _ in range(calls):
            pool.spawn(one)
        deadline = started + timeout
        while self.ended + len(failures) < calls and time.monotonic() < deadline:
            self._watch.clear()
            self._watch.wait(max(0.0, min(1.0, deadline - time.monotonic())))
        pool.join(timeout=5)
        return self.completed, time.monotonic() - started


def wait_listening(address: tuple[str, int], seconds: float = 30.0) -> None:
    """Until the worker child accepts connections (its import takes a moment)."""
    import socket
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(address, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"the fsapp worker did not listen on {address[0]}:{address[1]} "
                                 f"within {seconds:.0f} s")
            time.sleep(0.1)


def measure_sides(sides, batch, pid: int | None, workers: dict, runs: int, calls: int) -> dict:
    """Run every side's batch once per run, in alternating order (a b c, c b a, ...):
    `batch(side)` -> (completed, seconds). Per side, lists over the runs: "cpu"
    (FreeSWITCH's ms per completed call, when its pid is known), "worker" (the side's
    worker process, likewise), "lost" and "rate" (completed calls per second)."""
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    out = {key: {side: [] for side in sides} for key in ("cpu", "worker", "lost", "rate")}
    for run in range(runs):
        for side in (sides if run % 2 == 0 else sides[::-1]):
            worker = workers.get(side)
            before, worker_before = cpu_ticks(pid), cpu_ticks(worker.pid if worker else None)
            done, seconds = batch(side)
            after = cpu_ticks(pid)
            note = ""
            if before is not None and done:
                out["cpu"][side].append((after - before) * tick_ms / done)
                note += f", FreeSWITCH CPU {out['cpu'][side][-1]:.2f} ms/call"
            if worker is not None and done:
                out["worker"][side].append((cpu_ticks(worker.pid) - worker_before) * tick_ms / done)
                note += f", worker CPU {out['worker'][side][-1]:.2f} ms/call"
            out["rate"][side].append(done / seconds if seconds else 0.0)
            out["lost"][side].append(calls - done)
            print(f"run {run + 1} {side:6}: {done}/{calls} completed in {seconds:.2f} s{note}", flush=True)
    return out


def stop_all(client, server, workers: dict, switch) -> None:
    """After the runs: the inbound client, an in-process outbound server, the worker
    children, an emulator (the ones that exist)."""
    client.stop()
    if server is not None:
        server.stop(timeout=2)
    for worker in workers.values():
        worker.terminate()
        worker.wait(10)
    if switch is not None:
        switch.stop()


def spread(values: list[float]) -> str:
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f}"


def switch_arguments(p: argparse.ArgumentParser, *, listen: str, calls: int, concurrency: int,
                     timeout: float) -> None:
    """The options every real-switch benchmark takes: where the switch and the worker are,
    how many calls, how many runs."""
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8021)
    p.add_argument("--password", default="ClueCon")
    p.add_argument("--context", default="default")
    p.add_argument("--listen", default=listen, help="fsapp's outbound server (reachable by the switch)")
    p.add_argument("--calls", type=int, default=calls)
    p.add_argument("--concurrency", type=int, default=concurrency)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--timeout", type=float, default=timeout, help="seconds one batch may take")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    switch_arguments(p, listen="127.0.0.1:8094", calls=200, concurrency=50, timeout=120.0)
    p.add_argument("--fs-pid", type=int, help="FreeSWITCH's pid (default: pidof freeswitch, if local)")
    p.add_argument("--print-dialplan", action="store_true")
    p.add_argument("--emulator", action="store_true", help="run against fsapp.sim (checks the bench only)")
    p.add_argument("--compare", metavar="CHECKOUT",
                   help="a fourth side, `before`: fsapp of another checkout (its bench/real_switch.py "
                        "--serve-only, on the port after the lean one, extension 9918)")
    p.add_argument("--serve-only", action="store_true", help=argparse.SUPPRESS)   # the worker child
    p.add_argument("--lean-myevents", action="store_true",
                   help="a side `myevents`: the lean client subscribed with myevents instead of "
                        "filter + event (port after --compare's, extension 9919)")
    p.add_argument("--lean-only", metavar="SUBSCRIBE", help=argparse.SUPPRESS)    # a lean child
    args = p.parse_args()
    if args.serve_only:
        OutboundServer(fsapp_ivr, parse_listen(args.listen), linger=5, app_timeout=30).serve_forever()
        return 0
    if args.lean_only:
        offset = 1 if args.lean_only == "filter" else 3
        LeanServer(parse_listen(lean_listen(args.listen, offset)), NATIVE_APPS, args.lean_only).serve_forever()
        return 0
    if args.print_dialplan:
        print(dialplan_snippet(args.listen, args.context))
        return 0
    if args.runs < 3:
        p.error("--runs must be >= 3 (min/median/max)")
    if args.compare and args.emulator:
        p.error("--compare needs a real switch")
    sides = ("native", "lean", "fsapp") + (("before",) if args.compare else ()) + \
        (("myevents",) if args.lean_myevents else ())
    if args.lean_myevents and args.emulator:
        p.error("--lean-myevents needs a real switch")

    switch = server = lean = None
    workers: dict[str, subprocess.Popen] = {}
    pid = args.fs_pid
    if args.emulator:
        # ports the system picks: two runs at once (two test suites on one machine) must not clash
        server = OutboundServer(fsapp_ivr, ("127.0.0.1", 0), linger=5, app_timeout=30).start()
        lean = LeanServer(("127.0.0.1", 0), NATIVE_APPS).start()
        from fsapp.sim import Apps, Socket, Switch
        switch = Switch(password=args.password, esl=("127.0.0.1", 0)).start()
        switch.dialplan.add(rf"^{NATIVE_EXT}$", Apps(steps=list(NATIVE_APPS)))
        switch.dialplan.add(rf"^{FSAPP_EXT}$", Socket(f"127.0.0.1:{server.port} async full"))
        switch.dialplan.add(rf"^{LEAN_EXT}$", Socket(f"127.0.0.1:{lean.port} async full"))
        args.host, args.port, pid = "127.0.0.1", switch.esl_port, None
        print("AGAINST THE EMULATOR (fsapp.sim): checks that this benchmark works; the figures say "
              "nothing about FreeSWITCH's CPU or throughput.")
    else:
        pid = freeswitch_pid(args.host, pid)
        workers["fsapp"] = subprocess.Popen([sys.executable, __file__, "--serve-only", "--listen", args.listen])
        workers["lean"] = subprocess.Popen([sys.executable, __file__, "--lean-only", "filter", "--listen", args.listen])
        wait_listening(parse_listen(args.listen))
        wait_listening(parse_listen(lean_listen(args.listen)))
        if args.compare:
            other = Path(args.compare).resolve()
            workers["before"] = subprocess.Popen([sys.executable, str(other / "bench" / "real_switch.py"),
                                                  "--serve-only", "--listen", lean_listen(args.listen, 2)],
                                                 cwd=other, env={**os.environ, "PYTHONPATH": str(other)})
            wait_listening(parse_listen(lean_listen(args.listen, 2)))
        if args.lean_myevents:
            workers["myevents"] = subprocess.Popen([sys.executable, __file__, "--lean-only", "myevents",
                                                    "--listen", args.listen])
            wait_listening(parse_listen(lean_listen(args.listen, 3)))
    client = InboundClient(args.host, args.port, args.password).start()
    driver = Driver(client, args.context)
    extension = {"native": NATIVE_EXT, "lean": LEAN_EXT, "fsapp": FSAPP_EXT, "before": BEFORE_EXT,
                 "myevents": MYEVENTS_EXT}
    try:
        figures = measure_sides(sides, lambda side: driver.batch(extension[side], args.calls, args.concurrency,
                                                                 args.timeout),
                                pid, workers, args.runs, args.calls)
    finally:
        if lean is not None:
            lean.stop()
        stop_all(client, server, workers, switch)
    rates, cpu, worker_cpu, lost = figures["rate"], figures["cpu"], figures["worker"], figures["lost"]
    print(f"\n{args.calls} calls per batch, {args.concurrency} originates at once, {args.runs} runs "
          f"({'emulator' if args.emulator else f'FreeSWITCH at {args.host}:{args.port}'}); min / median / max")
    for side in sides:
        line = f"{side:6} calls/s {spread(rates[side])}   lost {min(lost[side])}/{max(lost[side])}"
        if cpu[side]:
            line += f"   FreeSWITCH CPU ms/call {spread(cpu[side])}"
        print(line)
    pairs = [("fsapp", "native"), ("lean", "native"), ("fsapp", "lean")] + \
        ([("before", "native"), ("fsapp", "before")] if args.compare else []) + \
        ([("lean", "myevents")] if args.lean_myevents else [])
    for num, den in pairs:
        ratios = [a / b for a, b in zip(rates[num], rates[den]) if b]
        if ratios:
            print(f"calls/s, {num} / {den}: {spread(ratios)}")
    for num, den in pairs:
        if cpu[num] and cpu[den]:
            print(f"FreeSWITCH CPU per call, {num} / {den}: "
                  f"{spread([a / b for a, b in zip(cpu[num], cpu[den]) if b])}")
    if not cpu["native"] and not args.emulator:
        print("FreeSWITCH CPU per call: not measured (not on this host; pass --fs-pid when it is)")
    for side, values in worker_cpu.items():
        if values:
            print(f"{side} worker CPU ms/call: {spread(values)}"
                  + (f"   (worker / FreeSWITCH: {spread([w / f for w, f in zip(values, cpu[side]) if f])})"
                     if cpu[side] else ""))
    return 0 if all(x == 0 for side in lost.values() for x in side) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Load of the outbound runtime: one worker process answers N concurrent calls placed
by the emulator (fsapp.sim, in a child process so it does not share this CPU budget),
first with fsapp's OutboundServer/Call, then with a bare greenswitch OutboundSession
handler doing the same commands, in the same run.

    .venv/bin/python bench/runtime_load.py --calls 1000

Each call: answer, set, playback (100 ms tone), play_and_get_digits (the caller presses
1#), [sleep --hold-ms, to keep N calls up at once], hangup. Both sides wait for every
application's completion (greenswitch's answer() and playback() alone would not) with the
same --timeout; greenswitch's send() itself has no deadline (it cannot be given one).
Sides alternate, --repeat runs each. Printed per run: completed and lost calls (the
emulator's view), calls/s (N over the time from the first call placed to the last one
ended), the worker's CPU per completed call (this process; the emulator runs in a child),
p50/p99 round-trip of answer and set, RSS per concurrent call; then min/median/max.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from fair import ratios, spread  # noqa: E402

TONE = "tone_stream://%(100,0,800)"
MENU = "tone_stream://%(100,0,600)"
BAD = "tone_stream://%(100,0,300)"


def rss_kb() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# -- the emulator side (child process) ------------------------------------------------------
def sim_child(port: int, calls: int, timeout: float) -> None:
    from fsapp.sim import CallerScript, Press, Socket, Switch, WaitPrompt
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    sw.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{port} async full"))
    start = time.monotonic()
    callers = [sw.place_call(CallerScript(dial="7000", caller_id=f"1380013{i:04d}",
                                          steps=[WaitPrompt("600"), Press("1#")]))
               for i in range(calls)]
    reports = [c.wait(timeout) for c in callers]
    end = time.monotonic()
    print(json.dumps({
        "seconds": end - start,
        "completed": sum(1 for r in reports if r.hangup_cause == "NORMAL_CLEARING" and r.answered),
        "causes": sorted({str(r.hangup_cause) for r in reports}),
    }))
    sys.stdout.flush()
    sw.stop()


def place_calls(port: int, calls: int, timeout: float) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--sim-child", str(port), "--calls", str(calls),
                           "--timeout", str(timeout)], capture_output=True, text=True, timeout=timeout + 60)
    if proc.returncode != 0:
        raise SystemExit(f"emulator child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Probe:
    """Peak concurrency and the RSS at that moment, sampled every 20 ms."""

    def __init__(self, active):
        self.active = active
        self.base = rss_kb()
        self.peak_active = 0
        self.peak_rss = self.base
        self._g = gevent.spawn(self._run)

    def _run(self):
        while True:
            n = self.active()
            if n >= self.peak_active:
                self.peak_active, self.peak_rss = n, rss_kb()
            gevent.sleep(0.02)

    def stop(self):
        self._g.kill()

    @property
    def kb_per_call(self):
        return (self.peak_rss - self.base) / self.peak_active if self.peak_active else float("nan")


# -- fsapp --------------------------------------------------------------------------------------
def run_fsapp(calls: int, timeout: float, hold_ms: int) -> dict:
    from fsapp.esl import OutboundServer
    rtt, digits = [], []

    def handler(call):
        t = time.perf_counter()
        call.answer()
        rtt.append(time.perf_counter() - t)
        t = time.perf_counter()
        call.set("bench", "1")
        rtt.append(time.perf_counter() - t)
        call.playback(TONE)
        digits.append(call.play_and_get_digits(1, 1, 1, 3000, "#", MENU, BAD))
        if hold_ms:
            call.sleep(hold_ms)
        call.hangup()

    port = free_port()
    srv = OutboundServer(handler, ("127.0.0.1", port), max_calls=calls + 10, app_timeout=timeout,
                         command_timeout=timeout).start()
    probe = Probe(lambda: srv.active_calls)
    cpu = time.process_time()
    result = gevent.spawn(place_calls, port, calls, timeout).get()
    cpu = time.process_time() - cpu
    probe.stop()
    srv.stop(timeout=5)
    return {"rtt": rtt, "ok": digits.count("1"), "sim": result, "probe": probe, "cpu": cpu}


# -- bare greenswitch -----------------------------------------------------------------------------
def run_greenswitch(calls: int, timeout: float, hold_ms: int) -> dict:
    import logging

    from greenswitch.esl import OutboundESLServer
    logging.getLogger().setLevel(logging.ERROR)  # greenswitch logs each call at INFO
    rtt, digits = [], []

    class App:
        def __init__(self, session):
            self.session = session

        def run(self):
            s = self.session
            s.myevents()
            s.linger(30)                      # as fsapp's [serve] linger
            t = time.perf_counter()
            # fsapp's answer waits for the application's completion: so does this one
            s.call_command("answer", block=True, response_timeout=timeout)
            rtt.append(time.perf_counter() - t)
            t = time.perf_counter()
            s.call_command("set", "bench=1", block=True, response_timeout=timeout)
            rtt.append(time.perf_counter() - t)
            s.call_command("playback", TONE, block=True, response_timeout=timeout)
            digits.append(s.play_and_get_digits(1, 1, 1, 3000, "#", MENU, BAD, "gs_digits", "\\d+", 3000, "",
                                                response_timeout=timeout))
            if hold_ms:
                s.call_command("sleep", str(hold_ms), block=True, response_timeout=timeout)
            s.hangup()

    # greenswitch lets session greenlets die with NotConnectedError under load; count them
    # instead of printing a traceback each.
    hub = gevent.get_hub()
    failures = []
    original_print = hub.print_exception
    hub.print_exception = lambda context, kind, value, tb: failures.append(kind.__name__)
    port = free_port()
    server = OutboundESLServer("127.0.0.1", port, application=App, max_connections=calls + 10)
    listener = gevent.spawn(server.listen)
    gevent.sleep(0.2)
    probe = Probe(lambda: server.connection_count)
    cpu = time.process_time()
    result = gevent.spawn(place_calls, port, calls, timeout).get()
    cpu = time.process_time() - cpu
    probe.stop()
    server.stop()
    listener.join(timeout=5)
    listener.kill()
    hub.print_exception = original_print
    return {"rtt": rtt, "ok": digits.count("1"), "sim": result, "probe": probe, "cpu": cpu,
            "failed": f" failed_sessions={len(failures)}" if failures else ""}


def report(name: str, calls: int, r: dict) -> None:
    rate = calls / r["sim"]["seconds"]
    done = r["sim"]["completed"]
    print(f"  {name:12} completed={done} lost={calls - done} digits_ok={r['ok']} calls/s={rate:8.1f} "
          f"worker CPU/call={r['cpu'] * 1000 / max(1, done):6.2f} ms rtt p50={percentile(r['rtt'], 50) * 1000:6.2f} ms "
          f"p99={percentile(r['rtt'], 99) * 1000:7.2f} ms peak_concurrent={r['probe'].peak_active} "
          f"rss/call={r['probe'].kb_per_call:6.1f} KiB{r.get('failed', '')}")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="every command and application deadline, both sides")
    parser.add_argument("--repeat", type=int, default=3, help="runs per side (>= 3), alternating order")
    parser.add_argument("--hold-ms", type=int, default=0, help="sleep this long in each call before hangup")
    parser.add_argument("--sim-child", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sim_child:
        sim_child(args.sim_child, args.calls, args.timeout)
        return 0
    if args.repeat < 3:
        parser.error("--repeat must be >= 3")
    os.environ.setdefault("FSAPP_LOG_LEVEL", "WARNING")
    sides = {"fsapp": run_fsapp, "greenswitch": run_greenswitch}
    results: dict[str, list[dict]] = {n: [] for n in sides}
    for rep in range(args.repeat):
        order = list(sides) if rep % 2 == 0 else list(sides)[::-1]
        print(f"run {rep + 1}: {' then '.join(order)}")
        for name in order:
            r = sides[name](args.calls, args.timeout, args.hold_ms)
            results[name].append(r)
            report(name, args.calls, r)
    print(f"\n{args.calls} calls per run, {args.repeat} runs; min / median / max")
    rates = {}
    for name, rs in results.items():
        rates[name] = [args.calls / r["sim"]["seconds"] for r in rs]
        lost = [args.calls - r["sim"]["completed"] for r in rs]
        cpu = [r["cpu"] * 1000 / max(1, r["sim"]["completed"]) for r in rs]
        print(f"{'[' + name + ']':13} calls/s {spread(rates[name], fmt='{:.1f}')}  worker CPU ms/call {spread(cpu)}  "
              f"lost {spread(lost, fmt='{:.0f}')}")
    print(f"ratio of calls/s, fsapp / greenswitch (per run): {spread(ratios(rates['fsapp'], rates['greenswitch']))}x "
          "(calls/s counts completed and lost calls alike: read it with 'lost')")
    return 0


if __name__ == "__main__":
    sys.exit(main())

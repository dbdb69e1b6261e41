#!/usr/bin/env python
"""Worker CPU per call of the hotline's status lookup (ivr_flows/hotline_12345.yaml on
SQLite) with many calls at once: the flow runtime under `fsapp serve`'s OutboundServer in
this process, the emulator placing the calls from a child process (so its CPU is not
counted).

    .venv/bin/python bench/hotline_load.py [--calls 200] [--repeat 3] [--scale 20]

Each call: greeting, language offer (no key), main menu 3, a closed ticket's 8-digit
serial, the status read out (SQL lookup), the after-status menu, hang up (the path of
bench/call_cost.py). The flow's trace goes where `fsapp serve` sends it (the node counter,
the log, and with `[flows] node_visits = true`, the default, one node_visit row per node
through the store; --no-visits leaves those rows out). Printed per run: completed and lost calls, this process's CPU per
completed call (time.process_time: the worker's own CPU, including the store's threads);
then min / median / max and the rows the calls left (written, or spooled to the
outbox). Emulated time runs --scale times faster than wall time.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("FSAPP_LOG_LEVEL", "WARNING")

import gevent  # noqa: E402

from fair import spread  # noqa: E402


def sim_child(port: int, calls: int, serial: str, scale: float, timeout: float) -> None:
    from fsapp.sim import CallerScript, Hangup, Press, RealClock, Socket, Switch, WaitPrompt
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0), clock=RealClock(scale=scale)).start()
    sw.dialplan.add(r"^12345$", Socket(f"127.0.0.1:{port} async full"))
    steps = [WaitPrompt("hotline/language_offer"),
             WaitPrompt("hotline/main_menu", after="start"), Press("3"),
             WaitPrompt("hotline/status/enter_serial", after="start"), Press(serial),
             WaitPrompt("hotline/status/after_menu", after="start"), Hangup()]
    start = time.monotonic()
    callers = [sw.place_call(CallerScript(dial="12345", caller_id=f"1380013{i:04d}", steps=list(steps)))
               for i in range(calls)]
    reports = [c.wait(timeout) for c in callers]
    print(json.dumps({"seconds": time.monotonic() - start,
                      "completed": sum(1 for r in reports if r.answered and not r.error
                                       and any("after_menu" in h for h in r.heard))}))
    sys.stdout.flush()
    sw.stop()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--scale", type=float, default=20.0)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--no-visits", action="store_true", help="as [flows] node_visits = false")
    p.add_argument("--sim-child", nargs=2, metavar=("PORT", "SERIAL"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.sim_child:
        sim_child(int(args.sim_child[0]), args.calls, args.sim_child[1], args.scale, args.timeout)
        return 0
    if args.repeat < 3:
        p.error("--repeat must be >= 3")
    from call_cost import hotline_store, subprocess_sounds

    from fsapp.calendar import load_calendars
    from fsapp.esl.outbound import OutboundServer
    from fsapp.flow.compiler import Environment
    from fsapp.flow.interpreter import Services
    from fsapp.flow.runtime import FlowHandler
    from fsapp.flow.trace import fan_out, log_tracer, record_node_visits
    from fsapp.say import render
    from fsapp.sounds import Catalog

    subprocess_sounds()
    cpu_per_call, lost = [], []
    with tempfile.TemporaryDirectory() as tmpdir:
        store, serial = hotline_store(Path(tmpdir))
        services = Services(catalog=Catalog.load(ROOT / "sounds" / "catalog.yaml"), say=render, store=store,
                            calendars=load_calendars(ROOT / "calendars.yaml"), recordings=Path(tmpdir) / "rec",
                            clock=lambda: dt.datetime(2026, 11, 30, 10, 0))
        handler = FlowHandler(str(ROOT / "ivr_flows"), services=services, env=Environment(tts=True))
        # the tracers fsapp.app.services_from_config gives `fsapp serve`
        services.tracer = fan_out(handler.counter, log_tracer)
        if not args.no_visits:
            record_node_visits(services)
        srv = OutboundServer(handler, ("127.0.0.1", 0), linger=5, max_calls=args.calls + 10,
                             command_timeout=60, app_timeout=120).start()
        try:
            for run in range(args.repeat):
                cpu = time.process_time()
                proc = gevent.spawn(subprocess.run, [sys.executable, __file__, "--sim-child", str(srv.port), serial,
                                                     "--calls", str(args.calls), "--scale", str(args.scale),
                                                     "--timeout", str(args.timeout)],
                                    capture_output=True, text=True, timeout=args.timeout + 60).get()
                with gevent.Timeout(30, False):       # the last sessions' on_hangup work
                    while srv.active_calls:
                        gevent.sleep(0.05)
                cpu = time.process_time() - cpu
                if proc.returncode != 0:
                    raise SystemExit(f"emulator child failed:\n{proc.stderr[-3000:]}")
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                cpu_per_call.append(cpu * 1000 / max(1, r["completed"]))
                lost.append(args.calls - r["completed"])
                print(f"run {run + 1}: {r['completed']}/{args.calls} completed in {r['seconds']:.1f} s, "
                      f"worker CPU {cpu_per_call[-1]:.2f} ms per completed call")
                sys.stdout.flush()
            # what the calls left in the database (rows written or still spooled, none lost)
            stored = {t: store.execute(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]
                      for t in ("fsapp_call_records", "fsapp_node_visits")}
            print(f"rows stored: {stored['fsapp_call_records']} call records, {stored['fsapp_node_visits']} "
                  f"node visits; spooled {store.outbox_status()['pending']}")
        finally:
            srv.stop(timeout=5)
            store.close()
    print(f"hotline status lookup, {args.calls} calls at once, {args.repeat} runs: worker CPU ms/call "
          f"{spread(cpu_per_call)} (min / median / max), lost {spread(lost, fmt='{:.0f}')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

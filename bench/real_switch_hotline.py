#!/usr/bin/env python
"""The hotline's status lookup on a real FreeSWITCH: as dialplan (`native`: the very
applications fsapp's flow runtime sends on this path, in the same order, with the same
arguments) and through fsapp (`fsapp`: ivr_flows/hotline_12345.yaml under OutboundServer
on SQLite, as `fsapp serve` runs it), alternating; FreeSWITCH's CPU per call and the
worker's.

    .venv/bin/python bench/real_switch_hotline.py --print-dialplan --listen 127.0.0.1:8096   # install, reloadxml
    .venv/bin/python bench/real_switch_hotline.py --listen 127.0.0.1:8096 --calls 60 --concurrency 20 \\
        --runs 3 [--compare CHECKOUT]
    .venv/bin/python bench/real_switch_hotline.py --emulator --calls 4 --concurrency 2 --runs 3

The path (bench/call_cost.py's, with a key instead of the language offer's timeout):
greeting; language offer, the caller presses 1; main menu, 3; the 8-digit serial of a
closed ticket; the status, handling unit and result read out (fsapp: an SQL lookup); the
after-status menu starts and the caller hangs up. The native side's applications are
recorded first by running the flow once on fsapp's emulator (`--print-dialplan` prints
them as extension 9924), so both sides make FreeSWITCH do the same work; what differs is
only who drives the call. The caller's keys go with `uuid_recv_dtmf` when each
play_and_get_digits starts (its CHANNEL_EXECUTE); a call counts as completed when it
reached the after-status menu. `--compare CHECKOUT` adds a side `before`: the same
worker code running CHECKOUT's fsapp (extension 9926, the port after --listen's).
Calls end in real time (the prompts are real WAVs), so a call takes seconds: use fewer
calls than bench/real_switch.py. FreeSWITCH's CPU per call is utime+stime of its process
over the completed calls; the worker runs in a child process measured the same way.

--emulator runs the same thing against fsapp.sim in this process: it checks that the
benchmark works and says nothing about FreeSWITCH's CPU.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from xml.sax.saxutils import quoteattr  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.lock  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# --compare's worker child runs another checkout's fsapp on this checkout's flows and sounds
sys.path.insert(0, os.environ.get("FSAPP_BENCH_CODE") or str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("FSAPP_LOG_LEVEL", "WARNING")

from fsapp.esl import InboundClient, OutboundServer  # noqa: E402
from fsapp.esl.outbound import parse_listen  # noqa: E402

from real_switch import (freeswitch_pid, measure_sides, spread, stop_all, switch_arguments,  # noqa: E402
                         wait_listening)  # (bench/, beside this script)

NATIVE_EXT, FSAPP_EXT, BEFORE_EXT = "9924", "9925", "9926"
SERIAL = "26113001"   # the closed ticket the caller asks about (8 digits, Luhn; seeded on every side)
# the flow's calendars and clock: business hours, so both sides take the staffed path
CLOCK = dt.datetime(2026, 11, 30, 10, 0)
# play_and_get_digits prompts -> what the caller keys (None: hang up, the path's end)
KEYS = (("language_offer", "1"), ("main_menu", "3"), ("enter_serial", SERIAL), ("after_menu", None))


def hotline_handler(tmp: Path):
    """The flow runtime on ivr_flows/ with a SQLite store holding the closed ticket."""
    from fsapp.calendar import load_calendars
    from fsapp.flow.compiler import Environment
    from fsapp.flow.interpreter import Services
    from fsapp.flow.runtime import FlowHandler
    from fsapp.say import render
    from fsapp.sounds import Catalog
    from fsapp.store import Store

    odbc = f"Driver={{SQLite3}};Database={tmp / 'fsapp.db'}"
    store = Store({"main": odbc, "billing": odbc}, queries_dir=ROOT / "queries", spool_dir=tmp / "spool",
                  query_timeout=10.0, connect_timeout=5.0)
    store.migrate()
    store.execute_script((ROOT / "ivr_flows" / "sql" / "notices.sqlite.sql").read_text(encoding="utf-8"))
    store.write("ticket", {"serial": SERIAL, "kind": "complaint", "category": "water", "status": "closed",
                           "handling_unit": "water_bureau", "result": "resolved"}, key=f"seed:{SERIAL}")
    services = Services(catalog=Catalog.load(ROOT / "sounds" / "catalog.yaml"), say=render, store=store,
                        calendars=load_calendars(ROOT / "calendars.yaml"), recordings=tmp / "recordings",
                        clock=lambda: CLOCK)
    handler = FlowHandler(str(ROOT / "ivr_flows"), services=services, env=Environment())

    def hotline(call):
        call.destination = "12345"   # the flow's number; the benchmark's extensions are its own
        return handler(call)
    return hotline


def keys_for(data: str) -> tuple[bool, str | None]:
    """(is a step of the path, the keys to press or None to hang up) for a question's data."""
    for prompt, keys in KEYS:
        if prompt in data:
            return True, keys
    return False, None


def record_applications() -> list[tuple[str, str]]:
    """Run the path once on the emulator; the applications fsapp sent, in order."""
    from fsapp.sim import CallerScript, Hangup, Press, RealClock, Socket, Switch, WaitPrompt
    from fsapp.sim import wire as sim_wire

    subprocess.run([str(Path(sys.executable).parent / "fsapp"), "sounds", "build", "--quiet"], cwd=ROOT,
                   check=True, timeout=600, stdout=sys.stderr)   # the emulator times prompts from the WAV headers
    with tempfile.TemporaryDirectory() as tmpdir:
        server = OutboundServer(hotline_handler(Path(tmpdir)), ("127.0.0.1", 0), linger=5).start()
        switch = Switch(esl=("127.0.0.1", 0), clock=RealClock(scale=20.0)).start()
        try:
            switch.dialplan.add(r"^12345$", Socket(f"127.0.0.1:{server.port} async full"))
            wire_log = switch.record_wire()
            steps = []
            for prompt, keys in KEYS:
                steps += [WaitPrompt(f"hotline/{'status/' if prompt in ('enter_serial', 'after_menu') else ''}"
                                     f"{prompt}", after="start"), Press(keys) if keys else Hangup()]
            report = switch.place_call(CallerScript(dial="12345", steps=steps)).wait(120)
            if report.error:
                raise SystemExit(f"the hotline path did not run on the emulator: {report.error}")
            with gevent.Timeout(30):
                while server.active_calls:
                    gevent.sleep(0.05)
        finally:
            server.stop(timeout=2)
            switch.stop()
    apps = []
    for first, headers, body in sim_wire.CommandFramer().feed(b"".join(wire_log)):
        h = {k.lower(): v for k, v in headers}
        if first.startswith("sendmsg") and h.get("call-command") == "execute":
            apps.append((h["execute-app-name"], h.get("execute-app-arg") or body))
    return apps + [("hangup", "")]


def dialplan_snippet(apps: list[tuple[str, str]], listen: str, context: str) -> str:
    host, port = parse_listen(listen)
    actions = "\n".join(f'      <action application="{app}"' + (f" data={quoteattr(arg)}" if arg else "") + "/>"
                        for app, arg in apps)
    sockets = "".join(f"""
  <extension name="fsapp_hotline_{name}">
    <condition field="destination_number" expression="^{ext}$">
      <action application="socket" data="{host}:{port + offset} async full"/>
    </condition>
  </extension>""" for name, ext, offset in (("fsapp", FSAPP_EXT, 0), ("before", BEFORE_EXT, 1)))
    return f"""<!-- conf/dialplan/{context}/fsapp_hotline.xml (then: fs_cli -x reloadxml); the
     applications fsapp's flow runtime sends on the hotline's status lookup, recorded on
     fsapp's emulator from this checkout ({ROOT}) -->
<include>
  <extension name="fsapp_hotline_native">
    <condition field="destination_number" expression="^{NATIVE_EXT}$">
{actions}
    </condition>
  </extension>{sockets}
</include>"""


class Caller:
    """Places calls over the inbound socket; keys each question of the path when it starts."""

    def __init__(self, client: InboundClient, context: str):
        self.client, self.context = client, context
        self.completed = self.ended = 0
        self._reached: set[str] = set()
        self._watch = gevent.event.Event()
        self._slots: gevent.lock.Semaphore | None = None   # one per call in progress
        client.on("CHANNEL_EXECUTE", self._on_execute)
        client.on("CHANNEL_HANGUP_COMPLETE", self._on_hangup)
        client.subscribe("CHANNEL_EXECUTE", "CHANNEL_HANGUP_COMPLETE")

    def _on_execute(self, ev) -> None:
        if ev.get("Application") != "play_and_get_digits":
            return
        step, keys = keys_for(ev.get("Application-Data") or "")
        uuid = ev.get("Unique-ID")
        if not step:
            return
        if keys is None:
            self._reached.add(uuid)
            gevent.spawn(self.client.api, f"uuid_kill {uuid}")
        else:
            gevent.spawn(self.client.api, f"uuid_recv_dtmf {uuid} {keys}")

    def _on_hangup(self, ev) -> None:
        if ev.get("variable_loopback_leg") == "B" or "-b" in (ev.get("Channel-Name") or "")[-2:]:
            self.ended += 1
            if ev.get("Unique-ID") in self._reached:
                self._reached.discard(ev.get("Unique-ID"))
                self.completed += 1
            if self._slots is not None:
                self._slots.release()
            self._watch.set()

    def batch(self, ext: str, calls: int, concurrency: int, timeout: float) -> tuple[int, float]:
        """Place `calls`, at most `concurrency` in progress at once; (completed, seconds)."""
        self.completed = self.ended = 0
        self._slots = gevent.lock.Semaphore(concurrency)   # a call's end (its B leg) releases one
        started = time.monotonic()
        deadline = started + timeout
        failures = []

        def place():
            for _ in range(calls):
                if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                    return
                try:
                    self.client.originate(f"loopback/{ext}/{self.context}", "&park", timeout=30)
                except Exception as exc:   # counted, not fatal: the batch reports lost calls
                    failures.append(str(exc))
                    self._slots.release()
                    self._watch.set()
        placing = gevent.spawn(place)
        while self.ended + len(failures) < calls and time.monotonic() < deadline:
            self._watch.clear()
            self._watch.wait(max(0.0, min(1.0, deadline - time.monotonic())))
        placing.kill(timeout=5)
        self._slots = None
        return self.completed, time.monotonic() - started


def serve_only(listen: str) -> None:
    """The worker child: the flow runtime on the hotline, until terminated."""
    with tempfile.TemporaryDirectory() as tmpdir:
        OutboundServer(hotline_handler(Path(tmpdir)), parse_listen(listen), linger=5).serve_forever()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    switch_arguments(p, listen="127.0.0.1:8096", calls=60, concurrency=20, timeout=600.0)   # calls in progress
    p.add_argument("--fs-pid", type=int, help="FreeSWITCH's pid (default: pidof freeswitch, if local)")
    p.add_argument("--print-dialplan", action="store_true")
    p.add_argument("--emulator", action="store_true", help="run against fsapp.sim (checks the bench only)")
    p.add_argument("--compare", metavar="CHECKOUT", help="another checkout's fsapp as a side `before`")
    p.add_argument("--serve-only", action="store_true", help=argparse.SUPPRESS)   # the worker child
    args = p.parse_args()
    if args.serve_only:
        serve_only(args.listen)
        return 0
    if args.print_dialplan:
        print(dialplan_snippet(record_applications(), args.listen, args.context))
        return 0
    if args.runs < 3:
        p.error("--runs must be >= 3 (min/median/max)")
    if args.compare and args.emulator:
        p.error("--compare needs a real switch")
    sides = ("native", "fsapp") + (("before",) if args.compare else ())
    switch = server = None
    tmp = tempfile.TemporaryDirectory()
    workers: dict[str, subprocess.Popen] = {}
    pid = args.fs_pid
    if args.emulator:
        from fsapp.sim import Apps, RealClock, Socket, Switch
        apps = record_applications()
        server = OutboundServer(hotline_handler(Path(tmp.name)), ("127.0.0.1", 0), linger=5).start()
        switch = Switch(password=args.password, esl=("127.0.0.1", 0), clock=RealClock(scale=20.0)).start()
        switch.dialplan.add(rf"^{NATIVE_EXT}$", Apps(steps=apps))
        switch.dialplan.add(rf"^{FSAPP_EXT}$", Socket(f"127.0.0.1:{server.port} async full"))
        args.host, args.port, pid = "127.0.0.1", switch.esl_port, None
        print("AGAINST THE EMULATOR (fsapp.sim): checks that this benchmark works; the figures say "
              "nothing about FreeSWITCH's CPU.")
    else:
        pid = freeswitch_pid(args.host, pid)
        workers["fsapp"] = subprocess.Popen([sys.executable, __file__, "--serve-only", "--listen", args.listen])
        wait_listening(parse_listen(args.listen))
        if args.compare:
            host, port = parse_listen(args.listen)
            other = Path(args.compare).resolve()
            workers["before"] = subprocess.Popen([sys.executable, __file__, "--serve-only", "--listen",
                                                  f"{host}:{port + 1}"],
                                                 env={**os.environ, "FSAPP_BENCH_CODE": str(other)})
            wait_listening((host, port + 1))
    client = InboundClient(args.host, args.port, args.password).start()
    caller = Caller(client, args.context)
    extension = {"native": NATIVE_EXT, "fsapp": FSAPP_EXT, "before": BEFORE_EXT}
    try:
        figures = measure_sides(sides, lambda side: caller.batch(extension[side], args.calls, args.concurrency,
                                                                 args.timeout),
                                pid, workers, args.runs, args.calls)
    finally:
        stop_all(client, server, workers, switch)
        tmp.cleanup()
    cpu, worker_cpu, lost = figures["cpu"], figures["worker"], figures["lost"]
    print(f"\nhotline status lookup, {args.calls} calls per batch, {args.concurrency} in progress at once, "
          f"{args.runs} runs ({'emulator' if args.emulator else f'FreeSWITCH at {args.host}:{args.port}'}); "
          f"min / median / max")
    for side in sides:
        print(f"{side:6} lost {min(lost[side])}/{max(lost[side])}"
              + (f"   FreeSWITCH CPU ms/call {spread(cpu[side])}" if cpu[side] else ""))
    for num, den in [("fsapp", "native")] + ([("before", "native"), ("fsapp", "before")] if args.compare else []):
        if cpu[num] and cpu[den]:
            print(f"FreeSWITCH CPU per call, {num} / {den}: {spread([a / b for a, b in zip(cpu[num], cpu[den]) if b])}")
    for side, values in worker_cpu.items():
        if values:
            print(f"{side} worker CPU ms/call: {spread(values)}")
    return 0 if all(x == 0 for side in lost.values() for x in side) else 1


if __name__ == "__main__":
    sys.exit(main())

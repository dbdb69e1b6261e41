#!/usr/bin/env python
"""ESL commands fsapp sends and events it receives per call, counted on the emulator's
side of the socket (fsapp.sim: `Switch.record_wire()` for what fsapp writes, the
outbound session's writes for what it gets), for two reference paths:

  simple   the IVR of issue 14 as a YAML flow under OutboundServer + FlowHandler (what
           `fsapp serve` runs): answer, a 100 ms tone, play_and_get_digits (the caller
           presses 1), hang up
  hotline  ivr_flows/hotline_12345.yaml's status lookup on SQLite: greeting, language
           offer, main menu 3, an 8-digit serial of a closed ticket (SQL lookup, the status
           read out), the after-status menu, hang up

    .venv/bin/python bench/call_cost.py [--calls 3]

Counts are exact and deterministic (not timings); each path runs --calls times, one call
at a time, and the per-call figure must be the same every time (it is printed as
min/median/max to show that). These are counts against the emulator: FreeSWITCH 1.10
answers the same commands and sends the same events (tests/sim/test_fidelity.py), but
nothing here measures FreeSWITCH's CPU (bench/real_switch.py does, on a real switch).
"""
from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("FSAPP_LOG_LEVEL", "WARNING")

import gevent  # noqa: E402

from fsapp.esl.outbound import OutboundServer  # noqa: E402
from fsapp.flow.compiler import Environment  # noqa: E402
from fsapp.flow.interpreter import Services  # noqa: E402
from fsapp.flow.runtime import FlowHandler  # noqa: E402
from fsapp.sim import CallerScript, Hangup, Press, RealClock, Socket, Switch, WaitPrompt  # noqa: E402
from fsapp.sim import wire as sim_wire  # noqa: E402
from fsapp.sim.apps.outbound import OutboundSession  # noqa: E402

SIMPLE_FLOW = """\
flow: simple_ivr
description: Issue 14's reference IVR - a 100 ms tone, one question, hang up.
numbers: ["7000"]
languages: [en-US]
start: tone
nodes:
  tone:
    play: [{tone: "%(100,0,800)"}]
    next: ask
  ask:
    menu:
      prompt: [{tone: "%(100,0,600)"}]
      options: {"1": bye}
      timeout: 3s
      tries: 1
      on_fail: bye
  bye:
    hangup: {}
"""


class Counter:
    """What one outbound session exchanged: commands by verb (app for sendmsg execute)
    and events by name, read from the bytes on the emulator's side."""

    def __init__(self):
        self.commands: collections.Counter = collections.Counter()
        self.events: collections.Counter = collections.Counter()
        self.head_bytes = 0     # command lines and headers: FreeSWITCH reads them a byte per recv()
        self.body_bytes = 0     # Content-Length bodies: read in one recv()


def count_commands(chunks: list[bytes], into: Counter) -> None:
    framer = sim_wire.CommandFramer()
    out = into.commands
    into.body_bytes = 0
    for chunk in chunks:
        for first, headers, body in framer.feed(chunk):
            into.body_bytes += len(body.encode("utf-8"))
            h = dict(headers)
            if first.startswith("sendmsg"):
                cmd = h.get("call-command", "?")
                label = f"sendmsg {cmd}" + (f" {h.get('execute-app-name')}" if cmd == "execute" else "")
            else:
                label = first.split(" ", 1)[0]
            out[label] += 1
    into.head_bytes = sum(len(chunk) for chunk in chunks) - into.body_bytes


def install_event_tap():
    """Count every event frame an outbound session writes, by Event-Name (the emulator's
    writer side: what fsapp's socket receives)."""
    sessions: dict[int, collections.Counter] = {}
    original = OutboundSession.send

    def send(self, data: bytes):
        head = data[:80]
        if b"text/event-" in head:
            name = "?"
            key = b"Event-Name: " if b"event-plain" in head else b'"Event-Name":"'
            i = data.find(key)
            if i >= 0:
                j = i + len(key)
                end = min(x for x in (data.find(b"\n", j), data.find(b'"', j), len(data)) if x >= 0)
                name = data[j:end].decode()
            sessions.setdefault(self, collections.Counter())[name] += 1
        return original(self, data)

    OutboundSession.send = send
    return sessions


def run_path(switch: Switch, number: str, steps, calls: int, events_by_session) -> list[Counter]:
    out = []
    for _ in range(calls):
        wire_log = switch.record_wire()
        wire_log.clear()
        events_by_session.clear()
        caller = switch.place_call(CallerScript(dial=number, caller_id="13800138000", steps=list(steps)))
        report = caller.wait(120)
        if not report.answered:
            raise SystemExit(f"call to {number} failed: {report.error or report.hangup_cause}")
        # the session ends with fsapp's `exit` (after its on_hangup work): wait for it
        with gevent.Timeout(30):
            while not events_by_session or not all(s.closed for s in events_by_session):
                gevent.sleep(0.02)
        c = Counter()
        count_commands(list(wire_log), c)
        for counts in events_by_session.values():
            c.events.update(counts)
        out.append(c)
    return out


def summary(name: str, runs: list[Counter]) -> None:
    cmds = [sum(r.commands.values()) for r in runs]
    evs = [sum(r.events.values()) for r in runs]
    print(f"{name:8} commands/call min/median/max {min(cmds)}/{statistics.median(cmds):g}/{max(cmds)}   "
          f"events/call {min(evs)}/{statistics.median(evs):g}/{max(evs)}   ({len(runs)} calls)")
    last = runs[-1]
    heads = [r.head_bytes for r in runs]
    bodies = [r.body_bytes for r in runs]
    print(f"         bytes sent/call: headers {min(heads)}/{statistics.median(heads):g}/{max(heads)} "
          f"(FreeSWITCH reads these one recv() per byte), bodies {min(bodies)}/{statistics.median(bodies):g}/"
          f"{max(bodies)} (one recv() each)")
    print("         commands: " + ", ".join(f"{k} {v}" for k, v in sorted(last.commands.items())))
    print("         events:   " + ", ".join(f"{k} {v}" for k, v in sorted(last.events.items())))


def hotline_store(tmp: Path):
    from fsapp.store import Store
    odbc = f"Driver={{SQLite3}};Database={tmp / 'fsapp.db'}"
    store = Store({"main": odbc, "billing": odbc}, queries_dir=ROOT / "queries", spool_dir=tmp / "spool",
                  query_timeout=10.0, connect_timeout=5.0)
    store.migrate()
    for script in (ROOT / "examples" / "billing" / "schema.sqlite.sql",
                   ROOT / "examples" / "billing" / "seed.sqlite.sql",
                   ROOT / "ivr_flows" / "sql" / "notices.sqlite.sql"):
        store.execute_script(script.read_text(encoding="utf-8"))
    serial = store.next_ticket_serial()
    store.write("ticket", {"serial": serial, "kind": "complaint", "category": "water", "status": "closed",
                           "handling_unit": "water_bureau", "result": "resolved"}, key=f"seed:{serial}")
    return store, serial


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3, help="calls per path (one at a time)")
    parser.add_argument("--path", choices=("simple", "hotline", "both"), default="both")
    args = parser.parse_args()
    import datetime as dt

    from fsapp.calendar import load_calendars
    from fsapp.say import render
    from fsapp.sounds import Catalog

    events = install_event_tap()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "flows").mkdir()
        (tmp / "flows" / "simple_ivr.yaml").write_text(SIMPLE_FLOW)
        switch = Switch(password="ClueCon", esl=("127.0.0.1", 0), clock=RealClock(scale=20.0)).start()
        servers = []
        try:
            if args.path in ("simple", "both"):
                handler = FlowHandler(str(tmp / "flows"), services=Services(), env=Environment())
                srv = OutboundServer(handler, ("127.0.0.1", 0), linger=5).start()
                servers.append(srv)
                switch.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{srv.port} async full"))
                steps = [WaitPrompt("600", after="start"), Press("1")]
                summary("simple", run_path(switch, "7000", steps, args.calls, events))
            if args.path in ("hotline", "both"):
                subprocess_sounds()
                store, serial = hotline_store(tmp)
                services = Services(catalog=Catalog.load(ROOT / "sounds" / "catalog.yaml"), say=render,
                                    store=store, calendars=load_calendars(ROOT / "calendars.yaml"),
                                    recordings=tmp / "recordings", clock=lambda: dt.datetime(2026, 11, 30, 10, 0))
                handler = FlowHandler(str(ROOT / "ivr_flows"), services=services, env=Environment(tts=True))
                srv = OutboundServer(handler, ("127.0.0.1", 0), linger=5).start()
                servers.append(srv)
                switch.dialplan.add(r"^12345$", Socket(f"127.0.0.1:{srv.port} async full"))
                steps = [WaitPrompt("hotline/language_offer"),
                         WaitPrompt("hotline/main_menu", after="start"), Press("3"),
                         WaitPrompt("hotline/status/enter_serial", after="start"), Press(serial),
                         WaitPrompt("hotline/status/after_menu", after="start"), Hangup()]
                summary("hotline", run_path(switch, "12345", steps, args.calls, events))
                store.close()
        finally:
            for srv in servers:
                srv.stop(timeout=2)
            switch.stop()
    return 0


def subprocess_sounds() -> None:
    """The emulator times playback from the WAV headers: render missing prompts first."""
    import subprocess
    subprocess.run([str(Path(sys.executable).parent / "fsapp"), "sounds", "build", "--quiet"], cwd=ROOT,
                   check=True, timeout=300)


if __name__ == "__main__":
    sys.exit(main())

"""`fsapp simulate`: one call through a flow, over real TCP, against the emulator.

The emulated FreeSWITCH (fsapp.sim) sends the call to an outbound socket server
(fsapp.esl) running the flow's handler (fsapp.flow.runtime), exactly as in production.
The caller answers each question the flow asks with the next entry of its script, like
in flow tests: digits ("1", "12345678#"), "" (stay silent: the question times out) or
"hangup"; it presses `delay` emulated seconds after the question's prompt starts
(barging in, as callers who know the menu do), and hangs up at the first question after
its script ran out. The flow's trace gives the transcript: what the caller heard, what
they pressed, where the call ended.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from fsapp.app.emulated import SIM_PASSWORD, EmulatedLine
from fsapp.app.services import flow_handler
from fsapp.flow.interpreter import Outcome, Services
from fsapp.flow.model import Flow
from fsapp.flow.trace import Recorder, fan_out, log_tracer


@dataclass
class Transcript:
    flow: Flow
    lines: list[str] = field(default_factory=list)
    outcome: Outcome | None = None
    report: object = None
    events: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    advice: list[str] = field(default_factory=list)   # what to do about the call's errors

    @property
    def heard(self) -> list[str]:
        return [p for e in self.events if e["event"] == "prompt" for p in e["prompts"]]

    @property
    def pressed(self) -> list[str]:
        return [e["digits"] for e in self.events if e["event"] == "input" and "digits" in e]


def transcript_lines(events: list[dict], verbose: bool = False) -> list[str]:
    lines = []
    for e in events:
        kind = e["event"]
        if kind == "enter":
            lines.append(f"[{e['flow']}.{e['node']}] {e['kind']}")
        elif kind == "prompt":
            lines.extend(f"  heard    {name}" for name in e["prompts"])
        elif kind == "input" and "digits" in e:
            verdict = "" if e.get("valid") else f"  (not accepted{': ' + e['problem'] if e.get('problem') else ''})"
            lines.append(f"  pressed  {e['digits'] or '(nothing)'}{verdict}")
        elif kind == "input" and "recording" in e:
            verdict = "" if e.get("valid", True) else f"  (not kept: {e.get('problem', 'invalid')})"
            lines.append(f"  recorded {e['duration']:.1f} s -> {_relative(e['recording'])}{verdict}")
        elif kind == "input" and "queue" in e:
            lines.append(f"  queue    {e['queue']}: {e['outcome']}" + (f" (agent {e['agent']})" if e.get("agent") else ""))
        elif kind == "error":
            lines.append(f"  error    {e['error']}")
        elif kind == "edge" and verbose:
            lines.append(f"  -> {e['to']} via {e['label']}")
        elif kind == "end":
            lines.append(f"ended: {e['reason']} in {e['flow']}.{e['node']} ({e.get('cause')})")
    return lines


def _relative(path: str) -> str:
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


class QuestionPacedCaller:
    """A tracer that answers the flow's questions: on each `prompt` event of a question it
    presses the next script entry on the caller's leg (what fsapp.sim's Press step does)."""

    def __init__(self, presses: list[str], clock, delay: float, speak: list[float] | None = None):
        self.presses = list(presses)
        self.clock = clock
        self.delay = delay
        self.speak = list(speak or [SPEAK_S])   # seconds per recording; the last repeats
        self.caller = None

    def __call__(self, event: dict) -> None:
        import gevent
        if event["event"] == "prompt" and event.get("question") and self.caller is not None:
            entry = self.presses.pop(0) if self.presses else "hangup"
            gevent.spawn(self._answer, entry)
        elif event["event"] == "prompt" and event.get("record") and self.caller is not None:
            # A record node's cue (its beep, or its prompt without one): talk after it.
            seconds = self.speak.pop(0) if len(self.speak) > 1 else self.speak[0]
            gevent.spawn(self.caller.speak_after_prompt, event["prompts"][-1], seconds,
                         after=self.caller.plays, pause=SPEAK_PAUSE_S)

    def _answer(self, entry: str) -> None:
        self.clock.sleep(self.delay)
        if entry == "hangup":
            self.caller.hang_up()
        elif self.caller.in_call:
            self.caller.press(entry, gap_s=0.1)


SPEAK_S = 2.0              # how long the simulated caller talks when the flow records
SPEAK_PAUSE_S = 0.5        # ... starting this long after the beep, as people do


def add_emulated_agents(switch, cfg, ring_s: float = 3.0, talk_s: float = 20.0) -> list[str]:
    """Give the emulator an answering phone for every agent of the routing config that it
    can reach: `user/N` (a registered phone) and `loopback/EXT[/CONTEXT]` (a dialplan
    extension that answers, as on a real switch). Returns a note for each other contact,
    naming it and what the emulator can reach instead."""
    from fsapp.routing.config import load_routing
    from fsapp.sim import Apps
    path = Path(cfg.get("routing", "config"))
    if not path.is_file():
        return []
    notes = []
    for name, agent in load_routing(path).agents.items():
        kind, _, rest = agent.contact.partition("/")
        if kind == "user" and rest:
            switch.add_agent(rest.split("@")[0], ring_s=ring_s, talk_s=talk_s, answer=True)
        elif kind == "loopback" and rest:
            extension = rest.split("/")[0]
            switch.dialplan.add(rf"^{re.escape(extension)}$", Apps([
                ("sleep", str(int(ring_s * 1000))), ("answer", ""),
                ("sleep", str(int(talk_s * 1000))), ("hangup", "")]))
        else:
            notes.append(f"agent {name}: contact {agent.contact} cannot be reached in the emulator "
                         f"(it rings user/N and loopback/EXT[/CONTEXT] contacts); calls offered "
                         f"to this agent fail")
    return notes


def simulate(flow: Flow, flows_dir, cfg, presses: list[str], caller_id: str = "13800138000",
             delay: float = 1.0, timeout: float = 120.0, scale: float = 20.0,
             services: Services | None = None, hangup_after: float | None = None,
             speak: list[float] | None = None) -> Transcript:
    """Run one emulated call to the flow's first number; returns the transcript."""
    from fsapp.sim import Hangup, RealClock

    if not flow.numbers:
        raise ValueError(f"flow {flow.name} answers no numbers: simulate the flow that calls it")
    recorder = Recorder()
    clock = RealClock(scale=scale)
    answering = QuestionPacedCaller(["" if p is None else str(p) for p in presses], clock, delay, speak)
    with EmulatedLine(clock) as line:
        notes: list[str] = []
        if cfg is not None:
            # The router (queue nodes) reaches this emulator, whose agents are those of the
            # routing config: `--press 0` talks to an emulated agent, as in production.
            cfg = cfg.with_values("esl", host="127.0.0.1", port=line.esl_port, password=SIM_PASSWORD)
            notes = add_emulated_agents(line.switch, cfg)
        # services built from the config, as serve does, unless given (a test's fakes)
        handler = flow_handler(flows_dir, cfg, services=services)
        # the transcript is the trace: its errors are not logged again (no node-visit rows
        # either), unless DEBUG asks for every step in the log as `fsapp serve` writes it
        debug = logging.getLogger("fsapp.flow.trace").isEnabledFor(logging.DEBUG)
        handler.services.tracer = fan_out(recorder, answering, *([log_tracer] if debug else []))
        try:
            line.serve(handler, [flow.numbers[0]], app_timeout=120.0, command_timeout=10.0)
            steps = [Hangup(at=hangup_after)] if hangup_after is not None else []
            caller = line.place_call(flow.numbers[0], steps, caller_id=caller_id)
            answering.caller = caller
            report = caller.wait(timeout)
            outcome = line.outcome(report.uuid, timeout=10.0)
        finally:
            router = handler.services.router
            if services is None and router is not None and hasattr(router, "stop"):
                router.stop()          # its ESL client and reconciler, before the emulator goes
    try:
        advice = [] if services is not None else _database_advice(handler.services, recorder.events)
    finally:
        # The services built here end with the call: the store's outbox replayer must not
        # live on in the process (a row the database refused, retried and dead-lettered
        # later, logged its ERROR into whatever ran next in-process). What it spooled stays
        # in the spool for the next fsapp process with this spool to replay.
        if services is None and handler.services.store is not None:
            handler.services.store.close()
    return Transcript(flow, transcript_lines(recorder.events), outcome, report, recorder.events,
                      notes=notes + list(handler.warnings) + line.switch.unreachable, advice=advice)


def _database_advice(services: Services, events: list[dict]) -> list[str]:
    """A query failed and the database has no fsapp tables: a new user's first run without
    `fsapp db init`, whose transcript alone says only 'no such table' (each driver its own
    wording, so the schema is asked, not the message)."""
    store = services.store
    failed = any(e["event"] == "error" and str(e.get("error", "")).startswith("QueryError") for e in events)
    if not failed or store is None or not hasattr(store, "schema_version"):
        return []
    try:
        if store.schema_version() is not None:
            return []
    except Exception:  # noqa: BLE001 - unreachable: the transcript's own error says so
        return []
    return [f"the database {store.describe()} has no fsapp tables, so the flow's queries failed: "
            f"run `fsapp db init` to create them, or pass --fixtures FILE (a flow test file) to "
            f"answer the queries from its fixtures"]

"""Flow tests in YAML, beside the flow (hotline.yaml -> hotline.test.yaml), and coverage.

    fixtures:                       # shared by every case; a case's own fixtures override
      calendars: {office_hours: open}            # open, closed, or a mode (day, night, ...)
      queries:
        hotline.ticket_status:
          - {params: {serial: "12345678"}, rows: [{status: closed}]}
          - {error: "database down"}             # any other params: the on_error path
      queues: {hotline_agents: answered}         # or overflow, timeout, callback, abandoned
      bridge: ok                                 # or fail (transfer to a number)
    cases:
      - name: closed ticket is read out
        press: ["3", "12345678#"]                # one entry per question; "" = no input
        expect:
          path: [welcome, main_menu, status, lookup, decide, say_result, goodbye]
          heard: [hotline/main_menu, hotline/enter_ticket, ...]
          stored: [{kind: call_record, row: {caller_number: "13800138000"}}]
          vars: {ticket_no: "12345678"}
          end: hangup

Each case runs in-process on a ScriptedCall with fake services (fsapp.flow.testing), so
flow tests are fast and need no switch or database. Trace events give the coverage:
nodes entered and edges taken, per flow, with the edges never taken listed.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from fsapp import yamlsrc
from fsapp.flow.interpreter import Services, real_clock, run_call
from fsapp.flow.model import Flow, Problem
from fsapp.flow.testing import FakeRouter, FakeStore, ScriptedCall, fake_calendars
from fsapp.flow.trace import Recorder

TOP_KEYS = {"flow": "flow name (default: the flow file beside this one)",
            "fixtures": "fake data shared by all cases", "cases": "the list of cases"}
CASE_KEYS = {"name": "what the case checks", "press": "the caller's answers, one per question",
             "caller_id": "the caller's number", "destination": "the number dialled",
             "fixtures": "overrides of the shared fixtures", "expect": "what must happen",
             "now": "the time the call happens (YYYY-MM-DD HH:MM)",
             "vars": "starting values of variables the flow declares (an outbound campaign's contact fields)"}
FIXTURE_KEYS = {"calendars", "queries", "queues", "bridge", "record_seconds"}
EXPECT_KEYS = {"path": "exact node path (trail)", "passes": "nodes visited in this order (gaps allowed)",
               "heard": "exact prompt names, in order", "stored": "rows written (each a subset match)",
               "queries": "queries run: [{query, params}] (subset match)", "vars": "variable values at the end",
               "end": "hangup, transfer, queue, caller_hangup or error", "node": "the node the call ended in"}


class BadTestFile(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


@dataclass
class Case:
    name: str
    press: list
    caller_id: str
    destination: str
    fixtures: dict
    expect: dict
    now: dt.datetime | None
    line: int
    vars: dict = field(default_factory=dict)


@dataclass
class CaseResult:
    case: Case
    failures: list[str]
    outcome: Any = None
    events: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def find_test_file(flow_path: str | Path) -> Path | None:
    path = Path(flow_path)
    stem = path.name.rsplit(".", 1)[0]
    for suffix in (".test.yaml", ".test.yml", ".tests.yaml", ".tests.yml"):
        candidate = path.with_name(stem + suffix)
        if candidate.exists():
            return candidate
    return None


def load_cases(path: Path) -> tuple[str | None, list[Case]]:
    """Parse a test file; BadTestFile lists every problem as file:line:col."""
    problems: list[Problem] = []
    file = str(path)

    def bad(node, message, hint=""):
        line, col = yamlsrc.position(node) if node is not None else (1, 1)
        problems.append(Problem(file, line, col, message, hint))

    def check_keys(node, known, what):
        if not isinstance(node, MappingNode):
            bad(node, f"{what}: expected a mapping")
            return {}
        items = yamlsrc.pairs(node, lambda e: problems.append(Problem(file, e.line, e.col, e.message, e.hint)))
        for key, key_node, _ in items:
            if key not in known:
                bad(key_node, f"{what}: unknown key {key!r}", "known: " + ", ".join(known))
        return {key: value for key, _, value in items}

    try:
        root = yamlsrc.compose(path.read_text(encoding="utf-8"))
        if root is None:
            raise yamlsrc.SourceError.at(1, 1, "empty test file", "write cases: [...]")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadTestFile([Problem(file, 1, 1, f"cannot read: {exc}")]) from None
    except yamlsrc.SourceError as err:
        raise BadTestFile([Problem(file, err.line, err.col, err.message, err.hint)]) from None
    top = check_keys(root, TOP_KEYS, "test file")
    try:
        flow_name = yamlsrc.plain(top["flow"]) if "flow" in top else None
        shared = yamlsrc.plain(top["fixtures"]) if "fixtures" in top else {}
        if not isinstance(shared, dict):
            bad(top["fixtures"], "fixtures: expected a mapping")
            shared = {}
        _check_fixtures(shared, top.get("fixtures"), bad)
        cases: list[Case] = []
        cases_node = top.get("cases")
        if not isinstance(cases_node, SequenceNode) or not cases_node.value:
            bad(cases_node if cases_node is not None else root, "cases: expected a non-empty list of cases")
        else:
            for i, case_node in enumerate(cases_node.value):
                items = check_keys(case_node, CASE_KEYS, f"case {i + 1}")
                case = {k: yamlsrc.plain(v) for k, v in items.items()}
                expect_node = items.get("expect")
                if expect_node is None:
                    bad(case_node, f"case {i + 1}: no expect:", "say what must happen: path, heard, end ...")
                else:
                    check_keys(expect_node, EXPECT_KEYS, f"case {i + 1} expect")
                press = case.get("press", [])
                if not isinstance(press, list):
                    press = [press]
                own = case.get("fixtures") or {}
                if not isinstance(own, dict):
                    bad(items["fixtures"], "fixtures: expected a mapping")
                    own = {}
                _check_fixtures(own, items.get("fixtures"), bad)
                given = case.get("vars") or {}
                if not isinstance(given, dict):
                    bad(items["vars"], "vars: expected name: value pairs")
                    given = {}
                now = case.get("now")
                if now is not None and not isinstance(now, dt.datetime):
                    try:
                        now = dt.datetime.fromisoformat(str(now))
                    except ValueError:
                        bad(items["now"], f"now: {now!r} is not a time like 2026-12-01 10:00")
                        now = None
                cases.append(Case(
                    name=_as_written(items.get("name"), "") or f"case {i + 1}",
                    press=["" if p is None else _press_text(items.get("press"), p) for p in press],
                    caller_id=_as_written(items.get("caller_id"), "13800138000"),
                    destination=_as_written(items.get("destination"), ""),
                    fixtures={**shared, **own}, expect=case.get("expect") or {}, now=now,
                    line=yamlsrc.position(case_node)[0], vars=given))
    except yamlsrc.SourceError as err:
        problems.append(Problem(file, err.line, err.col, err.message, err.hint))
    if problems:
        raise BadTestFile(sorted(problems))
    return (str(flow_name) if flow_name else None), cases


def _as_written(node, default: str) -> str:
    """A number-like scalar as the author wrote it: YAML reads caller_id 013800138000 as an
    octal int (str() of it is another number) and a 5,000-digit one as an int str() refuses."""
    if node is None or (isinstance(node, ScalarNode) and yamlsrc.scalar(node) is None):
        return default
    if isinstance(node, ScalarNode):
        return node.value
    return str(yamlsrc.plain(node))


def _press_text(node, value) -> str:
    # YAML reads 1 as an int and 0123 as octal: the press script is about keys, keep them as text
    if isinstance(node, SequenceNode):
        for item in node.value:
            if yamlsrc.plain(item) == value and hasattr(item, "value") and isinstance(item.value, str):
                return item.value
    return str(value)


def _check_fixtures(fixtures: dict, node, bad) -> None:
    for key in fixtures:
        if key not in FIXTURE_KEYS:
            bad(node, f"fixtures: unknown key {key!r}", "known: " + ", ".join(sorted(FIXTURE_KEYS)))
    seconds = fixtures.get("record_seconds")
    if seconds is not None:
        values = seconds if isinstance(seconds, list) else [seconds]
        if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                 and 0 <= v <= 3600 for v in values):   # NaN fails the range too
            bad(node, f"fixtures: record_seconds: expected seconds from 0 to 3600 or a list of them "
                      f"(one per recording), got {_shown(seconds)}", "e.g. record_seconds: 12 or record_seconds: [0.5, 12]")


def _shown(value, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def run_case(flow: Flow, case: Case, flows: dict[str, Flow], say=None) -> CaseResult:
    """One case on a ScriptedCall with fake services; `say` renders say prompts
    (fsapp.say.render, handed in: the flow package does not build its services)."""
    fx = case.fixtures
    store = FakeStore(fx.get("queries"))
    recorder = Recorder()
    now = case.now
    services = Services(store=store, router=FakeRouter(fx.get("queues")), say=say,
                        calendars=fake_calendars(fx.get("calendars")), tracer=recorder,
                        recordings=Path("/tmp/fsapp-flow-tests"),
                        tts="test|voice",
                        clock=(lambda: now) if now else real_clock)
    call = ScriptedCall(case.press, caller_id=case.caller_id,
                        destination=case.destination or (flow.numbers[0] if flow.numbers else ""),
                        record_seconds=fx.get("record_seconds", 5.0),
                        bridge_ok=str(fx.get("bridge", "ok")) != "fail")
    unknown = sorted(set(case.vars) - set(flow.vars))
    if unknown:
        return CaseResult(case, [f"vars: {', '.join(unknown)} not declared by flow {flow.name}"])
    outcome = run_call(call, flow, services, flows, initial=case.vars)
    failures = check_expectations(case.expect, outcome, recorder.events, store)
    if outcome.reason == "error" and case.expect.get("end") != "error":
        failures.insert(0, f"the flow failed: {outcome.error}")
    return CaseResult(case, failures, outcome, recorder.events)


def _subset(wanted, actual) -> bool:
    if isinstance(wanted, dict):
        return isinstance(actual, dict) and all(k in actual and _subset(v, actual[k]) for k, v in wanted.items())
    if isinstance(wanted, list):
        return isinstance(actual, list) and len(wanted) == len(actual) and all(map(_subset, wanted, actual))
    return wanted == actual or str(wanted) == str(actual)


def heard_of(events: list[dict]) -> list[str]:
    return [p for e in events if e["event"] == "prompt" for p in e["prompts"]]


def check_expectations(expect: dict, outcome, events: list[dict], store: FakeStore) -> list[str]:
    failures = []
    trail = outcome.trail
    if "path" in expect and list(map(str, expect["path"])) != trail:
        failures.append(f"path: expected {expect['path']}, got {trail}")
    if "passes" in expect:
        it = iter(trail)
        if not all(str(n) in it for n in expect["passes"]):
            failures.append(f"passes: {expect['passes']} not visited in this order; path was {trail}")
    if "heard" in expect:
        heard = heard_of(events)
        if list(map(str, expect["heard"])) != heard:
            failures.append(f"heard: expected {expect['heard']}, got {heard}")
    for wanted in expect.get("stored") or ():
        if not any(_subset(wanted, w) for w in store.writes):
            failures.append(f"stored: no write matches {wanted}; writes were {store.writes}")
    for wanted in expect.get("queries") or ():
        ran = [{"query": n, "params": p} for n, p in store.calls]
        if not any(_subset(wanted, r) for r in ran):
            failures.append(f"queries: no query matches {wanted}; ran {ran}")
    for name, value in (expect.get("vars") or {}).items():
        if name not in outcome.vars:
            failures.append(f"vars: {name} is not set")
        elif not _subset(value, outcome.vars[name]):
            failures.append(f"vars: {name} expected {value!r}, got {outcome.vars[name]!r}")
    if "end" in expect and expect["end"] != outcome.reason:
        failures.append(f"end: expected {expect['end']}, got {outcome.reason}"
                        + (f" ({outcome.error})" if outcome.error else ""))
    if "node" in expect and expect["node"] != outcome.node:
        failures.append(f"node: expected the call to end in {expect['node']!r}, it ended in {outcome.node!r}")
    return failures


@dataclass
class Coverage:
    flow: Flow
    nodes: set[str] = field(default_factory=set)
    edges: set[tuple[str, str]] = field(default_factory=set)   # (node, label)

    def add(self, events: list[dict]) -> None:
        for e in events:
            if e.get("flow") != self.flow.name or e.get("version") != self.flow.version:
                continue
            if e["event"] == "enter" and e["node"] in self.flow.nodes:
                self.nodes.add(e["node"])
            elif e["event"] == "edge":
                self.edges.add((e["node"], e["label"]))

    @property
    def all_edges(self) -> list[tuple[str, str, str]]:
        return [(n, e.label, e.target) for n, e in self.flow.edges]

    def uncovered(self) -> list[str]:
        return [f"{n} --{label}--> {target}" for n, label, target in self.all_edges
                if (n, label) not in self.edges]

    def summary(self) -> str:
        n_all, e_all = len(self.flow.nodes), len(self.all_edges)
        covered_edges = len({(n, label) for n, label, _ in self.all_edges} & self.edges)
        return (f"{self.flow.name}: nodes {len(self.nodes)}/{n_all} ({_pct(len(self.nodes), n_all)}), "
                f"edges {covered_edges}/{e_all} ({_pct(covered_edges, e_all)})")


def _pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "100%"

"""Validation never crashes: random, mutated and structurally random flow files all end in
either a compiled flow or clean problems, never a traceback."""
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from flow_helpers import ENV
import pytest

from fsapp.flow.compiler import compile_text
from fsapp.flowspec import FLOW_FIELDS, KINDS, PROMPT_ITEMS

ROOT = Path(__file__).resolve().parents[2]
SEEDS = [p.read_text(encoding="utf-8") for p in [
    *sorted((Path(__file__).parent / "flows").glob("*.yaml")), ROOT / "ivr_flows" / "example_menu.yaml",
    *sorted((ROOT / "docs" / "examples").glob("*.yaml"))]]
TOKENS = ["", "1", "-1", "0x1f", "1e999", "{", "}", "[", "]", ":", ": ", "- ", "null", "~", "x", "&a ",
          "*a", "!!str ", "!!binary ", "'", "\"", "{{", "}}", "{% if %}", "#", "  ", "\t", "<<: ", "? ",
          "|", ">", "\\", "\u00e9", "\u4e2d", "\x00", "\ud800", "yes", "no", "5s", "next", "goto", "play"]
SETTINGS = settings(max_examples=int(__import__("os").environ.get("FLOW_FUZZ_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(text: str) -> None:
    flow, problems = compile_text(text, "fuzz.yaml", ENV)
    assert (flow is None) == bool(problems)
    for p in problems:
        assert isinstance(p.line, int) and p.line >= 1 and p.col >= 1
        assert p.message and str(p).startswith(f"fuzz.yaml:{p.line}:{p.col}: ")


@SETTINGS
@given(st.text(max_size=400))
def test_random_text(text):
    check(text)


@st.composite
def mutated(draw):
    lines = draw(st.sampled_from(SEEDS)).splitlines()
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace", "indent"]))
        i = draw(st.integers(0, len(lines) - 1))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "indent":
            lines[i] = draw(st.sampled_from(["", " ", "    "])) + lines[i].lstrip()
        else:
            line = lines[i]
            at = draw(st.integers(0, len(line)))
            token = draw(st.sampled_from(TOKENS) | st.text(max_size=3))
            end = at + (draw(st.integers(0, 6)) if op == "replace" else 0)
            lines[i] = line[:at] + token + line[end:]
    return "\n".join(lines) + "\n"


@SETTINGS
@given(mutated())
def test_mutated_flows(text):
    check(text)


NAMES = sorted({*KINDS, *PROMPT_ITEMS, *(f.name for k in KINDS.values() for f in k.fields),
                *(f.name for f in FLOW_FIELDS), "welcome", "bye", "when", "goto", "1", "#"})
scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 10**20), st.floats(allow_nan=True),
                    st.sampled_from(NAMES), st.text(max_size=8), st.sampled_from(["{{ x }}", "5s", "x ==", "^\\d$"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.sampled_from(NAMES), inner, max_size=5), max_leaves=25)


@SETTINGS
@given(st.dictionaries(st.sampled_from(NAMES), values, max_size=6),
       st.dictionaries(st.sampled_from(NAMES), st.dictionaries(st.sampled_from(NAMES), values, max_size=4),
                       max_size=6))
def test_structured_random_flows(top, nodes):
    doc = {"flow": "fuzz", "languages": ["zh-CN"], "start": "welcome", **top, "nodes": nodes}
    check(yaml.safe_dump(doc, allow_unicode=True))


@SETTINGS
@given(mutated(), st.lists(st.sampled_from(["1", "2", "3", "0", "#", "*", "", "12345678#", "9", "hangup"]),
                           max_size=8))
def test_flows_that_validate_run_without_internal_errors(text, presses):
    """Whatever a valid flow and a caller do, the interpreter ends the call cleanly: a bad
    value at run time may fail the call, but never with an interpreter bug."""
    import datetime as dt
    from fsapp.flow.compiler import Environment
    from fsapp.flow.interpreter import Services, run_call
    from fsapp.flow.testing import FakeRouter, FakeStore, ScriptedCall, fake_calendars
    flow, problems = compile_text(text, "fuzz.yaml", Environment(tts=True))
    if flow is None:
        return
    services = Services(store=FakeStore(), router=FakeRouter(), tts="t|v",
                        calendars=fake_calendars({"office_hours": "open", "hotline_12345": "night"}),
                        recordings="/tmp/fsapp-flow-fuzz", say=lambda lang, kind, value: [f"say/{kind}"],
                        clock=lambda: dt.datetime(2026, 11, 30, 10, 0))
    outcome = run_call(ScriptedCall(presses), flow, services, {flow.name: flow})
    assert outcome.reason in ("hangup", "transfer", "queue", "caller_hangup", "error")
    assert outcome.reason != "error" or outcome.error.startswith(("FlowRuntimeError", "SayError")), \
        outcome.error


@st.composite
def random_graph_flow(draw):
    """A random but well-formed flow: random kinds, random targets; most of them validate."""
    n = draw(st.integers(2, 8))
    names = [f"n{i}" for i in range(n)]
    target = st.sampled_from(names + ["end"])
    nodes = {"end": {"hangup": {"prompt": "common/goodbye"}}}
    for i, name in enumerate(names):
        kind = draw(st.sampled_from(["play", "menu", "collect", "set", "branch", "goto", "sql", "write",
                                     "schedule", "queue", "record", "say", "transfer"]))
        chain = iter([names[i + 1] if i + 1 < n else "end"])  # the first target keeps all reachable
        t = lambda: next(chain, None) or draw(target)  # noqa: E731
        body = {
            "play": lambda: {"play": ["common/welcome", {"say": "digits", "value": "{{ x }}"}], "next": t()},
            "menu": lambda: {"menu": {"prompt": "common/welcome", "options": {"1": t(), "2": t()},
                                      "tries": draw(st.integers(1, 3)), "on_fail": t()}},
            "collect": lambda: {"collect": {"prompt": "common/welcome", "max": 8, "into": "x",
                                            "readback": draw(st.booleans()),
                                            **({"confirm": {"prompt": "common/welcome"}} if draw(st.booleans()) else {}),
                                            **({"check": "luhn"} if draw(st.booleans()) else {})},
                                "next": t(), "on_fail": t()},
            "set": lambda: {"set": {"x": draw(st.sampled_from(["x ~ '1'", "'12'", "x | length", "none"]))},
                            "next": t()},
            "branch": lambda: {"branch": [{"when": draw(st.sampled_from(["x == '1'", "x is none", "x|length > 2"])),
                                           "goto": t()}], "else": t()},
            "goto": lambda: {"goto": t()},
            "sql": lambda: {"sql": {"query": "q.x", "params": {"p": "{{ x }}"}, "into": "row",
                                    "rows": draw(st.sampled_from(["one", "all"])), "on_error": t()}, "next": t()},
            "write": lambda: {"write": {"kind": "k", "row": {"v": "{{ x }}", "r": "{{ row }}"}}, "next": t()},
            "schedule": lambda: {"schedule": "office_hours", "modes": {"night": t()}, "open": t(), "closed": t()},
            "queue": lambda: {"queue": {"queue": "hotline", "into": "q", "on_overflow": t()}, "next": t()},
            "record": lambda: {"record": {"into": "rec", "review": {"prompt": "common/welcome"}}, "next": t(),
                               "on_discard": t()},
            "say": lambda: {"say": {"type": "number", "value": "{{ x }}"}, "next": t()},
            "transfer": lambda: {"transfer": {"number": "95598", "on_fail": t()}},
        }[kind]()
        nodes[name] = body
    doc = {"flow": "g", "numbers": ["1"], "languages": ["zh-CN", "en-US"], "start": "n0",
           "vars": {"x": "", "row": None}, "nodes": nodes,
           "on_hangup": [{"write": {"kind": "survey_answer", "row": {"answer": "{{ x }}", "question": "{{ hangup_cause }}"}}}]}
    return yaml.safe_dump(doc)


@SETTINGS
@given(random_graph_flow(), st.lists(st.sampled_from(["1", "2", "3", "#", "*", "", "79927398713#", "hangup"]),
                                     max_size=10),
       st.sampled_from(["answered", "overflow", "timeout", "abandoned", "callback"]),
       st.sampled_from(["open", "closed", "night"]), st.booleans())
@pytest.mark.slow
def test_random_graphs_run_to_a_clean_end(text, presses, queue_outcome, calendar, db_fails):
    import datetime as dt
    from fsapp.flow.compiler import Environment
    from fsapp.flow.interpreter import Services, run_call
    from fsapp.flow.testing import FakeRouter, FakeStore, ScriptedCall, fake_calendars
    flow, problems = compile_text(text, "graph.yaml", Environment(tts=True))
    if flow is None:
        assert problems
        return
    store = FakeStore({"q.x": [{"error": "down"}] if db_fails else [{"rows": [{"a": 1}]}]})
    services = Services(store=store, router=FakeRouter({"hotline": queue_outcome}),
                        calendars=fake_calendars({"office_hours": calendar}), recordings="/tmp/fsapp-flow-fuzz",
                        say=lambda lang, kind, value: [f"say/{kind}"], clock=lambda: dt.datetime(2026, 1, 1))
    call = ScriptedCall(presses)
    outcome = run_call(call, flow, services, {flow.name: flow})
    # the flow itself may fail at run time (x | length of a number): FlowRuntimeError, never a bug
    assert outcome.reason in ("hangup", "transfer", "queue", "caller_hangup") or \
        outcome.error.startswith(("FlowRuntimeError", "SayError")), outcome.error
    # on_hangup always ran, then the runtime wrote the call's one record
    assert [w["kind"] for w in store.writes[-2:]] == ["survey_answer", "call_record"]
    assert [w["kind"] for w in store.writes].count("call_record") == 1


# -- value extremes (issue 10): every field that converts a value, every extreme --------------
EXTREMES = ["9" * 400, "-" + "9" * 400, "9" * 5000, "0x" + "f" * 4000, "0b" + "1" * 5000, "0o" + "7" * 2000,
            "1.0e+400", "-1.0e+400", ".nan", ".inf", "-.inf", "1.0e-400", "-0", "0", "0.0", "1_000",
            "9" * 400 + "s", "9" * 400 + ".5ms", "9" * 400 + "h", "1:" + "59:" * 300 + "59", "190:20:30",
            "2001-12-14", "2001-12-14 21:59:43.10 -5", "2001-13-45", "'" + "9" * 400 + "'", "\u0665s",
            "~", "[]", "{}", "[" * 50 + "]" * 50, "!!int x", "!!float y", "'#'", "'" + "#" * 10000 + "'"]
CONVERTING = ("int", "duration", "digits", "regex", "choice", "bool", "expr", "text", "names")


def _fields(kind):
    for f in kind.fields:
        if f.type in CONVERTING:
            yield f.name, None
        for sub in f.fields:
            if sub.type in CONVERTING:
                yield f.name, sub.name


FIELD_SLOTS = sorted({(k.name, name, sub) for k in KINDS.values() for name, sub in _fields(k)},
                     key=str)


def extreme_flow(kind: str, name: str, sub: str | None, value: str) -> str:
    field = f"{{{sub}: {value}}}" if sub else value
    return ("flow: x\nnumbers: [\"1\"]\nlanguages: [zh-CN]\nstart: n\nnodes:\n"
            f"  n:\n    {kind}:\n      {name}: {field}\n    next: bye\n  bye: {{hangup: {{}}}}\n")


def test_every_converting_field_with_every_extreme():
    assert len(FIELD_SLOTS) > 30
    for kind, name, sub in FIELD_SLOTS:
        for value in EXTREMES:
            check(extreme_flow(kind, name, sub, value).replace("fuzz.yaml", "x"))


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(FIELD_SLOTS), st.sampled_from(EXTREMES)), min_size=1, max_size=5))
def test_value_extremes_combined(picks):
    lines = ["flow: x", "numbers: [\"1\"]", "languages: [zh-CN]", "start: n0", "nodes:"]
    for i, ((kind, name, sub), value) in enumerate(picks):
        field = f"{{{sub}: {value}}}" if sub else value
        lines += [f"  n{i}:", f"    {kind}:", f"      {name}: {field}", f"    next: n{i + 1}"]
    lines += [f"  n{len(picks)}: {{hangup: {{}}}}"]
    check("\n".join(lines) + "\n")

"""Validation never crashes: random, mutated and structurally random flow files all end in
either a compiled flow or clean problems, never a traceback."""
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from flow_helpers import ENV
from fsapp.flow.compiler import compile_text
from fsapp.flow.spec import FLOW_FIELDS, KINDS, PROMPT_ITEMS

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

"""docs/flows.md is executed: its reference tables match the spec, its flows compile
against the project's catalog, queries, queues and calendars, its flow tests pass, its
files match the repository, and its `$ fsapp ...` commands print what it shows."""
import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsapp import config
from fsapp.cli import main
from fsapp.flow import docgen
from fsapp.flow.compiler import compile_text
from fsapp.app.environment import from_config
from fsapp.flow.flowtests import load_cases, run_case
from fsapp.say import render

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "flows.md"
BLOCK = re.compile(r"(?:<!-- (?P<marker>[^>]*?) -->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)


def blocks():
    text = DOC.read_text(encoding="utf-8")
    return [(m.group("marker") or "", m.group("lang"), m.group("body"), text[:m.start()].count("\n") + 1)
            for m in BLOCK.finditer(text)]


@pytest.fixture(scope="module")
def env():
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return from_config(config.load(env={}))
    finally:
        os.chdir(cwd)


def test_reference_tables_match_the_spec():
    assert docgen.current(DOC.read_text(encoding="utf-8")) == docgen.reference(), \
        "docs/flows.md is out of date: run .venv/bin/python -m fsapp.flow.docgen docs/flows.md"


def test_files_shown_in_the_doc_are_the_files_in_the_repository():
    shown = [(marker, body) for marker, lang, body, _ in blocks() if marker.startswith("file: ")]
    assert len(shown) >= 2
    for marker, body in shown:
        assert (ROOT / marker[len("file: "):]).read_text(encoding="utf-8") == body, marker


def test_every_flow_in_the_doc_compiles_and_its_tests_pass(env, tmp_path):
    target = None
    compiled = 0
    for marker, lang, body, line in blocks():
        if lang != "yaml" or marker.startswith("file: docs/examples/"):
            continue  # the deliberately broken example is checked through `fsapp validate` below
        if marker == "flow-test":
            assert target is not None, f"docs/flows.md:{line}: a flow test needs a flow-test-target before it"
            path = tmp_path / f"{target.name}.test.yaml"
            path.write_text(body, encoding="utf-8")
            _, cases = load_cases(path)
            for case in cases:
                result = run_case(target, case, {target.name: target}, say=render)
                assert result.ok, f"docs/flows.md:{line}: {case.name}: {result.failures}"
            continue
        flow, problems = compile_text(body, f"docs/flows.md:{line}", env)
        assert not problems, "\n".join(map(str, problems))
        compiled += 1
        outcome = run_once(flow)
        assert outcome.reason != "error", f"docs/flows.md:{line}: {outcome.error}"
        if marker == "flow-test-target":
            target = flow
    assert compiled >= 5


def run_once(flow):
    """Run a doc flow once with a silent caller, the real say engine and catalog and fake
    data services: it must end without an error (a subflow gets empty inputs)."""
    from fsapp.flow.interpreter import Services, Session
    from fsapp.flow.testing import FakeRouter, FakeStore, ScriptedCall, fake_calendars
    from fsapp.sounds.catalog import Catalog
    services = Services(catalog=Catalog.load(ROOT / "sounds" / "catalog.yaml"), say=render, store=FakeStore(),
                        router=FakeRouter(), calendars=fake_calendars({"office_hours": "open"}),
                        recordings="/tmp/fsapp-flow-doc-tests")
    session = Session(ScriptedCall([]), flow, services)
    session.frame.vars.update({name: "" for name in flow.inputs})
    return session.run()


def normalize(text: str, recordings: Path) -> list[str]:
    text = text.replace(str(recordings), "var/recordings")
    text = re.sub(r"\bv[0-9a-f]{12}\b", "v<version>", text)
    text = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "<uuid>", text)
    text = re.sub(r"/20\d{6}/", "/<date>/", text)
    return [line for line in text.splitlines() if not line.startswith("note: ")]


def test_console_examples_print_what_the_doc_shows(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    recordings = tmp_path / "recordings"
    ran = 0
    for marker, lang, body, line in blocks():
        if lang != "console":
            continue
        lines = body.splitlines()
        assert lines[0].startswith("$ fsapp "), f"docs/flows.md:{line}: a console block starts with $ fsapp"
        args = shlex.split(lines[0][len("$ fsapp "):])
        result = CliRunner().invoke(main, args, env={"FSAPP_FLOWS_RECORDINGS": str(recordings),
                                                     "FSAPP_CONFIG": ""})
        expected = lines[1:]
        actual = normalize(result.output, recordings)
        assert actual == expected, f"docs/flows.md:{line}: {lines[0]}\n" + "\n".join(actual)
        ran += 1
    assert ran >= 4

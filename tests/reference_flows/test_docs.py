"""docs/reference-flows.md is executed: in a scratch directory holding the page's own
fsapp.toml (and links to the repository's queries, examples, calendars, routing config and
rendered sounds, with copies of ivr_flows/ and the prompt catalog), every `$ fsapp ...`
line runs and prints what the page shows ("..." matches anything), after the page's
"add a menu option" edits are applied to the copies where the page makes them."""
from __future__ import annotations

import doctest
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "reference-flows.md"
FSAPP = Path(sys.executable).parent / "fsapp"
BLOCK = re.compile(r"```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)

pytestmark = pytest.mark.slow


def blocks() -> list[tuple[str, str, int]]:
    text = DOC.read_text(encoding="utf-8")
    return [(m.group("lang"), m.group("body"), text[:m.start()].count("\n") + 1) for m in BLOCK.finditer(text)]


def section_of(line: int) -> str:
    heading = ""
    for number, text in enumerate(DOC.read_text(encoding="utf-8").splitlines(), start=1):
        if number > line:
            break
        if text.startswith("## "):
            heading = text[3:]
    return heading


@pytest.fixture
def workspace(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    for name in ("queries", "examples", "calendars.yaml", "routing.yaml"):
        (ws / name).symlink_to(ROOT / name)
    shutil.copytree(ROOT / "ivr_flows", ws / "ivr_flows")
    (ws / "sounds").mkdir()
    shutil.copy(ROOT / "sounds" / "catalog.yaml", ws / "sounds" / "catalog.yaml")
    for lang in ("zh-CN", "en-US"):          # the prompts rendered by the session's build
        (ws / "sounds" / lang).symlink_to(ROOT / "sounds" / lang)
    toml = [body for lang, body, _ in blocks() if lang == "toml"]
    assert len(toml) == 1, "the page shows one fsapp.toml"
    (ws / "fsapp.toml").write_text(toml[0], encoding="utf-8")
    return ws


def apply_add_option(ws: Path, yaml_blocks: list[str]) -> None:
    """The page's four "add a menu option" edits, on the copies in the workspace."""
    options, node, prompt, case = yaml_blocks
    flow = ws / "ivr_flows" / "hotline_12345.yaml"
    text = flow.read_text(encoding="utf-8")
    old = re.search(r'      options: \{"1": mailbox,.*?\n.*?"0": agent\}\n', text).group(0)
    text = text.replace(old, options)
    text = text.replace("\n  # ---- 0 human agent", "\n" + node + "\n  # ---- 0 human agent")
    flow.write_text(text, encoding="utf-8")
    catalog = ws / "sounds" / "catalog.yaml"
    catalog.write_text(catalog.read_text(encoding="utf-8").rstrip("\n") + "\n" + prompt, encoding="utf-8")
    tests = ws / "ivr_flows" / "hotline_12345.test.yaml"
    tests.write_text(tests.read_text(encoding="utf-8").rstrip("\n") + "\n\n" + case, encoding="utf-8")


def run(ws: Path, command: str) -> str:
    argv = shlex.split(command)
    assert argv[0] == "fsapp", command
    env = {**os.environ, "FSAPP_CONFIG": str(ws / "fsapp.toml")}
    done = subprocess.run([str(FSAPP), *argv[1:]], cwd=ws, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_every_command_on_the_page_prints_what_it_shows(workspace, catalog):
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    add_option = [body for lang, body, line in blocks()
                  if lang == "yaml" and section_of(line) == "Add a menu option"]
    assert len(add_option) == 4
    commands = 0
    edited = False
    for lang, body, line in blocks():
        if lang != "console":
            continue
        if section_of(line) == "Add a menu option" and not edited:
            apply_add_option(workspace, add_option)
            edited = True
        chunks = re.split(r"^\$ ", body, flags=re.M)[1:]
        for chunk in chunks:
            command, _, want = chunk.partition("\n")
            got = run(workspace, command)
            commands += 1
            assert checker.check_output(want, got, flags), \
                f"docs/reference-flows.md:{line}: $ {command}\n--- the page shows:\n{want}--- it printed:\n{got}"
    assert edited and commands >= 14


def test_the_page_shows_the_prompt_and_query_files_as_they_are():
    text = DOC.read_text(encoding="utf-8")
    outage = (ROOT / "ivr_flows" / "sql" / "example_outage.sqlite.sql").read_text(encoding="utf-8")
    statement = outage[outage.index("INSERT"):]
    assert statement in text, "the outage statement on the page differs from ivr_flows/sql/example_outage.sqlite.sql"
    catalog = (ROOT / "sounds" / "catalog.yaml").read_text(encoding="utf-8")
    shown = [body for lang, body, line in blocks() if lang == "yaml" and section_of(line) == "Change a prompt"]
    assert shown and shown[0] in catalog, "the main menu prompt on the page differs from sounds/catalog.yaml"
    flow = (ROOT / "ivr_flows" / "hotline_12345.yaml").read_text(encoding="utf-8")
    assert '"5": survey, "0": agent}' in flow   # the line the "add a menu option" edit replaces

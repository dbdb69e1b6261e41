"""Runs the examples in docs/freeswitch.md exactly as written.

Markers in the doc say what each fenced block is:
    <!-- doc-example: file PATH -->            write the block to PATH
    <!-- doc-example: run [ENV=VALUE ...] -->  run the `$ fsapp ...` lines, compare output
    <!-- doc-example: run-fails [ENV=...] -->  the same, but the command must fail
    <!-- doc-example: expect PATH -->          PATH must now hold exactly the block
All examples share one empty directory, in document order.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsapp.cli import main
ROOT = Path(__file__).resolve().parents[2]

DOC = ROOT / "docs" / "freeswitch.md"
EXAMPLE = re.compile(r"<!-- doc-example: (\S+)(.*?) -->\n```[a-z]*\n(.*?)```", re.S)


def examples():
    found = [(m.group(1), m.group(2).strip(), m.group(3)) for m in EXAMPLE.finditer(DOC.read_text())]
    assert found, "no doc-example markers in docs/freeswitch.md"
    return found


def test_doc_examples_run_as_written(tmp_path, monkeypatch):
    for name in [k for k in __import__("os").environ if k.startswith("FSAPP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    ran = 0
    for kind, arg, body in examples():
        if kind == "file":
            path = Path(arg)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(body, encoding="utf-8")
        elif kind == "expect":
            assert Path(arg).read_text(encoding="utf-8") == body, f"{arg} differs from the doc"
        elif kind in ("run", "run-fails"):
            env = dict(item.split("=", 1) for item in shlex.split(arg))
            lines = body.splitlines()
            assert lines[0].startswith("$ fsapp "), lines[0]
            result = CliRunner().invoke(main, shlex.split(lines[0][len("$ fsapp "):]), env=env)
            assert (result.exit_code != 0) == (kind == "run-fails"), result.output
            assert result.output.splitlines() == lines[1:], result.output
            ran += 1
        else:
            pytest.fail(f"unknown doc-example kind {kind!r}")
    assert ran >= 3


def test_install_lines_are_those_the_operations_doc_test_runs():
    """freeswitch.md's install block is not run on its own: each of its lines must be in
    the operations.md doc-test that runs them into a scratch FREESWITCH_CONF, reloads the
    emulator reading it and places test calls through the installed dialplan."""
    install = re.search(r"## Install into FreeSWITCH\n.*?```sh\n(.*?)```", DOC.read_text(), re.S).group(1)
    ops = (ROOT / "docs" / "operations.md").read_text()
    block = re.search(r"```sh\n(# doc-test\n# --- stand-in for the FreeSWITCH host.*?)```", ops, re.S).group(1)
    assert "fsapp api reloadxml" in block and "fsapp call 10000" in block
    lines = install.strip().splitlines()
    assert len(lines) == 4 and lines[0] == "CONF=${FREESWITCH_CONF:-/etc/freeswitch}"
    for line in lines:
        assert line in block.splitlines(), f"{line!r} is not run by the operations.md doc-test"

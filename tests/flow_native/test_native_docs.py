"""Runs the examples in docs/flows-native.md exactly as written.

    <!-- doc-example: file PATH -->   write the block to PATH
    <!-- doc-example: python -->      exec the block; the next `output` block is its stdout
    <!-- doc-example: output -->      expected stdout of the python block before it
    <!-- doc-example: run-any -->     run the `$ fsapp ...` line; it must succeed
    <!-- doc-example: exists PATH --> PATH must exist and not be empty
All examples share one empty directory, in document order.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsapp.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "flows-native.md"
EXAMPLE = re.compile(r"<!-- doc-example: (\S+)(.*?) -->\n```[a-z]*\n(.*?)```", re.S)


def test_doc_examples_run_as_written(tmp_path, monkeypatch):
    for name in [k for k in os.environ if k.startswith("FSAPP_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    examples = [(m.group(1), m.group(2).strip(), m.group(3)) for m in EXAMPLE.finditer(DOC.read_text())]
    assert len(examples) >= 6
    stdout = None
    for kind, arg, body in examples:
        if kind == "file":
            Path(arg).parent.mkdir(parents=True, exist_ok=True)
            Path(arg).write_text(body, encoding="utf-8")
        elif kind == "python":
            buffer = io.StringIO()
            with contextlib.redirect_stdout(buffer):
                exec(compile(body, str(DOC), "exec"), {"__name__": "__doc_example__"})
            stdout = buffer.getvalue()
        elif kind == "output":
            assert stdout == body, f"doc output differs; actual:\n{stdout}"
            stdout = None
        elif kind == "run-any":
            line = body.strip()
            assert line.startswith("$ fsapp ")
            result = CliRunner().invoke(main, shlex.split(line[len("$ fsapp "):]))
            assert result.exit_code == 0, result.output
        elif kind == "exists":
            assert Path(arg).is_file() and Path(arg).stat().st_size > 0, arg
        else:
            pytest.fail(f"unknown doc-example kind {kind!r}")

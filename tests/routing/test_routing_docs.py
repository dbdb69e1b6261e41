"""The ```python examples of docs/routing.md run, and the doc covers every strategy."""
import os
import re
from pathlib import Path

from fsapp.routing.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "routing.md").read_text(encoding="utf-8")


def test_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC, re.S)
    assert len(blocks) >= 3
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for block in blocks:
            exec(compile(block, "docs/routing.md", "exec"), {})
    finally:
        os.chdir(cwd)
    assert "['1002', '1001', '1003']" in capsys.readouterr().out


def test_every_strategy_documented():
    for name in STRATEGIES:
        assert f"| `{name}` |" in DOC, name

"""Every ```pycon example in docs/prompts.md runs and prints what the page says."""
import doctest
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "prompts.md"


def test_doc_examples_run(monkeypatch):
    monkeypatch.chdir(ROOT)
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```pycon\n(.*?)```", text, flags=re.S)
    assert len(blocks) >= 7, "docs/prompts.md lost its examples"
    parser, runner = doctest.DocTestParser(), doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    globs: dict = {}
    examples = 0
    for number, block in enumerate(blocks, start=1):
        test = parser.get_doctest(block, globs, f"prompts.md block {number}", str(DOC), 0)
        examples += len(test.examples)
        runner.run(test, out=lambda s: pytest.fail(s), clear_globs=False)
        globs.update(test.globs)  # DocTest copies its globals; later blocks use earlier names
    assert examples >= 25


def test_doc_lists_every_flow_prompt_key_and_measured_figures():
    from fsapp.sounds.flowrefs import PROMPT_KEYS
    text = DOC.read_text(encoding="utf-8")
    assert all(f"`{key}`" in text for key in PROMPT_KEYS)

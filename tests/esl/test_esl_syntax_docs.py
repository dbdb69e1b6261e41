"""The examples of docs/esl.md, "Caller data and FreeSWITCH syntax", run; what they print
is what the doc shows (each printed line appears there as a `# ` comment)."""
import contextlib
import io
import re
from pathlib import Path

DOC = (Path(__file__).resolve().parents[2] / "docs" / "esl.md").read_text(encoding="utf-8")


def section() -> str:
    start = DOC.index("## Caller data and FreeSWITCH syntax")
    return DOC[start:DOC.index("\n## ", start + 1)]


def test_examples_run_and_print_what_the_doc_shows():
    blocks = re.findall(r"```python\n(.*?)```", section(), re.S)
    assert len(blocks) == 2, "docs/esl.md examples changed: update this test"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, "docs/esl.md", "exec"), {})
    printed = out.getvalue().splitlines()
    assert len(printed) == 3
    for line in printed:
        assert f"\n# {line}\n" in section(), line


def test_every_builder_is_in_the_table():
    from fsapp.esl import syntax
    for name in ("originate_command", "var_block", "dial_string", "number", "sendmsg_execute", "literal",
                 "set_arg", "export_arg", "api_command", "event_headers"):
        assert hasattr(syntax, name) and (f"syntax.{name}" in section() or f"`{name}" in section()), name

"""The examples in docs/emulator.md are executed."""
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"


def test_python_examples_run():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert blocks, "docs/emulator.md has no python example"
    for block in blocks:
        exec(compile(block, str(DOC), "exec"), {})

"""docs/campaigns.md: its shell examples run as written (validation, a drill of the
reference outage campaign on the emulator, status and report, an agent-assisted campaign
with an emulated agent), and its Python example."""
import pytest

from doccheck import DOCS, blocks

DOC = DOCS / "campaigns.md"


@pytest.mark.slow
def test_campaigns_shell_examples(doc_runner):
    outputs = doc_runner.run_doc(DOC)
    assert len(outputs) == 3, "the doc's doc-test blocks were not all found"
    assert (doc_runner.project / "var" / "drill.png").stat().st_size > 1000
    csv_lines = (doc_runner.project / "var" / "drill.csv").read_text(encoding="utf-8").splitlines()
    assert csv_lines[0] == "hour,dialled,answered,completed,contact_rate,completion_rate"


def test_campaigns_python_example(monkeypatch, doc_runner):
    monkeypatch.chdir(doc_runner.project)
    [source] = [body for lang, body, _, _ in blocks(DOC.read_text(encoding="utf-8")) if lang == "python"]
    exec(compile(source, f"{DOC}:python", "exec"), {})

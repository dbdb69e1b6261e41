"""docs/wallboard.md: its example runs, and the screenshot it shows is in the repository."""
from doccheck import DOCS

DOC = DOCS / "wallboard.md"


def test_example_runs(doc_runner):
    outputs = doc_runner.run_doc(DOC)
    assert len(outputs) == 1, "wallboard.md doc-test blocks changed: update this test"


def test_screenshot_is_there():
    assert "(wallboard.png)" in DOC.read_text(encoding="utf-8")
    png = (DOCS / "wallboard.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000

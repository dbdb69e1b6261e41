"""docs/user-guide.md: its shell examples run as written, and its Python handler answers
a call on the emulator."""
import os

import pytest

from doccheck import DOCS, blocks

from fsapp.esl import OutboundServer
from fsapp.sim import CallerScript, Press, Socket, Switch, WaitPrompt

DOC = DOCS / "user-guide.md"


@pytest.mark.slow
def test_user_guide_shell_examples(doc_runner):
    outputs = doc_runner.run_doc(DOC)
    assert len(outputs) >= 8, "the guide's doc-test blocks were not all found"


def _handler_source() -> str:
    found = [body for lang, body, _, _ in blocks(DOC.read_text(encoding="utf-8"))
             if lang == "python" and body.startswith("# myline.py")]
    assert len(found) == 1, "docs/user-guide.md: the myline.py example is gone; update this test"
    return found[0]


def test_user_guide_python_handler(monkeypatch, doc_runner):
    monkeypatch.chdir(doc_runner.project)      # the handler loads sounds/catalog.yaml
    namespace = {}
    exec(compile(_handler_source(), f"{DOC}:myline.py", "exec"), namespace)
    server = OutboundServer(namespace["handler"], "127.0.0.1:0").start()
    switch = Switch(esl=("127.0.0.1", 0)).start()
    try:
        switch.dialplan.add(r"^10020$", Socket(f"127.0.0.1:{server.port} async full"))
        caller = switch.place_call(CallerScript(dial="10020", caller_id="13800138000", steps=[
            WaitPrompt("common/welcome.wav", after="start"), Press("2024#")]))
        report = caller.wait(60)
        assert report.error is None, report.error
        names = [os.path.relpath(p, doc_runner.project / "sounds" / "zh-CN") for p in report.heard]
        assert names == ["common/welcome.wav", "common/you_entered.wav", "say/zh/2.wav", "say/zh/0.wav",
                         "say/zh/2.wav", "say/zh/4.wav", "common/goodbye.wav"], report.heard
        assert report.hangup_cause == "NORMAL_CLEARING"
    finally:
        switch.stop()
        server.stop(timeout=2)

"""The Python examples of docs/api.md, run against the emulator."""
import re
from pathlib import Path

from fsapp.esl import OutboundServer
from fsapp.sim import Apps, CallerScript, Echo, Press, Socket, Switch, VirtualClock, WaitPrompt

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def examples() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 4, "docs/api.md examples changed: update this test"
    return blocks


def test_ivr_handler_example():
    namespace = {}
    exec(compile(examples()[0], f"{DOC}:myivr", "exec"), namespace)
    srv = OutboundServer(namespace["handler"], "127.0.0.1:0").start()
    sw = Switch(esl=("127.0.0.1", 0)).start()
    try:
        sw.dialplan.add(r"^12345$", Socket(f"127.0.0.1:{srv.port} async full"))
        transferred_tone = "tone_stream://%(100,0,999)"
        sw.dialplan.add(r"^7100$", Apps(steps=[("answer", ""), ("playback", transferred_tone), ("hangup", "")]))
        sales = sw.place_call(CallerScript(dial="12345", caller_id="1", steps=[WaitPrompt("600"), Press("1")]))
        report = sales.wait(30)
        assert report.heard[-1] == "tone_stream://%(100,0,800)"
        assert report.hangup_cause == "NORMAL_CLEARING"
        transfer = sw.place_call(CallerScript(dial="12345", caller_id="2", steps=[WaitPrompt("600"), Press("2")]))
        report = transfer.wait(30)
        assert report.heard[-1] == transferred_tone  # played by extension 7100 after the transfer
    finally:
        sw.stop()
        srv.stop(timeout=2)


def test_inbound_example():
    sw = Switch(password="s3cret", esl=("127.0.0.1", 0)).start()
    try:
        sw.dialplan.add(r"^7100$", Echo())
        namespace = {"port": sw.esl_port, "password": "s3cret"}
        exec(compile(examples()[3], f"{DOC}:inbound", "exec"), namespace)
        assert namespace["status"].startswith("UP")
        assert namespace["cause"]
    finally:
        sw.stop()


def test_esl_md_protocol_error_example(capsys):
    """The example of docs/esl.md's "Bad bytes from the peer" prints what it says."""
    doc = (DOC.parent / "esl.md").read_text(encoding="utf-8")
    section = doc.split("### Bad bytes from the peer", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    exec(compile(block, "docs/esl.md", "exec"), {})
    printed = capsys.readouterr().out.strip()
    assert printed == re.search(r"print\(exc\)  # (.*)", block).group(1)


def test_digits_example():
    """docs/api.md "Digits": an entry ended by waiting counts; silence is no input."""
    namespace = {}
    exec(compile(examples()[2], f"{DOC}:account", "exec"), namespace)
    srv = OutboundServer(namespace["handler"], "127.0.0.1:0").start()
    clock = VirtualClock(idle_s=0.3)   # a loaded machine must not look idle between steps
    sw = Switch(esl=("127.0.0.1", 0), clock=clock).start()
    try:
        sw.dialplan.add(r"^12345$", Socket(f"127.0.0.1:{srv.port} async full"))
        for steps in ([WaitPrompt("600", after="start"), Press("1234")], [],
                      [WaitPrompt("600", after="start"), Press("12#")] * 3):
            sw.place_call(CallerScript(dial="12345", steps=steps)).wait(60)
    finally:
        sw.stop()
        srv.stop(timeout=2)
        clock.close()
    assert namespace["answers"] == ["1234", "no input", "refused '12'"]


def test_not_waiting_example():
    """docs/api.md "Not waiting": the 5 pressed during the welcome is the welcome's, the 1
    answers the menu, the goodbye is heard whole before the hang-up."""
    namespace = {}
    exec(compile(examples()[1], f"{DOC}:not-waiting", "exec"), namespace)
    srv = OutboundServer(namespace["handler"], "127.0.0.1:0").start()
    clock = VirtualClock(idle_s=0.3)
    sw = Switch(esl=("127.0.0.1", 0), clock=clock).start()
    try:
        sw.dialplan.add(r"^12345$", Socket(f"127.0.0.1:{srv.port} async full"))
        report = sw.place_call(CallerScript(dial="12345", steps=[
            WaitPrompt("800", after="start"), Press("5"), WaitPrompt("600", after="start"), Press("1"),
            WaitPrompt(namespace["GOODBYE"])])).wait(60)
    finally:
        sw.stop()
        srv.stop(timeout=2)
        clock.close()
    assert namespace["choices"] == ["1"] and report.error is None, (namespace["choices"], report.error)
    goodbye = next(t for t, what, detail in report.timeline if what == "prompt" and detail == namespace["GOODBYE"])
    hung_up = next(t for t, what, _ in report.timeline if what == "hangup")
    assert hung_up - goodbye >= 0.25, report.timeline

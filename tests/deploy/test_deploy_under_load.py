"""`fsapp deploy` while 200 emulated calls are in progress: none fails, every call that
started before the deploy hears the old prompts to its end (also those it reaches after
the deploy), every call after it hears the new ones."""
from pathlib import Path

from click.testing import CliRunner

from fsapp.cli import main

from deploy_helpers import wait_until

CALLS = 200   # in progress at the deploy; as many again after it

V1 = """flow: live
numbers: ["20000"]
languages: [zh-CN]
start: menu
nodes:
  menu:
    menu: {prompt: common/welcome, options: {"1": bye}, timeout: 300s, tries: 1, on_fail: bye}
  bye: {hangup: {prompt: common/goodbye}}
"""
V2 = V1.replace("common/welcome", "common/please_wait").replace("common/goodbye", "common/thanks")


def _stems(report) -> list[str]:
    return [Path(p).stem for p in report.heard if p.endswith(".wav")]


def test_deploy_while_calls_are_in_progress(project, tmp_path):
    from fsapp.esl.outbound import OutboundServer
    from fsapp.app.services import flow_handler
    from fsapp.sim import CallerScript, RealClock, Socket, Switch

    from tests.flow.test_runtime import fake_services

    (tmp_path / "flows" / "live.yaml").write_text(V1, encoding="utf-8")
    handler = flow_handler(tmp_path / "flows", project, services=fake_services(project))
    handler.listen(project.get("flows", "control"), sighup=False)
    switch = Switch(esl=("127.0.0.1", 0), clock=RealClock()).start()
    server = OutboundServer(handler, ("127.0.0.1", 0), linger=5, max_calls=4 * CALLS).start()
    switch.dialplan.add(r"^20000$", Socket(f"127.0.0.1:{server.port} async full"))

    def in_menu(callers, prompt):
        return lambda: all(prompt in _stems(c.report) for c in callers)

    def press_1(callers):
        """Each caller answers the menu now (DTMF into the channel fsapp controls)."""
        for c in callers:
            for uuid in (c.leg.uuid, c.leg.links.peer.uuid):
                ch = switch.channels.get(uuid)
                if ch is not None and ch.sessions:
                    assert switch.api.execute("uuid_recv_dtmf", f"{uuid} 1").startswith("+OK")

    try:
        v1 = handler.registry.flows["live"].version
        before = [switch.place_call(CallerScript(dial="20000", steps=[])) for _ in range(CALLS)]
        wait_until(in_menu(before, "welcome"), f"{CALLS} callers in the old menu")

        new = tmp_path / "new" / "live.yaml"
        new.parent.mkdir()
        new.write_text(V2, encoding="utf-8")
        result = CliRunner().invoke(main, ["--config", str(project.path), "deploy", str(new)])
        assert result.exit_code == 0, result.output
        assert "new versions: live v" in result.output
        v2 = handler.registry.flows["live"].version
        assert v2 != v1

        after = [switch.place_call(CallerScript(dial="20000", steps=[])) for _ in range(CALLS)]
        wait_until(in_menu(after, "please_wait"), f"{CALLS} callers in the new menu")
        press_1(before + after)   # the old callers reach their goodbye only now, after the deploy
        reports = [c.wait(120) for c in before + after]
        assert [_stems(r) for r in reports[:CALLS]] == [["welcome", "goodbye"]] * CALLS
        assert [_stems(r) for r in reports[CALLS:]] == [["please_wait", "thanks"]] * CALLS
        wait_until(lambda: len(handler.outcomes) >= 100 and server.active_calls == 0, "every call to end")
        # the handler keeps the last 100 outcomes: each ended at the flow's hangup, on one of
        # the two versions (which one each caller heard is asserted above)
        assert {o.reason for o in handler.outcomes} == {"hangup"}
        assert {o.version for o in handler.outcomes} <= {v1, v2}
        assert server.refused_calls == 0
    finally:
        server.stop(timeout=2)
        switch.stop()
        handler.control_server.stop()

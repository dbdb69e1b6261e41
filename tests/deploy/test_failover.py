"""The rendered dialplan on the emulator (it reads conf/dialplan/default/*.xml and reloads
on `reloadxml`, like FreeSWITCH): calls spread over two workers, a killed worker's calls
go to the other, and with both down the fallback (apology, transfer) answers."""
from pathlib import Path

import gevent
import pytest
from click.testing import CliRunner

from fsapp import config
from fsapp.cli import main
from fsapp.sim.dialplan import parse_xml_dialplan

from deploy_helpers import LIVE

ROOT = Path(__file__).resolve().parents[2]
SOUNDS = ROOT / "sounds" / "zh-CN" / "common"


def fsapp(cfg, *args):
    return CliRunner().invoke(main, ["--config", str(cfg.path), *args])


@pytest.fixture
def node(project, tmp_path):
    """An emulated node reading its conf/ directory, two fsapp workers (outbound servers
    with their own flow handlers on the same line), deployed with `fsapp deploy`."""
    from fsapp.esl.outbound import OutboundServer
    from fsapp.app.services import flow_handler
    from fsapp.sim import Apps, RealClock, Switch

    from tests.flow.test_runtime import fake_services

    conf = tmp_path / "conf"
    switch = Switch(esl=("127.0.0.1", 0), clock=RealClock(scale=5), conf_dir=conf).start()
    # the operator line the fallback transfers to
    switch.dialplan.add(r"^1000$", Apps([("answer", ""), ("playback", str(SOUNDS / "welcome.wav")),
                                         ("hangup", "")]))
    handlers = [flow_handler(tmp_path / "flows", project, services=fake_services(project)) for _ in range(2)]
    servers = [OutboundServer(h, ("127.0.0.1", 0), linger=5).start() for h in handlers]
    text = project.path.read_text(encoding="utf-8") + f"""
[deploy.nodes.a]
conf_dir = "{conf}"
esl = "127.0.0.1:{switch.esl_port}"
password = "ClueCon"
workers = ["127.0.0.1:{servers[0].port}", "127.0.0.1:{servers[1].port}"]
"""
    text = text.replace("[deploy]\n", f'[deploy]\nfallback_prompt = "{SOUNDS / "db_unavailable.wav"}"\n'
                                      f'fallback_transfer = "1000"\n')
    project.path.write_text(text, encoding="utf-8")
    cfg = config.load(project.path, env={})
    new = tmp_path / "live.yaml"
    new.write_text(LIVE.replace("common/goodbye", "common/thanks"), encoding="utf-8")
    result = fsapp(cfg, "deploy", str(new))
    assert result.exit_code == 0, result.output
    assert "node a: switched, reloadxml ok (1/1)" in result.output
    for h in handlers:   # what `fsapp reload` would do in each worker process
        h.reload()
    try:
        yield switch, handlers, servers, conf
    finally:
        for s in servers:
            s.stop(timeout=1)
        switch.stop()


def outcomes_reach(handlers, count):
    """A worker records a call's outcome just after the switch hung up, which is when the
    caller's report ends: wait for the records, not for a moment."""
    with gevent.Timeout(30, AssertionError(f"outcomes: {[len(h.outcomes) for h in handlers]}")):
        while sum(len(h.outcomes) for h in handlers) < count:
            gevent.sleep(0.02)


def calls(switch, count):
    from fsapp.sim import CallerScript
    callers = [switch.place_call(CallerScript(dial="20000", steps=[])) for _ in range(count)]
    return [[Path(p).stem for p in c.wait(30).heard] for c in callers]


def test_rendered_dialplan_tries_each_worker_then_the_fallback(node):
    switch, handlers, servers, conf = node
    extensions = parse_xml_dialplan((conf / "dialplan/default/50_fsapp.xml").read_text())
    assert [e.name for e in extensions] == ["fsapp_live_w1", "fsapp_live_w2"]
    first = [app for app, _ in extensions[0].steps]
    assert first == ["set", "socket", "socket", "answer", "playback", "transfer"]
    assert extensions[0].steps[1][1] != extensions[1].steps[1][1]   # each order starts elsewhere

    # both up: every call is answered by a worker, and both take calls
    heard = calls(switch, 20)
    assert heard == [["thanks"]] * 20
    outcomes_reach(handlers, 20)
    taken = [len(h.outcomes) for h in handlers]
    assert sum(taken) == 20 and min(taken) > 0, taken

    # worker 1 down: its calls go to worker 2
    servers[0].stop(timeout=1)
    heard = calls(switch, 10)
    assert heard == [["thanks"]] * 10
    outcomes_reach(handlers, 30)
    assert len(handlers[0].outcomes) == taken[0] and len(handlers[1].outcomes) == taken[1] + 10

    # both down: the apology, then the operator line
    servers[1].stop(timeout=1)
    heard = calls(switch, 3)
    assert heard == [["db_unavailable", "welcome"]] * 3
    gevent.sleep(0)


INFO = """flow: info
numbers: ["30000"]
languages: [zh-CN]
start: main
nodes:
  main:
    menu: {prompt: common/welcome, options: {"1": thanks, "0": operator}, invalid: common/invalid_choice,
           timeout: 2s, tries: 2, on_fail: bye}
  thanks:
    play: common/thanks
    next: main
  operator: {transfer: {extension: "1000"}}
  bye: {hangup: {}}
"""


def test_native_fallback_ivr_plays_and_routes_with_every_worker_down(node, project, tmp_path):
    """With both workers down, a flow FreeSWITCH can run whole falls back to its native
    XML menus (ivr_menus/fsapp_info.xml + `ivr` in the dialplan), which play and route."""
    from fsapp.sim import CallerScript, Press, WaitPrompt
    switch, handlers, servers, conf = node
    cfg = config.load(project.path, env={})
    new = tmp_path / "info.yaml"
    new.write_text(INFO, encoding="utf-8")
    result = fsapp(cfg, "deploy", str(new))
    assert result.exit_code == 0, result.output
    assert (conf / "ivr_menus" / "fsapp_info.xml").is_file()
    for s in servers:
        s.stop(timeout=1)

    def call(*steps):
        report = switch.place_call(CallerScript(dial="30000", steps=list(steps))).wait(60)
        return [Path(p).stem for p in report.heard], report

    # 1 plays "thanks" and comes back to the menu; 0 transfers to the operator line
    heard, _ = call(WaitPrompt("welcome", after="start"), Press("1"), WaitPrompt("thanks"),
                    WaitPrompt("welcome", after="start"), Press("0"))
    assert heard == ["welcome", "thanks", "welcome", "welcome"]   # the operator line greets too
    # wrong keys: invalid_choice, then on_fail (hang up) after the last try
    heard, report = call(WaitPrompt("welcome", after="start"), Press("7"), WaitPrompt("welcome", after="start"),
                         Press("8"))
    assert heard == ["welcome", "invalid_choice", "welcome", "invalid_choice"]
    assert report.hangup_cause == "NORMAL_CLEARING"
    assert not any(h.outcomes for h in handlers)   # fsapp never saw these calls


def test_fsapp_call_reports_the_worker_then_the_fallback(node):
    """`fsapp call NUMBER` (originate loopback/NUMBER/default &park over the event
    socket) says which worker took the call, and the fallback once none answers."""
    switch, handlers, servers, conf = node
    esl = ["--esl", f"127.0.0.1:{switch.esl_port}", "--password", "ClueCon"]
    workers = [f"127.0.0.1:{s.port}" for s in servers]

    result = CliRunner().invoke(main, ["call", "20000", "--hold", "0", *esl])
    assert result.exit_code == 0, result.output
    took = [w for w in workers if f"answered by worker {w}" in result.output]
    assert len(took) == 1, result.output
    assert "worker ran answer" in result.output

    servers[0].stop(timeout=1)
    result = CliRunner().invoke(main, ["call", "20000", "--hold", "0", *esl])
    assert result.exit_code == 0, result.output
    assert f"answered by worker {workers[1]}" in result.output, result.output

    servers[1].stop(timeout=1)
    result = CliRunner().invoke(main, ["call", "20000", "--hold", "0", *esl])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"socket {workers[0]} async full: no worker took the call" in lines
    assert f"socket {workers[1]} async full: no worker took the call" in lines
    assert "answer, playback " in result.output and "transfer 1000 XML default" in result.output
    assert "answered by worker" not in result.output

    # a number no fsapp extension matches: the call never reaches a socket, exit 1
    result = CliRunner().invoke(main, ["call", "55555", "--hold", "0", *esl])
    assert result.exit_code == 1, result.output
    assert "no socket application ran" in result.output
    # caller-supplied values never become FreeSWITCH syntax
    result = CliRunner().invoke(main, ["call", "2000 &park", *esl])
    assert result.exit_code == 2 and "not a phone number" in result.output


def test_fsapp_call_presses_keys_when_a_prompt_plays(node, project, tmp_path):
    """`--press 0` is sent when the menu's prompt starts: the worker's flow routes the
    call to the operator line (1000), which the report shows after the worker."""
    switch, handlers, servers, conf = node
    new = tmp_path / "info.yaml"
    new.write_text(INFO, encoding="utf-8")
    result = fsapp(config.load(project.path, env={}), "deploy", str(new))
    assert result.exit_code == 0, result.output
    for h in handlers:
        h.reload()
    esl = ["--esl", f"127.0.0.1:{switch.esl_port}", "--password", "ClueCon"]
    result = CliRunner().invoke(main, ["call", "30000", "--press", "0", *esl])
    assert result.exit_code == 0, result.output
    assert "pressed 0 during welcome.wav" in result.output
    assert "answered by worker 127.0.0.1:" in result.output
    assert "after the worker's transfer: answer, playback " in result.output
    assert "hangup: NORMAL_CLEARING" in result.output
    assert [o for h in handlers for o in h.outcomes][-1:], "the flow ran in a worker"
    result = CliRunner().invoke(main, ["call", "30000", "--press", "1;hangup", *esl])
    assert result.exit_code == 2 and "keys are 0-9" in result.output

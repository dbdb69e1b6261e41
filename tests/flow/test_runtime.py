"""Flows over real TCP: fsapp.sim (emulated FreeSWITCH) -> fsapp.esl outbound server ->
fsapp.flow.runtime; simulate, hot reload with live calls keeping their version, and the
deploy / reload verbs against a running handler's control socket."""
import re
import shutil
from pathlib import Path

import gevent
import pytest
from click.testing import CliRunner

from fsapp import config
from fsapp.cli import main
from fsapp.flow.interpreter import Services
from fsapp.app.services import flow_handler
from fsapp.flow.runtime import FlowLoadError, request
from fsapp.app.simulate import simulate
from fsapp.flow.testing import FakeRouter, FakeStore, fake_calendars
from tests.fsapp_toml import line_sections, write_fsapp_toml

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "ivr_flows" / "example_menu.yaml"


@pytest.fixture
def cfg(tmp_path):
    return config.load(write_fsapp_toml(tmp_path, line_sections(tmp_path)), env={})


def fake_services(cfg, store=None):
    from fsapp.say import render
    from fsapp.sounds.catalog import Catalog
    return Services(catalog=Catalog.load(ROOT / "sounds" / "catalog.yaml"), say=render,
                    store=store or FakeStore(), router=FakeRouter(),
                    calendars=fake_calendars({"office_hours": "open"}),
                    recordings=Path(cfg.get("flows", "recordings")))


def test_simulate_example_over_tcp(cfg, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(EXAMPLE, flows / EXAMPLE.name)
    store = FakeStore()
    from fsapp.flow.compiler import compile_file
    flow, problems = compile_file(flows / EXAMPLE.name)
    assert not problems
    transcript = simulate(flow, flows, cfg, ["2", "#"], services=fake_services(cfg, store), timeout=60)
    assert transcript.outcome.reason == "hangup" and transcript.outcome.node == "goodbye"
    assert transcript.outcome.trail == ["hours", "welcome", "english", "record", "save", "goodbye"]
    assert transcript.pressed == ["2", "#"]
    assert transcript.heard[:2] == ["common/welcome", "common/language_menu"]
    assert transcript.lines[-1] == "ended: hangup in example_menu.goodbye (NORMAL_CLEARING)"
    kinds = [w["kind"] for w in store.writes]
    assert kinds == ["recording", "call_record"]
    assert store.writes[1]["row"]["language"] == "en-US"
    # what the emulator's caller actually heard, as files, in the caller's language
    assert any(p.endswith("en-US/common/goodbye.wav") for p in transcript.report.heard) or \
        not (ROOT / "sounds" / "en-US" / "common" / "goodbye.wav").exists()


def test_simulate_cli_prints_the_transcript(cfg, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(EXAMPLE, flows / EXAMPLE.name)
    shutil.copy(EXAMPLE.with_name("example_menu.test.yaml"), flows / "example_menu.test.yaml")
    result = CliRunner().invoke(main, ["--config", str(cfg.path), "simulate", str(flows / EXAMPLE.name),
                                       "--press", "1", "--press", "#",
                                       "--fixtures", str(flows / "example_menu.test.yaml")])
    assert result.exit_code == 0, result.output
    # the transcript's lines: CliRunner mixes in stderr, where the outbox may log about rows
    # other in-process tests spooled (a write spooled without a database is the outbox's warning)
    lines = [line for line in result.output.splitlines() if not re.match(r"\d{4}-\d\d-\d\dT", line)]
    assert lines[0].startswith("calling 10000 (example_menu v")
    assert "  pressed  1" in lines and "  pressed  #" in lines
    assert lines.index("  heard    common/language_menu") < lines.index("  pressed  1")
    assert "ended: hangup in example_menu.goodbye (NORMAL_CLEARING)" in lines


MENU_V1 = """flow: live
numbers: ["20000"]
languages: [zh-CN]
start: menu
nodes:
  menu:
    menu: {prompt: common/welcome, options: {"1": bye}, timeout: 5s, tries: 3, on_fail: bye}
  bye: {hangup: {prompt: common/goodbye}}
"""


def test_reload_while_a_call_waits_keeps_its_version(cfg, tmp_path):
    from fsapp.esl.outbound import OutboundServer
    from fsapp.sim import CallerScript, Press, RealClock, Socket, Switch, WaitPrompt

    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "live.yaml").write_text(MENU_V1, encoding="utf-8")
    handler = flow_handler(flows, cfg, services=fake_services(cfg))
    handler.services.tracer = handler.counter   # what services_from_config wires in production
    handler.listen(cfg.get("flows", "control"), sighup=False)
    v1 = handler.registry.flows["live"].version
    switch = Switch(esl=("127.0.0.1", 0), clock=RealClock(scale=5)).start()
    server = OutboundServer(handler, ("127.0.0.1", 0), linger=5).start()
    try:
        switch.dialplan.add(r"^20000$", Socket(f"127.0.0.1:{server.port} async full"))
        first = switch.place_call(CallerScript(dial="20000", steps=[WaitPrompt("welcome", after="start"),
                                                                    WaitPrompt("welcome", after="start")]))
        with gevent.Timeout(60, AssertionError("the first call never reached the menu")):
            while not any("welcome" in path for path in first.report.heard):   # the first call is in the menu
                gevent.sleep(0.01)
        (flows / "live.yaml").write_text(MENU_V1.replace("common/goodbye", "common/thanks"), encoding="utf-8")
        answer = request(cfg.get("flows", "control"), "reload")
        assert answer["ok"] and answer["generation"] == 2 and set(answer["changed"]) == {"live"}
        v2 = handler.registry.flows["live"].version
        second = switch.place_call(CallerScript(dial="20000", steps=[Press("1")]))
        second.wait(30)
        first.wait(60)
        with gevent.Timeout(60, AssertionError(f"outcomes: {handler.outcomes}")):
            while len(handler.outcomes) < 2:      # each handler records its outcome as it returns
                gevent.sleep(0.01)
        by_version = {o.version: o for o in handler.outcomes}
        assert set(by_version) == {v1, v2}
        # a bad edit is refused and the running version stays
        (flows / "live.yaml").write_text(MENU_V1.replace("on_fail: bye", "on_fail: byee"), encoding="utf-8")
        answer = request(cfg.get("flows", "control"), "reload")
        assert not answer["ok"] and "undefined node 'byee'" in answer["problems"][0]
        assert handler.registry.flows["live"].version == v2
        status = request(cfg.get("flows", "control"), "status")
        assert status["flows"] == {"live": v2}
        # the first caller stayed silent through 3 passes, the second pressed 1
        assert status["inputs"] == {"live.menu": {"no_input": 3, "accepted": 1}}
    finally:
        server.stop(timeout=2)
        switch.stop()
        handler.control_server.stop()


def test_handler_refuses_a_bad_directory(cfg, tmp_path):
    (tmp_path / "bad.yaml").write_text("flow: x\n", encoding="utf-8")
    with pytest.raises(FlowLoadError, match="missing required field"):
        flow_handler(tmp_path, cfg, services=fake_services(cfg))


def test_a_call_no_flow_answers_is_refused_and_still_has_its_call_record(cfg, tmp_path):
    import datetime as dt

    from fsapp.flow.testing import ScriptedCall
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(EXAMPLE, flows / EXAMPLE.name)
    store = FakeStore()
    services = fake_services(cfg, store)
    services.clock = lambda: dt.datetime(2026, 11, 30, 9, 0)
    handler = flow_handler(flows, cfg, services=services)
    call = ScriptedCall([], caller_id="13800138000", destination="99999")
    assert handler(call) is None
    assert ("hangup", "UNALLOCATED_NUMBER") in call.actions
    assert store.writes == [{"kind": "call_record", "key": f"{call.uuid}:call", "row": {
        "call_uuid": call.uuid, "caller_number": "13800138000", "destination": "99999",
        "started_at": dt.datetime(2026, 11, 30, 9, 0), "ended_at": dt.datetime(2026, 11, 30, 9, 0),
        "duration_ms": 0, "hangup_cause": "UNALLOCATED_NUMBER", "outcome": "no_flow", "end_reason": "no_flow"}}]


def test_deploy_and_reload_cli(cfg, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "live.yaml").write_text(MENU_V1, encoding="utf-8")
    handler = flow_handler(flows, cfg, services=fake_services(cfg))
    handler.listen(cfg.get("flows", "control"), sighup=False)
    runner = CliRunner()
    try:
        new = tmp_path / "new" / "live.yaml"
        new.parent.mkdir()
        new.write_text(MENU_V1.replace("common/goodbye", "common/thanks"), encoding="utf-8")
        result = runner.invoke(main, ["--config", str(cfg.path), "deploy", str(new)])
        assert result.exit_code == 0, result.output
        assert f"installed {flows / 'live.yaml'}" in result.output and "new versions: live v" in result.output
        assert handler.registry.generation == 2
        bad = tmp_path / "new" / "other.yaml"
        bad.write_text(MENU_V1.replace("flow: live", "flow: other"), encoding="utf-8")  # same number
        result = runner.invoke(main, ["--config", str(cfg.path), "deploy", str(bad)])
        assert result.exit_code == 1 and "number 20000 is also answered" in result.output
        assert not (flows / "other.yaml").exists()
        result = runner.invoke(main, ["--config", str(cfg.path), "reload"])
        assert result.exit_code == 0 and "nothing changed" in result.output
    finally:
        handler.control_server.stop()
    result = runner.invoke(main, ["--config", str(cfg.path), "reload"])
    assert result.exit_code == 1 and "no running `fsapp serve --flows`" in result.output


def test_reload_keeps_the_store_and_router_but_rereads_files(cfg, tmp_path, monkeypatch):
    from fsapp.app import services as runtime   # the services are built there (wiring)
    built = []
    monkeypatch.setattr(runtime, "_store", lambda cfg: built.append("store") or object())
    monkeypatch.setattr(runtime, "_calendars", lambda cfg: built.append("calendars") or {})
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "f.yaml").write_text("""flow: f
numbers: ["1"]
languages: [zh-CN]
start: s
nodes:
  s: {schedule: office_hours, open: w, closed: w}
  w: {write: {kind: survey_answer, row: {survey: f, question: q}}, next: bye}
  bye: {hangup: {}}
""", encoding="utf-8")
    handler = flow_handler(flows, cfg)
    store = handler.services.store
    assert handler.reload()["ok"]
    assert handler.services.store is store
    assert built == ["store", "calendars", "calendars"]


def test_example_flow_writes_to_a_real_sqlite_store(sqlite_odbc, tmp_path):
    """The example flow's rows (recording, call_record) and one node_visit per node reach
    the store's real tables through its outbox."""
    from fsapp.flow.compiler import compile_file
    from fsapp.flow.interpreter import run_call
    from fsapp.flow.testing import ScriptedCall
    from fsapp.flow.trace import record_node_visits
    from fsapp.store import Store
    store = Store({"main": sqlite_odbc}, spool_dir=tmp_path / "spool", start=False)
    try:
        store.migrate()
        flow, problems = compile_file(EXAMPLE)
        assert not problems
        services = Services(store=store, calendars=fake_calendars({"office_hours": "open"}),
                            recordings=tmp_path / "rec")
        record_node_visits(services)      # as `fsapp serve` ([flows] node_visits): with the record
        call = ScriptedCall(["2", "#"])
        outcome = run_call(call, flow, services)
        assert outcome.reason == "hangup"
        count = lambda table: store.execute(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]  # noqa: E731
        assert count("fsapp_recordings") == 1 and count("fsapp_call_records") == 1
        assert count("fsapp_node_visits") == len(outcome.trail)
    finally:
        store.close()


ACCOUNT = """flow: account
numbers: ["20100"]
languages: [zh-CN]
start: ask
nodes:
  ask:
    collect: {prompt: common/welcome, min: 4, max: 8, timeout: 5s, digit_timeout: 3s, tries: 1,
              invalid: common/invalid_choice, into: account}
    next: menu
    on_fail: bye
  menu:
    menu: {prompt: common/welcome, options: {"1": one, "10": ten}, digit_timeout: 2s, tries: 1, on_fail: bye}
  one: {hangup: {prompt: common/goodbye}}
  ten: {hangup: {}}
  bye: {hangup: {}}
"""


def test_simulate_press_1234_then_waiting_is_accepted(cfg, tmp_path):
    """A min-4 account number ended by waiting (no #): FreeSWITCH reports read_result=timeout
    with the digits in the variable (capture pagd_timeout_with_digits). It used to print
    "not accepted: no input". A lone 1 beside a "10" option is chosen after digit_timeout."""
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "account.yaml").write_text(ACCOUNT, encoding="utf-8")
    result = CliRunner().invoke(main, ["--config", str(cfg.path), "simulate", str(flows / "account.yaml"),
                                       "--press", "1234", "--press", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "  pressed  1234" in lines and "  pressed  1" in lines, result.output
    assert not any("not accepted" in line for line in lines), result.output
    assert "ended: hangup in account.one (NORMAL_CLEARING)" in lines


CONFIRM = """flow: confirm
numbers: ["20200"]
languages: [zh-CN]
start: ask
nodes:
  ask:
    collect:
      prompt: common/welcome
      max: 4
      tries: 1
      readback: true
      confirm: {prompt: common/press_pound_to_confirm, yes: "1", flush: FLUSH}
      into: account
    next: confirmed
    on_fail: not_confirmed
  confirmed: {hangup: {}}
  not_confirmed: {hangup: {}}
"""


@pytest.mark.parametrize("flush, ends_in", [("true", "not_confirmed"), ("false", "confirmed")])
def test_confirm_is_not_answered_by_keys_pressed_before_it(cfg, tmp_path, flush, ends_in):
    """The caller keys 1 while the digits are read back: with confirm.flush (the default)
    that key is discarded and the question waits for an answer given to it."""
    from fsapp.sim import Press, WaitPrompt

    report, _, outcome = call_flow(cfg, tmp_path, CONFIRM.replace("FLUSH", flush), "20200", [
        WaitPrompt("common/welcome", after="start"), Press("4321"), WaitPrompt("/say/", after="start"), Press("1")])
    assert report.error is None, report.error
    assert "/say/" in report.heard[1]  # the 1 came during the readback
    # flushed: the question is asked and waits; kept: the early 1 answered it unheard
    assert any("press_pound_to_confirm" in p for p in report.heard) == (flush == "true")
    assert outcome.node == ends_in


def call_flow(cfg, tmp_path, flow_text: str, number: str, steps):
    """One emulated call to a flow over TCP (its own switch and worker); (the caller's
    report, the fake store, the call's outcome)."""
    from fsapp.esl.outbound import OutboundServer
    from fsapp.sim import CallerScript, Socket, Switch, VirtualClock

    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "flow.yaml").write_text(flow_text, encoding="utf-8")
    store = FakeStore()
    handler = flow_handler(flows, cfg, services=fake_services(cfg, store))
    clock = VirtualClock(idle_s=0.3)   # a loaded machine must not look idle between steps
    switch = Switch(esl=("127.0.0.1", 0), clock=clock).start()
    server = OutboundServer(handler, ("127.0.0.1", 0), linger=5).start()
    try:
        switch.dialplan.add(rf"^{number}$", Socket(f"127.0.0.1:{server.port} async full"))
        report = switch.place_call(CallerScript(dial=number, steps=steps)).wait(60)
        with gevent.Timeout(10):
            while not handler.outcomes:
                gevent.sleep(0.05)
    finally:
        server.stop(timeout=2)
        switch.stop()
        clock.close()
    return report, store, handler.outcomes[-1]


def test_simulate_reaches_loopback_agents_and_names_unreachable_contacts(tmp_path):
    """An agent reached as loopback/EXT/CONTEXT (works on a real switch) answers in the
    emulator too; a contact it cannot reach is named, with what it can reach."""
    from fsapp.esl import InboundClient, OriginateError
    from fsapp.app.simulate import add_emulated_agents
    from fsapp.sim import Switch

    routing = tmp_path / "routing.yaml"
    routing.write_text("""
queues:
  q: {strategy: longest-idle-agent}
agents:
  "7100": {contact: loopback/7100/default}
  "1001": {contact: user/1001}
  "9000": {contact: sofia/gateway/pstn/13900000000}
tiers:
  - {queue: q, agent: "7100", level: 1, position: 1}
""", encoding="utf-8")
    toml = write_fsapp_toml(tmp_path, {"routing": {"config": routing}})
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    try:
        notes = add_emulated_agents(sw, config.load(toml, env={}), ring_s=0.2, talk_s=5.0)
        assert notes == ["agent 9000: contact sofia/gateway/pstn/13900000000 cannot be reached in the "
                         "emulator (it rings user/N and loopback/EXT[/CONTEXT] contacts); calls offered "
                         "to this agent fail"]
        esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon").start()
        try:
            leg = esl.originate("loopback/7100/default", "&park", timeout=10)
            with gevent.Timeout(10):
                while sw.channels[leg].get_var("loopback_leg") == "A" and \
                        sw.channels[leg].links.peer.status.answer_state != "answered":
                    gevent.sleep(0.02)
            assert sw.channels[leg].links.peer.status.answer_state == "answered"
            assert esl.originate("user/1001", "&park", timeout=10)
            with pytest.raises(OriginateError):
                esl.originate("loopback/7999/default", "&park", timeout=10)
        finally:
            esl.stop()
        assert any("no dialplan entry matches '7999'" in n and "^7100$" in n for n in sw.unreachable)
    finally:
        sw.stop()


PROMPTS = """flow: prompts
numbers: ["20300"]
languages: [zh-CN]
start: welcome
nodes:
  welcome: {play: [{tone: "%(300,0,400)"}], next: pick}
  pick:
    branch:
      - {when: "call.caller_id == '1'", goto: other}
    else: notice
  other: {play: [{tone: "%(100,0,500)"}], next: save}
  notice: {goto: second}
  second: {play: [{tone: "%(200,0,600)"}], next: NEXT}
  save:
    write:
      kind: ticket
      row: {caller_number: "{{ call.caller_id }}"}
    next: bye
  bye: {hangup: {prompt: [{tone: "%(250,0,700)"}]}}
"""


def _run_prompts(cfg, tmp_path, next_node, steps):
    return call_flow(cfg, tmp_path, PROMPTS.replace("NEXT", next_node), "20300", steps)


def test_prompts_follow_each_other_without_a_round_trip(cfg, tmp_path):
    """Play nodes, the goto and branch between them and the goodbye before the hang-up do
    not wait for each prompt to end: each prompt starts the moment the one before it ends
    (waiting for it would put a media frame or more between them, as on FreeSWITCH), the
    goodbye is heard whole and only then does the call end."""
    from fsapp.sim import WaitPrompt
    report, store, outcome = _run_prompts(cfg, tmp_path, "bye", [WaitPrompt("%(250,0,700)")])
    assert report.error is None, report.error
    assert outcome.reason == "hangup" and outcome.trail == ["welcome", "pick", "notice", "second", "bye"]
    starts = [t for t, what, _ in report.timeline if what == "prompt"]
    hung_up = next(t for t, what, _ in report.timeline if what == "hangup")
    # each gap is the prompt's length: less than one 20 ms media frame more (waiting for a
    # prompt's end first costs the parked session at least a frame)
    gaps = [b - a - length for a, b, length in zip(starts, starts[1:], (0.3, 0.2))]
    assert all(0 <= gap < 0.015 for gap in gaps), report.timeline
    assert round(hung_up - starts[-1], 3) >= 0.25, report.timeline


def test_a_caller_gone_during_prompts_gets_nothing_written(cfg, tmp_path):
    """Before any node other than a prompt, a goto or a branch, fsapp waits for the prompts
    before it: a caller who hangs up during them has no row written for them."""
    from fsapp.sim import Hangup, Wait
    report, store, outcome = _run_prompts(cfg, tmp_path, "save", [Wait(0.4), Hangup()])
    assert [w["kind"] for w in store.writes] == ["call_record"], store.writes
    # the call ended in the prompt it was hearing; `save` was never entered
    assert outcome.trail == ["welcome", "pick", "notice", "second"] and outcome.node == "second", outcome

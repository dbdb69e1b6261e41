"""Flows over real TCP: fsapp.sim (emulated FreeSWITCH) -> fsapp.esl outbound server ->
fsapp.flow.runtime; simulate, hot reload with live calls keeping their version, and the
deploy / reload verbs against a running handler's control socket."""
import shutil
from pathlib import Path

import gevent
import pytest
from click.testing import CliRunner

from fsapp import config
from fsapp.cli import main
from fsapp.flow.interpreter import Services
from fsapp.flow.runtime import FlowHandler, FlowLoadError, request
from fsapp.flow.simulate import simulate
from fsapp.flow.testing import FakeRouter, FakeStore, fake_calendars

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "ivr_flows" / "example_menu.yaml"


@pytest.fixture
def cfg(tmp_path):
    toml = tmp_path / "fsapp.toml"
    toml.write_text(f"""
[flows]
dir = "{tmp_path / 'flows'}"
control = "{tmp_path / 'control.sock'}"
recordings = "{tmp_path / 'recordings'}"
calendars = "{ROOT / 'calendars.yaml'}"
[sounds]
dir = "{ROOT / 'sounds'}"
[store]
queries = "{ROOT / 'queries'}"
[routing]
config = "{ROOT / 'routing.yaml'}"
""", encoding="utf-8")
    return config.load(toml, env={})


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
    lines = result.output.splitlines()
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
    handler = FlowHandler(flows, cfg, services=fake_services(cfg))
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
        assert request(cfg.get("flows", "control"), "status")["flows"] == {"live": v2}
    finally:
        server.stop(timeout=2)
        switch.stop()
        handler.control_server.stop()


def test_handler_refuses_a_bad_directory(cfg, tmp_path):
    (tmp_path / "bad.yaml").write_text("flow: x\n", encoding="utf-8")
    with pytest.raises(FlowLoadError, match="missing required field"):
        FlowHandler(tmp_path, cfg, services=fake_services(cfg))


def test_deploy_and_reload_cli(cfg, tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "live.yaml").write_text(MENU_V1, encoding="utf-8")
    handler = FlowHandler(flows, cfg, services=fake_services(cfg))
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
    from fsapp.flow import runtime
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
  w: {write: {kind: call_record, row: {flow: f}}, next: bye}
  bye: {hangup: {}}
""", encoding="utf-8")
    handler = FlowHandler(flows, cfg)
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
    from fsapp.flow.trace import NodeVisitWriter
    from fsapp.store import Store
    store = Store({"main": sqlite_odbc}, spool_dir=tmp_path / "spool", start=False)
    try:
        store.migrate()
        flow, problems = compile_file(EXAMPLE)
        assert not problems
        services = Services(store=store, calendars=fake_calendars({"office_hours": "open"}),
                            recordings=tmp_path / "rec")
        services.tracer = NodeVisitWriter(store)
        call = ScriptedCall(["2", "#"])
        outcome = run_call(call, flow, services)
        assert outcome.reason == "hangup"
        count = lambda table: store.execute(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]  # noqa: E731
        assert count("fsapp_recordings") == 1 and count("fsapp_call_records") == 1
        assert count("fsapp_node_visits") == len(outcome.trail)
    finally:
        store.close()

"""Supervisor controls (listen, whisper, barge, force release) and the agent-id
announcement, end to end against the emulated FreeSWITCH, on both backends."""
import time

import gevent
import pytest

from fsapp.esl import InboundClient, OutboundServer
from fsapp.routing.announce import AgentIdPrompts
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.model import AgentState
from fsapp.routing.router import Router
from fsapp.routing.supervisor import NotOnCall, find_agent_call
from fsapp.say import render
from fsapp.sim import CallerScript, Socket, Switch, Wait
from fsapp.sim.apps.eavesdrop import spies
from fsapp.sim.media import write_wav
from fsapp.sounds import Catalog
from fsapp.yamlsrc import SourceError

MOH = "tone_stream://%(1000,0,440);loops=-1"
AFTER = "silence_stream://300"      # what the flow plays after the queue (e.g. the survey)

CONFIG = f"""
queues:
  sales:
    moh-sound: "{MOH}"
    offer-timeout: 5
  announced:
    moh-sound: "{MOH}"
    offer-timeout: 5
    announce-agent-id: true
    agent-id-prompt: common/agent_number
    agent-id-prompt-after: common/will_serve_you
    agent-id-language: en-US
agents:
  "1001": {{contact: user/1001, status: Available, wrap-up-time: 1.5}}
tiers:
  - {{queue: sales, agent: "1001"}}
  - {{queue: announced, agent: "1001"}}
"""


@pytest.fixture
def acd(backend):
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    cfg = loads_routing(CONFIG, "test.yaml")
    seed_backend(cfg, backend, time.time() - 100)
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=5.0).start()
    router = Router(cfg, backend, esl, worker_id="w-sup", lease=10.0).start()
    outcomes = {}

    def handler(call):
        call.answer()
        outcome = outcomes[call.uuid] = router.enqueue(call, call.destination.split("-")[1], timeout=60)
        if not call.ended:
            call.playback(AFTER, timeout=5)        # the caller's leg outlived the agent's
            call.hangup()

    server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
    sw.dialplan.add(r"^q-\w+$", Socket(f"127.0.0.1:{server.port} async full"))
    events = []
    esl.subscribe("MEDIA_BUG_START", "MEDIA_BUG_STOP")
    esl.on("MEDIA_BUG_START", events.append)
    esl.on("MEDIA_BUG_STOP", events.append)
    yield sw, router, backend, outcomes, events
    router.stop()
    server.stop(timeout=2)
    esl.stop()
    sw.stop()


def on_call(sw, backend, queue="sales", talk_s=30):
    """A caller in `queue` served by agent 1001; returns (caller, the agent's AgentCall)."""
    sw.add_agent("1001", ring_s=0.1, talk_s=talk_s)
    caller = sw.place_call(CallerScript(dial=f"q-{queue}", caller_id="13800138000", steps=[Wait(40)]))
    with gevent.Timeout(15):
        while find_agent_call(backend, "1001") is None:
            gevent.sleep(0.05)
    return caller, find_agent_call(backend, "1001")


def wait_for(predicate, timeout=10.0):
    with gevent.Timeout(timeout):
        while not predicate():
            gevent.sleep(0.05)


def test_listen_then_force_release_puts_the_agent_in_wrap_up(acd):
    sw, router, backend, outcomes, events = acd
    caller, call = on_call(sw, backend)
    assert sw.channels[call.leg].links.bridged_to.uuid == call.member      # the state names the bridged leg
    sw.add_agent("2001", ring_s=0.1, talk_s=60)
    published = []
    backend.subscribe(published.append)
    sup = router.supervisor()
    listening = sup.listen("1001", "user/2001")
    assert (listening.agent_leg, listening.member, listening.queue) == (call.leg, call.member, "sales")
    wait_for(lambda: spies(sw, call.leg))
    [spy] = spies(sw, call.leg)
    assert spy.eavesdropper == listening.supervisor_leg and spy.mode == "listen" and spy.dtmf
    wait_for(lambda: any(e.get("Event-Name") == "MEDIA_BUG_START" for e in events))
    start = next(e for e in events if e.get("Event-Name") == "MEDIA_BUG_START")
    assert (start.get("Unique-ID"), start.get("Media-Bug-Function")) == (call.leg, "eavesdrop")

    released = sup.release("1001")
    assert released.agent_leg == call.leg
    report = caller.wait(20)
    outcome = outcomes[report.uuid]
    assert outcome.kind == "answered" and outcome.agent == "1001" and outcome.talk_s < 20, outcome
    assert report.heard[-1] == AFTER                                 # the caller's leg survived
    # the agent's leg went down: the bug came off, the supervisor's leg ended with it
    wait_for(lambda: any(e.get("Event-Name") == "MEDIA_BUG_STOP" for e in events))
    wait_for(lambda: listening.supervisor_leg not in sw.channels)
    # wrap-up as after any call, then available again
    rec = backend.get_agent("1001")
    assert rec.calls_answered == 1 and not rec.live_claims(time.time())
    assert rec.ready_at >= rec.last_bridge_end + 1.5 - 0.01        # wrap-up-time
    wait_for(lambda: backend.get_agent("1001").state(time.time()) == AgentState.WAITING, timeout=5)
    assert find_agent_call(backend, "1001") is None
    with pytest.raises(NotOnCall, match="not on a queue call"):
        sup.release("1001")
    assert {"supervisor-listen", "supervisor-release"} <= {e["event"] for e in published}


@pytest.mark.parametrize("mode, expected", [("whisper", "whisper-target"), ("barge", "barge")])
def test_whisper_and_barge_set_the_eavesdrop_variables(acd, mode, expected):
    sw, router, backend, outcomes, events = acd
    caller, call = on_call(sw, backend)
    sw.add_agent("2001", ring_s=0.1, talk_s=60)
    result = getattr(router.supervisor(), mode)("1001", "user/2001")
    wait_for(lambda: spies(sw, call.leg))
    [spy] = spies(sw, call.leg)
    # whisper: the agent (the target) hears the supervisor, the caller does not; barge: both
    assert spy.mode == expected and spy.mux_write and spy.mux_read == (mode == "barge")
    assert sw.channels[result.supervisor_leg].get_var("fsapp_supervise") == mode
    # the supervisor hangs up: the bug goes, the call goes on
    router.esl.uuid_kill(result.supervisor_leg)
    wait_for(lambda: not spies(sw, call.leg))
    assert not sw.channels[call.leg].status.hungup
    router.supervisor().release("1001")
    assert outcomes.get(caller.wait(20).uuid).kind == "answered"


def test_supervising_an_idle_or_unknown_agent_is_a_clear_error(acd):
    sw, router, backend, outcomes, events = acd
    sup = router.supervisor()
    with pytest.raises(NotOnCall, match="'1001' is not on a queue call"):
        sup.listen("1001", "user/2001")
    with pytest.raises(NotOnCall, match="unknown agent '9999'"):
        sup.barge("9999", "user/2001")
    with pytest.raises(ValueError, match="dial string"):
        sup.whisper("1001", "{x=1}user/2001")


def test_a_stale_call_record_is_detected_on_the_switch(acd):
    sw, router, backend, outcomes, events = acd
    from fsapp.routing.supervisor import note_agent_call
    note_agent_call(backend, "1001", "00000000-0000-0000-0000-000000000001", "m", "sales", time.time())
    with pytest.raises(NotOnCall, match="already ended"):
        router.supervisor().listen("1001", "user/2001")
    assert find_agent_call(backend, "1001") is None


# ---- agent-id announcement ----------------------------------------------------------------

CATALOG = """
languages: [en-US]
scoped:
  say/en/: en-US
prompts:
  common/agent_number: {en-US: Agent number}
  common/will_serve_you: {en-US: will serve you.}
""" + "".join(f"  say/en/{d}: {{en-US: '{d}'}}\n" for d in range(10))


@pytest.fixture
def catalog(tmp_path):
    (tmp_path / "catalog.yaml").write_text(CATALOG)
    cat = Catalog.load(tmp_path / "catalog.yaml")
    for name in cat.names():
        path = cat.path(name, "en-US")
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(str(path), [(0.1, True)])
    return cat


def test_agent_id_is_announced_to_the_caller_before_the_bridge(acd, catalog):
    sw, router, backend, outcomes, events = acd
    router.agent_id_prompts = AgentIdPrompts(catalog, render)
    sw.add_agent("1001", ring_s=0.1, talk_s=3)
    report = sw.place_call(CallerScript(dial="q-announced", steps=[Wait(40)])).wait(20)
    expected = [str(catalog.path(n, "en-US")) for n in
                ["common/agent_number", "say/en/1", "say/en/0", "say/en/0", "say/en/1", "common/will_serve_you"]]
    heard = report.heard
    first = heard.index(expected[0])
    assert heard[first:first + len(expected)] == expected, heard
    kinds = [(what, detail) for _, what, detail in report.timeline]
    announced_at = kinds.index(("prompt", expected[-1]))
    bridged_at = next(i for i, (what, _) in enumerate(kinds) if what == "bridged")
    assert announced_at < bridged_at, kinds
    assert outcomes[report.uuid].kind == "answered"


def test_agent_id_announcement_skipped_when_prompts_are_missing(acd, catalog, tmp_path):
    sw, router, backend, outcomes, events = acd
    router.agent_id_prompts = AgentIdPrompts(catalog, render)
    router.config.queues["announced"].agent_id_prompt = "common/no_such_prompt"
    sw.add_agent("1001", ring_s=0.1, talk_s=1)
    report = sw.place_call(CallerScript(dial="q-announced", steps=[Wait(40)])).wait(20)
    assert outcomes[report.uuid].kind == "answered" and report.bridged_to      # still served
    assert not any("agent_number" in p or "say/en" in p for p in report.heard)


def test_announce_agent_id_without_a_prompt_is_a_config_error():
    with pytest.raises(SourceError, match=r"bad.yaml:4: .*announce-agent-id needs agent-id-prompt"):
        loads_routing("queues:\n  q:\n    strategy: ring-all\n    announce-agent-id: true\n", "bad.yaml")


# ---- the CLI: fsapp agent listen|whisper|barge|release ------------------------------------------

def test_cli_listen_and_release_through_redis(redis_url, tmp_path, monkeypatch):
    """The CLI is another process in production: it finds the agent's leg in the shared
    (Redis) state the serving router wrote, and acts on the switch over [esl]."""
    import json
    import uuid

    from click.testing import CliRunner

    from fsapp.cli import main
    from fsapp.routing.redis_backend import RedisBackend

    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    backend = RedisBackend.from_url(redis_url, prefix=prefix)
    (tmp_path / "routing.yaml").write_text(CONFIG)
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    cfg = loads_routing(CONFIG, str(tmp_path / "routing.yaml"))
    seed_backend(cfg, backend, time.time() - 100)
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=5.0).start()
    router = Router(cfg, backend, esl, worker_id="w-cli", lease=10.0).start()
    outcomes = {}

    def handler(call):
        call.answer()
        outcomes[call.uuid] = router.enqueue(call, "sales", timeout=60)
        if not call.ended:
            call.hangup()

    server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
    sw.dialplan.add(r"^q-\w+$", Socket(f"127.0.0.1:{server.port} async full"))
    for key, value in {"FSAPP_ROUTING_CONFIG": str(tmp_path / "routing.yaml"), "FSAPP_ROUTING_BACKEND": "redis",
                       "FSAPP_ROUTING_REDIS_URL": redis_url, "FSAPP_ROUTING_REDIS_PREFIX": prefix,
                       "FSAPP_ESL_HOST": "127.0.0.1", "FSAPP_ESL_PORT": str(sw.esl_port),
                       "FSAPP_ESL_PASSWORD": "ClueCon"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("FSAPP_CONFIG", raising=False)
    runner = CliRunner()
    try:
        idle = runner.invoke(main, ["agent", "listen", "1001", "--supervisor", "user/2001"])
        assert idle.exit_code != 0 and "not on a queue call" in idle.output, idle.output
        caller, call = on_call(sw, backend)
        sw.add_agent("2001", ring_s=0.1, talk_s=60)
        out = runner.invoke(main, ["agent", "listen", "1001", "--supervisor", "user/2001", "--json"])
        assert out.exit_code == 0, out.output
        data = json.loads(out.stdout)          # logs go to stderr
        assert (data["mode"], data["agent_leg"], data["queue"]) == ("listen", call.leg, "sales")
        wait_for(lambda: spies(sw, call.leg))
        assert spies(sw, call.leg)[0].eavesdropper == data["supervisor_leg"]
        out = runner.invoke(main, ["agent", "release", "1001"])
        assert out.exit_code == 0 and "released; wrap-up follows" in out.output, out.output
        assert outcomes[caller.wait(20).uuid].kind == "answered"
        rec = backend.get_agent("1001")
        assert rec.ready_at >= rec.last_bridge_end + 1.5 - 0.01 and not rec.live_claims(time.time())
    finally:
        router.stop()
        server.stop(timeout=2)
        esl.stop()
        sw.stop()
        backend.delete_all()
        backend.close()


def test_cli_refuses_a_memory_backend_with_what_to_do(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from fsapp.cli import main
    (tmp_path / "routing.yaml").write_text(CONFIG)
    monkeypatch.setenv("FSAPP_ROUTING_CONFIG", str(tmp_path / "routing.yaml"))
    monkeypatch.setenv("FSAPP_ROUTING_BACKEND", "memory")
    monkeypatch.delenv("FSAPP_CONFIG", raising=False)
    out = CliRunner().invoke(main, ["agent", "barge", "1001", "--supervisor", "user/2001"])
    assert out.exit_code != 0 and "backend = redis" in out.output, out.output
    out = CliRunner().invoke(main, ["agent", "release", "1001", "--cause", "bad cause"])
    assert out.exit_code != 0 and "FreeSWITCH cause" in out.output, out.output

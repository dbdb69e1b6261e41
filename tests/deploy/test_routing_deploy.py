"""`fsapp deploy` of a new routing.yaml while emulated callers wait in a queue and one
talks to an agent (issue 17; the 200-call flow deploy test is the model): the running
router takes the new routing without a restart, every call keeps the routing of the
version it started under (here: its queue's overflow rules and music on hold), the shared
state is reconciled, not wiped (the agent on a call stays on it, busy; new agents and
tiers serve every waiting caller, old or new), and no call fails."""
import time

from click.testing import CliRunner

from fsapp import config
from fsapp.cli import main
from tests.fsapp_toml import write_fsapp_toml

from deploy_helpers import wait_until

BEFORE = AFTER = 100            # callers waiting at the deploy; as many again after it
AGENTS = 20                     # the new version's agents
MOH_V1 = "tone_stream://%(1000,0,440);loops=-1"
MOH_V2 = "tone_stream://%(1000,0,523);loops=-1"

FLOW = """flow: line
numbers: ["7000"]
languages: [en-US]
start: agents
nodes:
  agents:
    queue: {queue: sales, into: q, on_overflow: bye, on_timeout: bye}
    next: bye
  bye:
    hangup: {prompt: {tone: "%(100,0,560)"}}
"""

V1 = f"""queues:
  sales:
    strategy: top-down
    moh-sound: "{MOH_V1}"
    offer-timeout: 5
agents:
  "1001": {{contact: user/1001, status: Available, wrap-up-time: 0}}
tiers:
  - {{queue: sales, agent: "1001"}}
"""
# sales: new music on hold, and a rule sending every caller on to the new queue vip;
# 1001 keeps its record but leaves the queue; twenty agents join both queues
V2 = f"""queues:
  sales:
    strategy: top-down
    moh-sound: "{MOH_V2}"
    offer-timeout: 5
    overflow:
      - {{queue_longer_than: 0, queue: vip}}
  vip:
    strategy: top-down
    moh-sound: "{MOH_V2}"
    offer-timeout: 5
agents:
  "1001": {{contact: user/1001, status: Available, wrap-up-time: 2}}
""" + "".join(f'  "{2000 + i}": {{contact: user/{2000 + i}, status: Available}}\n' for i in range(1, AGENTS + 1)) + \
    "tiers:\n" + "".join(f'  - {{queue: {q}, agent: "{2000 + i}"}}\n' for i in range(1, AGENTS + 1)
                         for q in ("sales", "vip"))


def _mohs(report) -> set[str]:
    return {p for p in report.heard if p.startswith("tone_stream://%(1000,")}


def test_a_routing_deploy_while_callers_wait(tmp_path):
    from fsapp.app.services import flow_handler
    from fsapp.esl.outbound import OutboundServer
    from fsapp.routing.model import AgentState
    from fsapp.sim import CallerScript, Socket, Switch

    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "line.yaml").write_text(FLOW, encoding="utf-8")
    routing = tmp_path / "routing.yaml"
    routing.write_text(V1, encoding="utf-8")
    switch = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    path = write_fsapp_toml(tmp_path, {
        "flows": {"dir": tmp_path / "flows", "control": tmp_path / "ctl.sock", "node_visits": False,
                  "recordings": tmp_path / "recordings", "calendars": tmp_path / "calendars.yaml"},
        "sounds": {"dir": tmp_path / "sounds"}, "campaign": {"dir": tmp_path / "campaigns"},
        "store": {"queries": tmp_path / "queries", "spool": tmp_path / "spool"},
        "routing": {"config": routing, "reconcile_interval": 3600},
        "deploy": {"dir": tmp_path / "versions"},
        "esl": {"port": switch.esl_port, "password": "ClueCon"}, "logging": {"level": "WARNING"}})
    cfg = config.load(path, env={})
    handler = flow_handler(str(tmp_path / "flows"), cfg)
    router = handler.services.router.base
    router.start()
    handler.listen(cfg.get("flows", "control"), sighup=False)
    outcomes = {}
    server = OutboundServer(lambda call: outcomes.__setitem__(call.uuid, handler(call)),
                            ("127.0.0.1", 0), linger=1, max_calls=4 * (BEFORE + AFTER)).start()
    switch.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{server.port} async full"))
    switch.add_agent("1001", ring_s=0.1, talk_s=3600)      # talks until the test hangs up
    for i in range(1, AGENTS + 1):
        # talk_s counted from the bridge: counted from the answer, a loaded machine's router
        # may send uuid_bridge after the agent has already hung up (a lost race, not a deploy)
        switch.add_agent(str(2000 + i), ring_s=0.1, talk_s=0.5, talk_from="bridge")

    def place():
        return switch.place_call(CallerScript(dial="7000", steps=[]))

    offered = {}     # member (the call's uuid) -> the queues it was offered agents in
    router.backend.subscribe(lambda e: e.get("event") == "member-offered"
                             and offered.setdefault(e["member"], set()).add(e["queue"]))

    def waiting():
        return len(router.backend.members("sales"))

    def deploy(message):
        result = CliRunner().invoke(main, ["--config", str(path), "deploy", "-m", message])
        assert result.exit_code == 0, result.output
        return result.output

    try:
        deploy("the first version")
        talking = place()
        wait_until(lambda: switch.agents["1001"].calls and switch.agents["1001"].calls[0]["answered_at"],
              "agent 1001 to answer the first caller")
        before = [place() for _ in range(BEFORE)]
        wait_until(lambda: waiting() >= BEFORE + 1 and all(_mohs(c.report) for c in before),
              f"{BEFORE} callers on hold")
        old_version = router.version

        routing.write_text(V2, encoding="utf-8")
        output = deploy("twenty agents")
        assert "queues    ~ sales" in output and "routing.yaml applied" in output
        assert router.version is not old_version              # applied to the running router
        # the agent on a call: still on it and busy, its new settings taken, its old tier gone
        agent = router.backend.get_agent("1001")
        assert agent.state(time.time()) == AgentState.IN_A_QUEUE_CALL and agent.wrap_up_time == 2
        assert sorted(t.agent for t in router.backend.tiers(queue="sales")) == [str(2000 + i) for i in
                                                                               range(1, AGENTS + 1)]
        after = [place() for _ in range(AFTER)]
        reports = [c.wait(300) for c in before + after]
        # every waiting caller, old and new, was answered by one of the new agents ...
        # (the handler returns just after the caller's report: the flow's hangup comes first)
        wait_until(lambda: all(outcomes.get(r.uuid) is not None for r in reports), "every flow to return")
        answered = [outcomes[r.uuid].vars["q"] for r in reports]
        assert {a["kind"] for a in answered} == {"answered"}
        new_agents = {f"sofia/internal/{2000 + i}@" for i in range(1, AGENTS + 1)}
        assert [r.bridged_to for r in reports
                if not r.bridged_to or not {leg.split("@")[0] + "@" for leg in r.bridged_to} <= new_agents] == []
        # ... under the rules of the version its call started under: the callers from before
        # stayed in sales (its rule came with the deploy), the others moved on to vip ...
        assert [offered.get(r.uuid) for r in reports[:BEFORE]] == [{"sales"}] * BEFORE
        assert [offered.get(r.uuid) for r in reports[BEFORE:]] == [{"vip"}] * AFTER
        # ... and to the end with the music of that version
        assert [_mohs(r) for r in reports[:BEFORE]] == [{MOH_V1}] * BEFORE
        assert all(_mohs(r) <= {MOH_V2} for r in reports[BEFORE:])
        assert {outcomes[r.uuid].reason for r in reports} == {"hangup"}
        # the first caller is still talking to 1001, who was never offered another call
        assert len(switch.agents["1001"].calls) == 1 and talking.report.hangup_cause is None
        assert switch.api.execute("uuid_kill", switch.agents["1001"].calls[0]["uuid"]).startswith("+OK")
        first = talking.wait(60)
        wait_until(lambda: first.uuid in outcomes, "the first call to end")
        assert outcomes[first.uuid].vars["q"]["kind"] == "answered"
        assert server.refused_calls == 0
    finally:
        handler.control_server.stop()
        server.stop(timeout=2)
        router.stop()
        router.esl.stop()
        switch.stop()


def test_a_reload_reuses_the_router_with_the_new_routing_and_catalog(project, tmp_path):
    """A reload keeps the running router (its state, its ESL link) and gives it the new
    routing.yaml and prompt catalog; the previous registry's calls keep their version."""
    from fsapp.app.services import flow_handler

    (tmp_path / "flows" / "queue.yaml").write_text(
        'flow: queued\nnumbers: ["20010"]\nlanguages: [zh-CN]\nstart: wait\nnodes:\n'
        '  wait: {queue: {queue: hotline}, next: bye}\n  bye: {hangup: {prompt: common/goodbye}}\n',
        encoding="utf-8")
    cfg = project.with_values("esl", password="ClueCon").with_values("flows", node_visits=False)
    handler = flow_handler(tmp_path / "flows", cfg)
    before, old_catalog = handler.registry.services.router, handler.services.catalog
    router = before.base
    assert before.version.config.queue("hotline").strategy == "longest-idle-agent"
    routing = tmp_path / "routing.yaml"
    routing.write_text(routing.read_text().replace("strategy: longest-idle-agent", "strategy: ring-all", 1))
    answer = handler.reload()
    assert answer["ok"] and any(n.startswith("routing.yaml applied") for n in answer["notes"]), answer
    after = handler.registry.services.router
    assert after.base is router and router.version is after.version
    assert after.version.config.queue("hotline").strategy == "ring-all"
    assert before.version.config.queue("hotline").strategy == "longest-idle-agent"
    assert router.agent_id_prompts.catalog is handler.services.catalog is not old_catalog
    # nothing changed: the same version, and no note
    answer = handler.reload()
    assert handler.registry.services.router.version is after.version and not answer["notes"]

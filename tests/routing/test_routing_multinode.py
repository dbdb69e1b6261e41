"""Two emulated FreeSWITCH nodes, two routing workers, one redis-server: calls arriving
on both nodes share the agents, no agent is ever on two calls, none is left stuck."""
import time
import uuid

import gevent
import pytest

from fsapp.esl import InboundClient, OutboundServer
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.model import AgentState
from fsapp.routing.reconciler import Reconciler
from fsapp.routing.redis_backend import RedisBackend
from fsapp.routing.router import Router
from fsapp.sim import CallerScript, Socket, Switch, Wait

pytestmark = [pytest.mark.redis, pytest.mark.slow]

AGENTS = ["1001", "1002", "1003", "1004"]
CONFIG = """
queues:
  shared:
    strategy: longest-idle-agent
    moh-sound: "tone_stream://%(1000,0,440);loops=-1"
    offer-timeout: 5
agents:
""" + "".join(f'  "{a}": {{contact: user/{a}, status: Available, wrap-up-time: 0}}\n' for a in AGENTS) + \
    "tiers:\n" + "".join(f'  - {{queue: shared, agent: "{a}"}}\n' for a in AGENTS)


def test_two_nodes_share_agents(redis_url):
    prefix = f"multi:{uuid.uuid4().hex[:8]}:"
    cfg = loads_routing(CONFIG, "multi.yaml")
    nodes = []
    outcomes = {}
    try:
        for i in range(2):
            sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
            for a in AGENTS:     # the same agent phones are reachable from both nodes
                sw.add_agent(a, ring_s=0.1, talk_s=0.4)
            backend = RedisBackend.from_url(redis_url, prefix=prefix)
            seed_backend(cfg, backend, time.time() - 100)
            esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=5.0).start()
            router = Router(cfg, backend, esl, worker_id=f"worker{i}", lease=10.0).start()

            def handler(call, router=router):
                call.answer()
                outcomes[call.uuid] = router.enqueue(call, "shared", timeout=90)

            server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
            sw.dialplan.add(r"^5000$", Socket(f"127.0.0.1:{server.port} async full"))
            nodes.append((sw, backend, esl, router, server))
        callers = [node[0].place_call(CallerScript(dial="5000", caller_id=f"1380000{n:04d}", steps=[Wait(60)]))
                   for n in range(8) for node in nodes]
        reports = [c.wait(timeout=120) for c in callers]
        with gevent.Timeout(20):
            while len(outcomes) < len(reports):
                gevent.sleep(0.1)
        assert sorted(o.kind for o in outcomes.values()) == ["answered"] * 16, outcomes
        # an agent's calls, on either node, never overlap in time
        for a in AGENTS:
            spans = sorted((c["answered_at"], c["ended_at"]) for sw, *_ in nodes
                           for c in sw.agents[a].calls if c["answered_at"] is not None)
            assert spans, f"agent {a} never served"
            for (s1, e1), (s2, e2) in zip(spans, spans[1:]):
                assert s2 >= e1 - 0.05, f"agent {a} double-booked: {s1:.2f}-{e1:.2f} and {s2:.2f}-{e2:.2f}"
        both = {o.agent for o in outcomes.values()}
        assert both == set(AGENTS)
        backend = nodes[0][1]
        now = time.time()
        assert all(r.state(now) == AgentState.WAITING and not r.claims for r in backend.agents())
        assert backend.members("shared") == []
        assert sum(r.calls_answered for r in backend.agents()) == 16
    finally:
        for sw, backend, esl, router, server in nodes:
            router.stop()
            server.stop(timeout=2)
            esl.stop()
            sw.stop()
        if nodes:
            nodes[0][1].delete_all()
        for node in nodes:
            node[1].close()


def test_reconciler_repairs_stuck_agents_and_orphans(redis_backend):
    """A crashed worker on another node left a claim and a member; a live worker's member
    lost its channel. The reconciler repairs all three and says so."""
    from fsapp.routing.model import AgentConfig, AgentStatus, Member

    class FakeSwitch:     # what `show channels` reports: only "alive-call" is live
        connects = 1

        def show_channels(self):
            return [{"uuid": "alive-call"}]

    be = redis_backend
    now = time.time()
    for a in ("1001", "1002", "1003"):
        be.put_agent(AgentConfig(a, contact=f"user/{a}", status=AgentStatus.AVAILABLE), now)
    be.add_member(Member("dead-worker-call", "q", joined_at=now - 60, owner="dead", expires=now - 1))
    be.claim("1001", "dead-worker-call", "dead", 0.5, now - 5)                  # lapsed lease
    be.add_member(Member("hung-up-call", "q", joined_at=now - 10, owner="me", expires=now + 30))
    be.claim("1002", "hung-up-call", "me", 30, now)
    be.add_member(Member("alive-call", "q", joined_at=now - 10, owner="me", expires=now + 30))
    be.claim("1003", "alive-call", "me", 30, now)
    repairs = Reconciler(be, [FakeSwitch()], "me").run_once()
    text = "\n".join(repairs)
    assert "dead-worker-call" in text and "lease of worker dead lapsed" in text
    assert "hung-up-call" in text and "channel gone" in text
    assert "agent 1001: lapsed claim" in text and "agent 1002: claim for vanished member" in text
    assert "alive-call" not in text
    assert sorted(m.id for m in be.members("q")) == ["alive-call"]
    now = time.time()
    assert [a.name for a in be.agents() if a.state(now) == AgentState.WAITING] == ["1001", "1002"]
    assert Reconciler(be, [FakeSwitch()], "me").run_once() == []            # idempotent


def test_reconciler_keeps_a_caller_who_joins_while_it_asks_the_switch(redis_backend):
    """The switch's channel list is a round trip: a caller who answers, reaches the queue
    node and joins while it is on its way is not in that list. The reconciler must not
    remove it as 'channel gone' (it did when it read the channels before the members)."""
    from fsapp.routing.model import Member

    be = redis_backend
    now = time.time()

    class SlowSwitch:          # the new caller joins while `show channels` is answered
        connects = 1

        def show_channels(self):
            be.add_member(Member("new-call", "q", joined_at=now, owner="me", expires=now + 30))
            return [{"uuid": "other-call"}]

    assert Reconciler(be, [SlowSwitch()], "me").run_once() == []
    assert [m.id for m in be.members("q")] == ["new-call"]

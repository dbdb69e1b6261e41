"""Router.enqueue end to end against the emulated FreeSWITCH: hold, offer via originate,
answer and uuid_bridge, no answer / busy / reject, the caller hanging up while an agent
rings, wrap-up, overflow. Both backends."""
import time

import gevent
import pytest

from fsapp.esl import InboundClient, OutboundServer
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.model import AgentState, AgentStatus
from fsapp.routing.router import Router
from fsapp.sim import CallerScript, Hangup, Socket, Switch, Wait

MOH = "tone_stream://%(1000,0,440);loops=-1"

CONFIG = f"""
queues:
  sales:
    strategy: top-down
    moh-sound: "{MOH}"
    offer-timeout: 3
    overflow:
      - {{after: 30, queue: experts}}
  experts:
    moh-sound: "{MOH}"
    overflow:
      - {{after: 1, flow: mailbox}}
  ringall:
    strategy: ring-all
    moh-sound: "{MOH}"
agents:
  "1001": {{contact: user/1001, status: Available, wrap-up-time: 2, no-answer-delay-time: 30, max-no-answer: 1}}
  "1002": {{contact: user/1002, status: Available, wrap-up-time: 2, busy-delay-time: 40, reject-delay-time: 20}}
  "1003": {{contact: user/1003, status: Available, wrap-up-time: 2}}
  "2001": {{contact: user/2001, status: Logged Out}}
tiers:
  - {{queue: sales, agent: "1001", position: 1}}
  - {{queue: sales, agent: "1002", position: 2}}
  - {{queue: sales, agent: "1003", position: 3}}
  - {{queue: experts, agent: "2001"}}
  - {{queue: ringall, agent: "1001"}}
  - {{queue: ringall, agent: "1002"}}
"""


@pytest.fixture
def acd(backend):
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    cfg = loads_routing(CONFIG, "test.yaml")
    seed_backend(cfg, backend, time.time() - 100)
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=5.0).start()
    router = Router(cfg, backend, esl, worker_id="w-test", lease=10.0).start()
    outcomes = {}

    def handler(call):
        call.answer()
        queue = call.destination.split("-")[1]
        outcome = outcomes[call.uuid] = router.enqueue(call, queue, timeout=60)
        if outcome.kind != "answered" and not call.ended:
            call.hangup()      # a flow would go on to outcome.target (mailbox, ...)

    server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
    sw.dialplan.add(r"^q-\w+$", Socket(f"127.0.0.1:{server.port} async full"))

    class Acd:
        pass
    a = Acd()
    a.sw, a.router, a.backend, a.outcomes, a.esl = sw, router, backend, outcomes, esl

    def call(queue, steps, caller_id="13800138000", timeout=40):
        report = sw.place_call(CallerScript(dial=f"q-{queue}", caller_id=caller_id, steps=steps)).wait(timeout)
        with gevent.Timeout(15):
            while report.uuid not in outcomes:
                gevent.sleep(0.05)
        return report, outcomes[report.uuid]
    a.call = call
    yield a
    router.stop()
    server.stop(timeout=2)
    esl.stop()
    sw.stop()


def test_answered_bridged_then_wrap_up(acd):
    acd.sw.add_agent("1001", ring_s=0.2, talk_s=1.0)
    report, outcome = acd.call("sales", [Wait(20)])
    assert outcome.kind == "answered" and outcome.agent == "1001", outcome
    assert report.bridged_to and "1001" in report.bridged_to[0]
    assert outcome.talk_s >= 0.8
    rec = acd.backend.get_agent("1001")
    assert rec.calls_answered == 1 and not rec.live_claims(time.time())
    assert rec.state(time.time()) in (AgentState.IDLE, AgentState.WAITING)
    assert rec.ready_at >= rec.last_bridge_end + 2 - 0.01          # wrap-up-time
    assert acd.backend.members("sales") == []
    assert acd.backend.handle_times("sales")


def test_no_answer_busy_reject_then_next_agent(acd):
    acd.sw.add_agent("1001", ring_s=0.3, answer=False)
    acd.sw.add_agent("1002", ring_s=0.2, answer="busy")
    acd.sw.add_agent("1003", ring_s=0.2, talk_s=0.5)
    report, outcome = acd.call("sales", [Wait(20)])
    assert outcome.kind == "answered" and outcome.agent == "1003", outcome
    now = time.time()
    a1, a2 = acd.backend.get_agent("1001"), acd.backend.get_agent("1002")
    assert a1.status == AgentStatus.ON_BREAK and a1.no_answer_count == 1     # max-no-answer 1
    assert a1.ready_at > now + 20                                             # no-answer-delay-time 30
    assert a2.ready_at > now + 30 and a2.status == AgentStatus.AVAILABLE      # busy-delay-time 40


def test_reject_delay(acd):
    acd.sw.add_agent("1001", ring_s=0.2, answer="reject")
    acd.sw.add_agent("1002", ring_s=0.2, answer="reject")
    acd.sw.add_agent("1003", ring_s=0.2, talk_s=0.3)
    _, outcome = acd.call("sales", [Wait(20)])
    assert outcome.agent == "1003"
    assert acd.backend.get_agent("1002").ready_at > time.time() + 15         # reject-delay-time 20


def test_caller_hangs_up_while_agent_rings(acd):
    agent = acd.sw.add_agent("1001", ring_s=10, talk_s=1)
    report, outcome = acd.call("sales", [Wait(1.0), Hangup()])
    assert outcome.kind == "abandoned", outcome
    with gevent.Timeout(5):
        while not agent.calls or agent.calls[0]["ended_at"] is None:
            gevent.sleep(0.05)
    rang = agent.calls[0]["ended_at"] - agent.calls[0]["offered_at"]
    assert rang < 3, f"agent leg rang {rang:.1f}s after the caller left"
    rec = acd.backend.get_agent("1001")
    assert not rec.live_claims(time.time()) and rec.ready_at <= time.time()  # cancelled: no penalty
    assert acd.backend.members("sales") == []


def test_overflow_when_nobody_answers_in_time(acd):
    _, outcome = acd.call("experts", [Wait(10)])
    assert (outcome.kind, outcome.target) == ("overflow", "flow:mailbox")
    assert outcome.waited_s >= 0.9


def test_ring_all_first_answer_wins_other_cancelled(acd):
    slow = acd.sw.add_agent("1001", ring_s=5, talk_s=1)
    acd.sw.add_agent("1002", ring_s=0.3, talk_s=0.5)
    _, outcome = acd.call("ringall", [Wait(20)])
    assert outcome.agent == "1002"
    with gevent.Timeout(5):
        while not slow.calls or slow.calls[0]["ended_at"] is None:
            gevent.sleep(0.05)
    assert slow.calls[0]["answered_at"] is None
    assert acd.backend.get_agent("1001").ready_at <= time.time()

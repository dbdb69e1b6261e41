"""The dispatcher on both backends, with a controllable clock."""
import gevent
import pytest

from fsapp.routing.dispatcher import Assignment, Dispatcher
from fsapp.routing.model import AgentStatus, Member, MemberState, OfferResult
from fsapp.routing.policy import Decision
from routing_helpers import seeded_dispatcher

CONFIG = """
queues:
  sales:
    strategy: longest-idle-agent
    max-wait-time: 300
    overflow:
      - {after: 120, queue: experts}
  experts:
    strategy: ring-all
    tier-rules-apply: true
    tier-rule-wait-second: 30
  lonely:
    max-wait-time-with-no-agent: 20
agents:
  a1: {contact: user/1001, status: Available}
  a2: {contact: user/1002, status: Available}
  a3: {contact: user/1003, status: Available}
  x1: {contact: user/2001, status: Logged Out}
tiers:
  - {queue: sales, agent: a1}
  - {queue: sales, agent: a2}
  - {queue: experts, agent: a1, level: 1}
  - {queue: experts, agent: a2, level: 1}
  - {queue: experts, agent: a3, level: 2}
  - {queue: lonely, agent: x1}
"""


@pytest.fixture
def setup(backend):
    d, clock = seeded_dispatcher(backend, CONFIG)
    yield d, clock, backend
    d.stop()


def test_assigns_longest_idle_agent_and_respects_order(setup):
    d, clock, be = setup
    t1 = d.join(Member("m1", "sales", joined_at=clock.t))
    t2 = d.join(Member("m2", "sales", joined_at=clock.t + 1))
    t3 = d.join(Member("m3", "sales", joined_at=clock.t + 2))
    d.dispatch_once()
    a1, a2 = t1.wait(0), t2.wait(0)
    assert isinstance(a1, Assignment) and isinstance(a2, Assignment)
    assert {a1.agents[0].name, a2.agents[0].name} == {"a1", "a2"}
    assert t3.wait(0) is None                                # no free agent left
    assert be.get_member("m1").state == MemberState.TRYING
    # agent a1 finishes: m3 gets it on the next pass
    served = "m1" if a1.agents[0].name == "a1" else "m2"
    be.answered("a1", served, "w1", 30, clock.t)
    be.release("a1", served, "w1", OfferResult.COMPLETED, clock.t, 5)
    clock.t += 11                                             # wrap-up 10 s
    d.dispatch_once()
    assert t3.wait(0).agents[0].name == "a1"


def test_the_end_of_an_agents_wrap_up_wakes_the_dispatcher(setup):
    # A caller waits while the only agent wraps up: the end of wrap-up is the next timer,
    # so the caller is offered the agent then, not at the next unrelated event.
    d, clock, be = setup
    be.set_status("a2", AgentStatus.ON_BREAK, clock.t)
    t1 = d.join(Member("m1", "sales", joined_at=clock.t))
    d.dispatch_once()
    assert t1.wait(0).agents[0].name == "a1"
    be.answered("a1", "m1", "w1", 30, clock.t)
    be.release("a1", "m1", "w1", OfferResult.COMPLETED, clock.t, 5)
    t2 = d.join(Member("m2", "sales", joined_at=clock.t))
    ready = be.get_agent("a1").ready_at
    assert clock.t < ready < clock.t + 120                   # before the overflow timer
    assert d.dispatch_once() == ready
    clock.t = ready
    d.dispatch_once()
    assert t2.wait(0).agents[0].name == "a1"


def test_priority_jumps_the_line(setup):
    d, clock, be = setup
    be.set_status("a2", AgentStatus.ON_BREAK, clock.t)
    d.join(Member("early", "sales", joined_at=clock.t))
    vip = d.join(Member("vip", "sales", joined_at=clock.t + 5, priority=1))
    d.dispatch_once()
    assert isinstance(vip.wait(0), Assignment)


def test_overflow_after_timer_and_max_wait(setup):
    d, clock, be = setup
    for a in ("a1", "a2"):
        be.set_status(a, AgentStatus.ON_BREAK, clock.t)
    t = d.join(Member("m1", "sales", joined_at=clock.t))
    assert d.dispatch_once() == clock.t + 120                # the next timer, not a poll
    assert t.wait(0) is None
    clock.t += 120
    d.dispatch_once()
    decision = t.wait(0)
    assert isinstance(decision, Decision)
    assert (decision.kind, decision.action, decision.target) == ("overflow", "queue", "experts")


def test_max_wait_time_with_no_agent(setup):
    d, clock, be = setup
    # x1 logged out long ago: the limit was already reached, a new member waits
    # max-wait-time-with-no-agent-time-reached (5 s) only
    t = d.join(Member("m1", "lonely", joined_at=clock.t))
    assert d.dispatch_once() == clock.t + 5
    # the last agent logs out only now: members already waiting get the full 20 s
    be.set_status("x1", AgentStatus.AVAILABLE, clock.t)
    be.set_status("x1", AgentStatus.LOGGED_OUT, clock.t + 1)
    assert d.dispatch_once() == clock.t + 21
    clock.t += 21
    d.dispatch_once()
    assert t.wait(0).action == "max-wait-time-with-no-agent"


def test_ring_all_claims_every_free_agent_of_open_levels(setup):
    d, clock, be = setup
    t = d.join(Member("m1", "experts", joined_at=clock.t))
    assert d.dispatch_once() == clock.t + 30                 # level 2 opens after 30 s
    got = t.wait(0)
    assert sorted(a.name for a in got.agents) == ["a1", "a2"]
    for a in ("a1", "a2"):
        be.release(a, "m1", "w1", OfferResult.NO_ANSWER, clock.t)   # 10 s no-answer delay
    d.requeue("m1")
    clock.t += 5
    assert d.dispatch_once() == 1010.0                        # a1/a2's no-answer delay ends first
    assert t.wait(0) is None                                  # a1/a2 delayed, level 2 not open yet
    clock.t += 26
    d.dispatch_once()
    assert sorted(a.name for a in t.wait(0).agents) == ["a1", "a2", "a3"]


def test_events_wake_the_loop(setup):
    """With the loop running, an agent becoming available serves a waiting member at once."""
    d, clock, be = setup
    for a in ("a1", "a2"):
        be.set_status(a, AgentStatus.ON_BREAK, clock.t)
    d.fallback_wake = 300          # only an event can wake it within the test's time
    d.start()
    t = d.join(Member("m1", "sales", joined_at=clock.t))
    gevent.sleep(0.2)
    passes = d.passes
    be.set_status("a2", AgentStatus.AVAILABLE, clock.t)
    got = t.wait(10)
    assert isinstance(got, Assignment) and got.agents[0].name == "a2"
    assert d.passes <= passes + 3


def test_two_dispatchers_share_agents_fairly(setup):
    d, clock, be = setup
    d2 = Dispatcher(be, d.config, "w2", lease=30, clock=clock)
    be.set_status("a2", AgentStatus.ON_BREAK, clock.t)
    first = d2.join(Member("first", "sales", joined_at=clock.t))      # on worker 2, earlier
    second = d.join(Member("second", "sales", joined_at=clock.t + 1))
    d.dispatch_once()                 # worker 1 must leave the one free agent to worker 2's member
    assert second.wait(0) is None
    d2.dispatch_once()
    assert first.wait(0).agents[0].name == "a1"


def test_foreign_member_nobody_can_serve_does_not_block_ours(setup):
    """Worker 2's earlier caller needs a skill no free agent has: worker 1's caller
    behind it still gets the free agent at once."""
    d, clock, be = setup
    d2 = Dispatcher(be, d.config, "w2", lease=30, clock=clock)
    be.set_status("a2", AgentStatus.ON_BREAK, clock.t)
    d2.join(Member("needs-klingon", "sales", joined_at=clock.t, skills={"klingon": 5}))
    ours = d.join(Member("plain", "sales", joined_at=clock.t + 1))
    d.dispatch_once()
    assert ours.wait(0).agents[0].name == "a1"

"""One suite, two backends (memory and a real redis-server)."""
import gevent
import pytest

from fsapp.routing.model import AgentConfig, AgentState, AgentStatus, Member, MemberState, OfferResult, Tier
from fsapp.routing.strategies import QueueMemo

from routing_helpers import add_agents


def test_agent_roundtrip_and_reload_keeps_status(backend):
    backend.put_agent(AgentConfig("1001", contact="user/1001", skills={"mandarin": 8}, capacity=2,
                                  wrap_up_time=7.5, status=AgentStatus.AVAILABLE), 10.0)
    rec = backend.get_agent("1001")
    assert (rec.contact, rec.skills, rec.capacity, rec.wrap_up_time, rec.status) == \
        ("user/1001", {"mandarin": 8}, 2, 7.5, AgentStatus.AVAILABLE)
    backend.set_status("1001", AgentStatus.ON_BREAK, 11.0)
    backend.put_agent(AgentConfig("1001", contact="user/2001", status=AgentStatus.LOGGED_OUT), 12.0)
    rec = backend.get_agent("1001")
    assert rec.status == AgentStatus.ON_BREAK and rec.contact == "user/2001"
    assert [a.name for a in backend.agents()] == ["1001"]
    with pytest.raises(KeyError):
        backend.set_status("nobody", AgentStatus.AVAILABLE, 1.0)


def test_claim_is_exclusive_and_respects_capacity(backend):
    add_agents(backend, 1)
    assert backend.claim("1001", "m1", "w1", 30, 100.0)
    assert not backend.claim("1001", "m2", "w2", 30, 100.0)
    assert backend.get_agent("1001").state(100.0) == AgentState.RESERVED
    backend.put_agent(AgentConfig("2001", capacity=2, status=AgentStatus.AVAILABLE), 0)
    assert backend.claim("2001", "m1", "w1", 30, 100.0)
    assert not backend.claim("2001", "m1", "w1", 30, 100.0)   # never the same member twice
    assert backend.claim("2001", "m2", "w1", 30, 100.0)
    assert not backend.claim("2001", "m3", "w1", 30, 100.0)
    assert not backend.claim("nobody", "m1", "w1", 30, 100.0)


@pytest.mark.parametrize("status", [AgentStatus.LOGGED_OUT, AgentStatus.ON_BREAK])
def test_only_available_agents_are_claimed(backend, status):
    add_agents(backend, 1, status=status)
    assert not backend.claim("1001", "m1", "w1", 30, 100.0)
    backend.set_status("1001", AgentStatus.AVAILABLE_ON_DEMAND, 100.0)
    assert backend.claim("1001", "m1", "w1", 30, 100.0)


def test_lease_expires_and_renew(backend):
    add_agents(backend, 1)
    assert backend.claim("1001", "m1", "w1", 5, 100.0)
    assert backend.renew("1001", "m1", "w1", 5, 104.0, phase="ringing")
    assert not backend.renew("1001", "m1", "intruder", 5, 104.0)
    assert backend.get_agent("1001").state(104.0) == AgentState.RECEIVING
    assert not backend.claim("1001", "m2", "w2", 5, 108.9)
    assert backend.get_agent("1001").state(109.5) == AgentState.WAITING   # lapsed: crashed owner
    assert not backend.renew("1001", "m1", "w1", 5, 109.5)
    assert backend.claim("1001", "m2", "w2", 5, 109.5)
    assert list(backend.get_agent("1001").claims) == ["m2"]            # the lapsed claim was purged


def test_answer_then_complete_gives_wrap_up(backend):
    add_agents(backend, 1, wrap_up_time=10.0)
    backend.claim("1001", "m1", "w1", 30, 100.0)
    assert backend.answered("1001", "m1", "w1", 30, 101.0)
    assert backend.get_agent("1001").state(102.0) == AgentState.IN_A_QUEUE_CALL
    assert not backend.release("1001", "m1", "someone-else", OfferResult.COMPLETED, 160.0, 59.0)
    assert backend.release("1001", "m1", "w1", OfferResult.COMPLETED, 160.0, 59.0)
    rec = backend.get_agent("1001")
    assert (rec.calls_answered, rec.talk_time, rec.last_bridge_end, rec.ready_at) == (1, 59.0, 160.0, 170.0)
    assert rec.state(165.0) == AgentState.IDLE
    assert not backend.claim("1001", "m2", "w1", 30, 169.9)
    assert backend.claim("1001", "m2", "w1", 30, 170.0)
    assert not backend.release("1001", "m1", "w1", OfferResult.COMPLETED, 171.0)  # already released


@pytest.mark.parametrize("result, delay", [(OfferResult.NO_ANSWER, 11.0), (OfferResult.BUSY, 61.0),
                                           (OfferResult.REJECT, 12.0), (OfferResult.CANCELLED, 0.0)])
def test_failed_offer_delays(backend, result, delay):
    add_agents(backend, 1, no_answer_delay_time=11.0, busy_delay_time=61.0, reject_delay_time=12.0)
    backend.claim("1001", "m1", "w1", 30, 100.0)
    assert backend.release("1001", "m1", "w1", result, 100.0)
    assert backend.get_agent("1001").ready_at == (100.0 + delay if delay else 0.0)


def test_max_no_answer_puts_agent_on_break(backend):
    events = []
    backend.subscribe(events.append)
    add_agents(backend, 1, max_no_answer=2, no_answer_delay_time=0.0)
    for i, now in enumerate([100.0, 200.0]):
        assert backend.claim("1001", f"m{i}", "w1", 30, now)
        backend.release("1001", f"m{i}", "w1", OfferResult.NO_ANSWER, now)
    rec = backend.get_agent("1001")
    assert rec.status == AgentStatus.ON_BREAK and rec.no_answer_count == 2
    backend.set_status("1001", AgentStatus.AVAILABLE, 300.0)
    assert backend.get_agent("1001").no_answer_count == 0
    with gevent.Timeout(5):
        while not any("auto-break" in e.get("changes", []) for e in events):
            gevent.sleep(0.02)


def test_answer_resets_no_answer_count(backend):
    add_agents(backend, 1, max_no_answer=3, no_answer_delay_time=0.0)
    backend.claim("1001", "m1", "w1", 30, 1.0)
    backend.release("1001", "m1", "w1", OfferResult.NO_ANSWER, 1.0)
    backend.claim("1001", "m2", "w1", 30, 2.0)
    backend.answered("1001", "m2", "w1", 30, 2.0)
    assert backend.get_agent("1001").no_answer_count == 0


def test_members(backend):
    backend.add_member(Member("u1", "sales", caller_id="138", joined_at=5.0, priority=2, skills={"en": 3}))
    backend.add_member(Member("u2", "sales", joined_at=6.0))
    backend.add_member(Member("u3", "support", joined_at=7.0))
    assert sorted(m.id for m in backend.members("sales")) == ["u1", "u2"]
    m = backend.update_member("u1", state=MemberState.TRYING, owner="w1")
    assert m.state == MemberState.TRYING and backend.get_member("u1").owner == "w1"
    assert backend.get_member("u1").skills == {"en": 3}
    assert backend.update_member("nobody", owner="x") is None
    assert backend.remove_member("u1") and not backend.remove_member("u1")
    assert [m.id for m in backend.members("sales")] == ["u2"]


def test_renew_members_extends_every_lease_and_names_the_missing(backend):
    """A worker renews all its members' leases at once (on Redis in one pipelined round
    trip: one by one, 500 members took longer than the lease on a busy machine and a
    peer's reconciler removed live callers)."""
    for i in range(300):
        backend.add_member(Member(f"m{i}", "sales", joined_at=float(i), owner="w1", expires=10.0))
    backend.remove_member("m7")
    assert backend.renew_members([f"m{i}" for i in range(300)] + ["never"], 99.5) == ["m7", "never"]
    members = {m.id: m for m in backend.members("sales")}
    assert len(members) == 299 and {m.expires for m in members.values()} == {99.5}
    assert members["m3"].owner == "w1" and members["m3"].joined_at == 3.0    # nothing else touched
    assert backend.renew_members([], 1.0) == []


def test_tiers_memo_and_handle_times(backend):
    add_agents(backend, 3)
    backend.add_tier(Tier("sales", "1001", 1, 2))
    backend.add_tier(Tier("sales", "1002", 2, 1))
    backend.add_tier(Tier("support", "1001", 1, 1))
    assert [(t.agent, t.level, t.position) for t in backend.tiers(queue="sales")] == [("1001", 1, 2), ("1002", 2, 1)]
    assert sorted(t.queue for t in backend.tiers(agent="1001")) == ["sales", "support"]
    assert [c.name for c in backend.candidates("sales")] == ["1001", "1002"]
    assert backend.remove_tier("sales", "1001") and not backend.remove_tier("sales", "1001")
    assert [t.agent for t in backend.tiers(queue="sales")] == ["1002"]
    backend.set_memo("sales", QueueMemo(1, 3, "1003"))
    assert backend.get_memo("sales") == QueueMemo(1, 3, "1003")
    for s in range(60):
        backend.record_handle_time("sales", float(s))
    assert backend.handle_times("sales") == [float(s) for s in range(10, 60)]


def test_racing_claims_one_winner(backend):
    """Many greenlets race for one agent: exactly one claim wins."""
    add_agents(backend, 1)
    results = []
    jobs = [gevent.spawn(lambda i=i: results.append(backend.claim("1001", f"m{i}", f"w{i % 3}", 30, 50.0)))
            for i in range(40)]
    gevent.joinall(jobs, timeout=20)
    assert results.count(True) == 1 and len(results) == 40


def test_on_demand_agent_breaks_after_one_call(backend):
    add_agents(backend, 1, status=AgentStatus.AVAILABLE_ON_DEMAND)
    assert backend.claim("1001", "m1", "w1", 30, 10.0)
    backend.answered("1001", "m1", "w1", 30, 11.0)
    backend.release("1001", "m1", "w1", OfferResult.COMPLETED, 20.0, 9.0)
    assert backend.get_agent("1001").status == AgentStatus.ON_BREAK


def test_remember_expires(backend):
    # kept for a minute: read back at once however slow the machine is (a 0.3 s TTL
    # read back "at once" failed when the test process was not scheduled for 0.3 s)
    backend.remember("affinity:138", "1001|5.0", 60)
    assert backend.recall("affinity:138") == "1001|5.0"
    assert backend.recall("nothing") is None
    backend.remember("affinity:139", "1002|6.0", 0.3)
    gevent.sleep(0.5)                             # at least 0.5 s: past its TTL on any machine
    assert backend.recall("affinity:139") is None
    assert backend.recall("affinity:138") == "1001|5.0"

"""An agent's claim is released in one place that always runs (issue 10): whatever ends
a member's time in the queue, an outcome or an exception anywhere (a sendevent refusing
a caller id, an originate, a record, the bridge, the state backend), the agents claimed
for it are free again at once, not after their lease. Both backends."""
import time

import gevent
import pytest

from fsapp.esl import InboundClient, OutboundServer
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.dispatcher import Assignment, Dispatcher
from fsapp.routing.model import AgentStatus, Member, OfferResult
from fsapp.routing.router import Router
from fsapp.sim import CallerScript, Socket, Switch, Wait

MOH = "tone_stream://%(1000,0,440);loops=-1"
CONFIG = f"""
queues:
  sales: {{strategy: top-down, moh-sound: "{MOH}", offer-timeout: 3}}
agents:
  "1001": {{contact: user/1001, status: Available}}
tiers:
  - {{queue: sales, agent: "1001"}}
"""
LEASE = 600.0     # far longer than any test: an agent free again did not wait for it


def _wait_for(predicate, what):
    with gevent.Timeout(30, AssertionError(f"never happened: {what}")):   # a hang guard, not a budget
        while not predicate():
            gevent.sleep(0.02)


@pytest.fixture
def acd(backend):
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    cfg = loads_routing(CONFIG, "claims.yaml")
    seed_backend(cfg, backend, time.time() - 100)
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=5.0).start()
    router = Router(cfg, backend, esl, worker_id="w-claims", lease=LEASE).start()
    results = {}

    def handler(call):
        call.answer()
        try:
            results[call.uuid] = router.enqueue(call, "sales", timeout=60)
        except Exception as exc:      # what the flow's queue node turns into on_error
            results[call.uuid] = exc
        if not call.ended:
            call.hangup()

    server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
    sw.dialplan.add(r"^q-sales$", Socket(f"127.0.0.1:{server.port} async full"))

    def call(caller_id, steps):
        rep = sw.place_call(CallerScript(dial="q-sales", caller_id=caller_id, steps=steps)).wait(40)
        _wait_for(lambda: rep.uuid in results, "the router's result for the call")
        return results[rep.uuid]
    yield sw, router, backend, call
    router.stop()
    server.stop(timeout=2)
    esl.stop()
    sw.stop()


def test_a_caller_id_the_switch_refuses_leaves_no_claim_behind(acd):
    # A caller id with CR/LF made the queue event's sendevent raise at "enter": the member
    # stayed registered, the dispatcher kept claiming agent 1001 for a caller nobody
    # served, and 1001 stayed reserved until its lease ran out.
    sw, router, backend, call = acd
    sw.add_agent("1001", ring_s=0.1, talk_s=0.2)
    result = call("1001\r\nX-Evil: yes", [Wait(3)])
    passes = router.dispatcher.passes
    _wait_for(lambda: router.dispatcher.passes > passes or not router.dispatcher.tickets,
              "a dispatcher pass after the call")
    gevent.sleep(0.1)
    now = time.time()
    assert backend.get_agent("1001").live_claims(now) == [], result
    assert backend.members("sales") == [] and router.dispatcher.tickets == {}
    # and the next caller gets 1001 at once, not after the 600 s lease
    second = call("13800138000", [Wait(5)])
    assert getattr(second, "kind", None) == "answered" and second.agent == "1001", second


def test_leave_releases_every_claim_whatever_ended_the_member(backend):
    # The structural promise, for ANY exception: the member's greenlet dies of whatever
    # (here a RuntimeError after its Assignment arrived), its finally calls leave, and
    # the agent is free at once; so is an agent of an Assignment nobody read.
    cfg = loads_routing(CONFIG, "claims.yaml")
    seed_backend(cfg, backend, time.time() - 100)
    dispatcher = Dispatcher(backend, cfg, "w-claims", lease=LEASE).start()
    try:
        ticket = dispatcher.join(Member("m1", "sales", "1", time.time()))

        def member():
            try:
                assert isinstance(ticket.wait(30), Assignment)
                assert backend.get_agent("1001").live_claims(time.time())
                raise RuntimeError("any side effect of routing failed here")
            finally:
                dispatcher.leave("m1")
        greenlet = gevent.spawn(member)
        greenlet.join()
        assert isinstance(greenlet.exception, RuntimeError)
        assert backend.get_agent("1001").live_claims(time.time()) == []

        unread = dispatcher.join(Member("m2", "sales", "2", time.time()))
        _wait_for(lambda: not unread.inbox.empty(), "an Assignment for m2")
        assert backend.get_agent("1001").live_claims(time.time())
        dispatcher.leave("m2")
        assert backend.get_agent("1001").live_claims(time.time()) == []
        assert unread.claims.take("1001") is False          # closed: nothing more is claimed
        assert backend.get_agent("1001").live_claims(time.time()) == []
        assert backend.get_agent("1001").status == AgentStatus.AVAILABLE
    finally:
        dispatcher.stop()


def test_restore_claim_puts_back_a_held_claim_whatever_the_agents_status(backend):
    # after Redis restarted empty, the router puts back the claim of an agent still on
    # its call, even though the re-seed made the agent Available (claim() would refuse
    # nothing then, but a second member would get the agent); a lapsed one is refreshed
    cfg = loads_routing(CONFIG, "claims.yaml")
    now = time.time()
    seed_backend(cfg, backend, now)
    assert backend.restore_claim("nobody", "m1", "w", "talking", 30, now) is False
    assert backend.restore_claim("1001", "m1", "w", "talking", 30, now) is True
    agent = backend.get_agent("1001")
    assert agent.claims["m1"].phase == "talking" and not agent.offerable(now)
    assert backend.claim("1001", "m2", "w", 30, now) is False
    assert backend.restore_claim("1001", "m1", "w", "talking", 30, now) is False      # live: refreshed
    assert backend.restore_claim("1001", "m1", "w", "talking", 30, now + 100) is True  # lapsed: repaired
    assert backend.release("1001", "m1", "w", OfferResult.COMPLETED, now + 101, 5.0)
    assert backend.get_agent("1001").live_claims(now + 101) == []


def test_reconnect_back_off_doubles_up_to_its_cap():
    from fsapp.routing.outage import Backoff
    delays = Backoff(jitter=0).delays()
    assert [round(next(delays), 3) for _ in range(8)] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0]
    jittered = Backoff().delays(rand=lambda: 1.0)
    assert round(next(jittered), 3) == 0.24                  # +20 % at most


def test_recover_after_an_empty_restart_puts_back_what_the_worker_holds(redis_backend):
    # Redis restarted without persistence (here: this test's keys deleted): the worker's
    # waiting caller keeps its place, its callback request survives, the caller talking to
    # 1001 is Answered and 1001 stays busy although the re-seed made it Available again.
    from fsapp.routing.model import AgentState, MemberState
    from fsapp.routing.reconciler import Reconciler
    backend = redis_backend
    cfg = loads_routing(CONFIG.replace('tiers:', '  "1002": {contact: user/1002, status: On Break}\ntiers:'),
                        "routing.yaml")
    seed_backend(cfg, backend, time.time() - 100)
    dispatcher = Dispatcher(backend, cfg, "w-claims", lease=LEASE)      # not started: no dispatching
    waiting = dispatcher.join(Member("waiting", "sales", "1", time.time() - 30))
    talking = dispatcher.join(Member("talking", "sales", "2", time.time() - 60))
    callback = dispatcher.join(Member("cb-1", "sales", "3", time.time() - 90, callback_number="3"))
    assert talking.claims.take("1001") and talking.claims.mark("1001", "talking", leg="agent-leg")
    backend.delete_all()
    repairs = Reconciler(backend, [], "w-claims", local_members=dispatcher.tickets).recover(cfg)
    now = time.time()
    agents = {a.name: a for a in backend.agents()}
    assert set(agents) == {"1001", "1002"} and agents["1002"].status == AgentStatus.ON_BREAK
    assert agents["1001"].state(now) == AgentState.IN_A_QUEUE_CALL and not agents["1001"].offerable(now)
    assert backend.get_member("waiting").state == MemberState.WAITING
    assert backend.get_member("waiting").joined_at == pytest.approx(waiting.member.joined_at, abs=0.01)
    assert backend.get_member("talking").state == MemberState.ANSWERED
    assert backend.get_member("cb-1").callback_number == "3" and callback.active
    assert [t.agent for t in backend.tiers(queue="sales")] == ["1001"]
    assert "agent 1001: claim for talking restored (on live call agent-leg); stays busy" in repairs, repairs
    assert "agent 1002: re-created from routing.yaml (On Break)" in repairs, repairs


def test_a_renewal_answered_late_does_not_drop_a_claim_taken_again():
    """Regression (issue 13: "a claim was rarely lost at agent answer, cause unknown").
    The lease loop renews a member's claims while the member's own greenlet works. On
    Redis each renewal is a round trip, and other greenlets run until its reply: the
    member released the agent (an offer round ended) and claimed it again (the next
    round) in between, so the renewal of the *old* claim answered "gone" and renew_all
    dropped the *new* one. The agent then answered, `mark(talking)` found no claim, and
    the caller's agent was hung up as if the lease had lapsed. Here a backend whose
    replies arrive when the test says so makes that interleaving happen every time."""
    from fsapp.routing.backend import MemoryBackend
    from fsapp.routing.claims import MemberClaims

    class RoundTrips(MemoryBackend):
        """renew() is sent, applied by the server when `arrive` is set, and its reply is
        read when `reply` is set: the two halves of a round trip."""
        def __init__(self):
            super().__init__()
            self.sent, self.arrive, self.reply = gevent.event.Event(), gevent.event.Event(), gevent.event.Event()
            self.slow = False

        def renew(self, *args, **kwargs):
            if not self.slow:
                return super().renew(*args, **kwargs)
            self.sent.set()
            self.arrive.wait()
            answer = super().renew(*args, **kwargs)
            self.reply.wait()
            return answer

    backend = RoundTrips()
    seed_backend(loads_routing(CONFIG, "claims.yaml"), backend, time.time() - 100)
    claims = MemberClaims(backend, "caller", "w", LEASE, time.time)
    assert claims.take("1001") and claims.mark("1001", "ringing")
    backend.slow = True
    renewer = gevent.spawn(claims.renew_all)          # the Dispatcher's lease loop
    backend.sent.wait()                               # its renewal of 1001 is on the wire
    assert claims.release("1001", OfferResult.CANCELLED)   # the round ends (another agent answered, ...)
    backend.arrive.set()
    gevent.sleep(0)                                   # the server sees the renewal: no such claim now
    assert claims.take("1001")                        # the next round claims 1001 again
    backend.reply.set()
    renewer.get(timeout=5)
    backend.slow = False
    # the agent answers the new round: its claim is still held, here and in the backend
    assert claims.held() == {"1001": "reserved"}
    assert claims.mark("1001", "talking", "agent-leg") is True
    assert [c.member for c in backend.get_agent("1001").claims.values()] == ["caller"]

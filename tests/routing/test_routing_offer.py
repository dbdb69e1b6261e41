"""The Offer state machine (fsapp/routing/offer.py): examples and property tests.

The properties run several callers' offers at once against a real MemoryBackend (the
claims' capacity check is the backend's) through a pure driver written here: what the
gevent driver does, without the switch. Hypothesis picks the interleaving of answers,
failures, hangups, leave keys and time."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from fsapp.routing.backend import MemoryBackend
from fsapp.routing.claims import MemberClaims
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.model import Member, OfferResult
from fsapp.routing.offer import (Cancel, Connect, GiveUp, Hangup, Leave, Offer, Phase, Release, Ring,
                                 Widen)
from fsapp.routing.strategies import STRATEGIES, get_strategy, order_agents

RING_TIMEOUT = 20.0


def test_first_answer_wins_and_the_others_are_cancelled():
    offer = Offer("o1", ["1001", "1002", "1003"], now=0.0, ring_timeout=RING_TIMEOUT)
    assert offer.start() == [Ring("1001"), Ring("1002"), Ring("1003")]
    assert offer.failed("1001", "USER_BUSY") == [Release("1001", OfferResult.BUSY)]
    assert offer.answered("1003", "leg-3") == [Cancel("1002", OfferResult.CANCELLED), Connect("1003", "leg-3")]
    assert offer.answered("1002", "leg-2") == [Hangup("leg-2")]        # too late: hung up
    assert offer.failed("1002", "ORIGINATOR_CANCEL") == []             # already released by the Cancel
    assert offer.claims == set() and offer.phase is Phase.CONNECTED


def test_nobody_answers_the_caller_waits_again():
    offer = Offer("o1", ["1001"], now=0.0, ring_timeout=RING_TIMEOUT)
    offer.start()
    assert offer.failed("1001", "NO_ANSWER") == [Release("1001", OfferResult.NO_ANSWER), GiveUp("no-answer")]


def test_an_answer_of_another_round_is_hung_up():
    offer = Offer("o2", ["1001"], now=0.0, ring_timeout=RING_TIMEOUT)
    offer.start()
    assert offer.answered("1001", "old-leg", offer_id="o1") == [Hangup("old-leg")]
    assert offer.ringing == ["1001"]


def test_ring_progressively_widens_and_each_ring_has_its_own_timeout():
    offer = Offer("o1", ["1001"], now=0.0, ring_timeout=RING_TIMEOUT, widen_every=5.0)
    offer.start()
    assert offer.next_timer() == 5.0
    assert offer.tick(5.0) == [Widen()]
    assert offer.add("1002", 5.0) == [Ring("1002")]
    assert offer.tick(RING_TIMEOUT) == [Widen()]                      # 1002 rang at 5: not timed out
    assert offer.tick(RING_TIMEOUT + 5.0) == [Cancel("1001", OfferResult.NO_ANSWER),
                                              Cancel("1002", OfferResult.NO_ANSWER), GiveUp("offer-timeout")]
    assert offer.add("1003", 30.0) == [Release("1003", OfferResult.CANCELLED)]   # a claim for an ended offer


def test_a_lost_claim_is_never_rung_nor_released():
    offer = Offer("o1", ["1001"], now=0.0, ring_timeout=RING_TIMEOUT)
    offer.start()
    assert offer.claim_lost("1001") == [GiveUp("no-answer")]
    assert offer.claims == set()


# ---- properties -------------------------------------------------------------------------------

AGENTS = {"1001": 1, "1002": 2, "1003": 1, "1004": 1}     # name -> capacity
MEMBERS = ["m0", "m1", "m2"]
CAUSES = ["NO_ANSWER", "USER_BUSY", "CALL_REJECTED", "ORIGINATOR_CANCEL", "USER_NOT_REGISTERED"]


def routing(strategy: str):
    agents = "".join(f'  "{a}": {{contact: user/{a}, status: Available, capacity: {c}, '
                     f'no-answer-delay-time: 90, busy-delay-time: 10, reject-delay-time: 10, wrap-up-time: 5}}\n'
                     for a, c in AGENTS.items())
    tiers = "".join(f'  - {{queue: q, agent: "{a}", position: {i}}}\n' for i, a in enumerate(AGENTS, 1))
    return loads_routing(f"queues:\n  q: {{strategy: {strategy}, ring-progressively-delay: 3}}\n"
                         f"agents:\n{agents}tiers:\n{tiers}", "props.yaml")


class World:
    """Callers of one queue offered to agents: the Offer machines plus what the gevent
    driver does with their outputs, on a real MemoryBackend and a virtual clock."""

    def __init__(self, strategy: str):
        self.cfg = routing(strategy)
        self.queue = self.cfg.queue("q")
        self.strategy = get_strategy(strategy)
        self.backend = MemoryBackend()
        self.now = 1000.0
        seed_backend(self.cfg, self.backend, self.now - 100)
        self.members = {m: Member(m, "q", "", self.now) for m in MEMBERS}
        self.claims = {m: MemberClaims(self.backend, m, "w", 30.0, lambda: self.now) for m in MEMBERS}
        self.offers: dict[str, Offer] = {}
        self.calls: dict[str, str] = {}          # member -> agent it talks to
        self.legs_up: dict[tuple[str, str], str] = {}   # (member, agent) -> ringing leg
        self.n = 0

    def ordered(self, member: str):
        cands = self.backend.candidates("q")
        return order_agents(self.queue, self.members[member], cands, self.now,
                            self.strategy.memo_for(self.queue, self.backend))

    # what the dispatcher does: claim by the strategy's order and hand over an offer
    def offer(self, member: str) -> None:
        if member in self.offers and self.offers[member].phase is not Phase.OVER or member in self.calls:
            return
        ordered = self.ordered(member)
        want = self.strategy.ring_count(self.queue, 0.0, len(ordered))
        taken = [c for c in ordered if self.claims[member].take(c.name)][:want]
        for extra in [c for c in ordered if c.name in self.claims[member]][want:]:
            self.claims[member].release(extra.name, OfferResult.CANCELLED)
        if not taken:
            return
        self.strategy.remember(self.queue, self.backend, taken[0])
        self.n += 1
        offer = self.offers[member] = Offer(f"o{self.n}", [c.name for c in taken], now=self.now,
                                            ring_timeout=RING_TIMEOUT, widen_every=self.strategy.widen_every(self.queue))
        self.apply(member, offer.start())

    # what the gevent driver does with the machine's outputs
    def apply(self, member: str, outputs: list) -> None:
        claims, offer = self.claims[member], self.offers[member]
        for out in outputs:
            if isinstance(out, Ring):
                if claims.mark(out.agent, "ringing"):
                    self.legs_up[(member, out.agent)] = f"leg-{member}-{out.agent}-{self.n}"
                else:
                    self.apply(member, offer.claim_lost(out.agent))
            elif isinstance(out, (Cancel, Release)):
                assert isinstance(out, Release) or (member, out.agent) in self.legs_up, out
                self.legs_up.pop((member, out.agent), None)
                assert claims.release(out.agent, out.result), f"{out}: no claim held"
            elif isinstance(out, Connect):
                self.legs_up.pop((member, out.agent))
                assert claims.mark(out.agent, "talking", out.leg)
                self.calls[member] = out.agent
            elif isinstance(out, Widen):
                for cand in self.ordered(member):
                    if cand.name not in offer.rung and claims.take(cand.name):
                        self.apply(member, offer.add(cand.name, self.now))
                        break

    def check(self) -> None:
        for agent, capacity in AGENTS.items():
            engaged = [m for m in MEMBERS if (m, agent) in self.legs_up or self.calls.get(m) == agent]
            assert len(engaged) <= capacity, f"agent {agent} offered to {engaged} (capacity {capacity})"
            assert len(self.backend.get_agent(agent).live_claims(self.now)) <= capacity
        for m in MEMBERS:     # every claim held is one the offer or the call accounts for
            open_ = self.offers[m].claims if m in self.offers else set()
            assert set(self.claims[m].held()) == open_ | ({self.calls[m]} if m in self.calls else set()), m
            assert {a for (mm, a) in self.legs_up if mm == m} == (set(self.offers[m].ringing) if m in self.offers else set())


step = st.one_of(
    st.tuples(st.just("offer"), st.sampled_from(MEMBERS)),
    st.tuples(st.just("answer"), st.sampled_from(MEMBERS), st.sampled_from(list(AGENTS))),
    st.tuples(st.just("fail"), st.sampled_from(MEMBERS), st.sampled_from(list(AGENTS)), st.sampled_from(CAUSES)),
    st.tuples(st.just("gone"), st.sampled_from(MEMBERS)),
    st.tuples(st.just("leave"), st.sampled_from(MEMBERS)),
    st.tuples(st.just("tick"), st.floats(0.5, 25.0)),
    st.tuples(st.just("hangup"), st.sampled_from(MEMBERS)),
)


@settings(max_examples=300, deadline=None)
@given(strategy=st.sampled_from(sorted(STRATEGIES)), steps=st.lists(step, max_size=40))
def test_capacity_claims_and_cancel_properties(strategy, steps):
    w = World(strategy)
    for kind, *args in steps:
        if kind == "offer":
            w.offer(args[0])
        elif kind in ("answer", "fail", "gone", "leave") and args[0] in w.offers:
            member, offer = args[0], w.offers[args[0]]
            if kind == "answer":
                w.apply(member, offer.answered(args[1], f"answered-{args[1]}"))
            elif kind == "fail":
                w.apply(member, offer.failed(args[1], args[2]))
            else:
                ringing = set(offer.ringing)
                outs = offer.caller_gone("NORMAL_CLEARING") if kind == "gone" else offer.left_queue("1")
                if offer.phase is Phase.OVER and outs:
                    # the caller left: every ringing leg is cancelled in this one step, no penalty
                    assert {o.agent for o in outs if isinstance(o, Cancel)} == ringing
                    assert all(o.result is OfferResult.CANCELLED for o in outs if isinstance(o, Cancel))
                    assert isinstance(outs[-1], Leave) and offer.claims == set()
                w.apply(member, outs)
        elif kind == "tick":
            w.now += args[0]
            for member, offer in list(w.offers.items()):
                w.apply(member, offer.tick(w.now))
        elif kind == "hangup" and args[0] in w.calls:
            assert w.claims[args[0]].release(w.calls.pop(args[0]), OfferResult.COMPLETED, 1.0)
        w.check()
    # everyone leaves: every claim is released or was connected and ends with its call
    for member, offer in w.offers.items():
        w.apply(member, offer.caller_gone("NORMAL_CLEARING"))
    for member, agent in list(w.calls.items()):
        assert w.claims[member].release(agent, OfferResult.COMPLETED, 1.0)
    w.calls.clear()
    w.check()
    assert not w.legs_up
    assert all(not w.backend.get_agent(a).live_claims(w.now) for a in AGENTS)


ONE_AT_A_TIME = sorted(name for name, s in STRATEGIES.items() if s.rings == "one")


@settings(max_examples=100, deadline=None)
@given(strategy=st.sampled_from(ONE_AT_A_TIME), timeouts=st.integers(1, len(AGENTS) - 1))
def test_a_timed_out_offer_moves_on_to_the_next_agent_by_the_strategy(strategy, timeouts):
    w = World(strategy)
    offered = []
    for _ in range(timeouts + 1):
        next_by_strategy = [c.name for c in w.ordered("m0")]
        w.offer("m0")
        offer = w.offers["m0"]
        # the offer goes to the strategy's first agent as things stand, never to one that
        # timed out before (it is in its no-answer delay)
        assert offer.ringing == next_by_strategy[:1] and offer.ringing[0] not in offered
        offered.append(offer.ringing[0])
        w.now += RING_TIMEOUT
        outs = offer.tick(w.now)
        assert outs == [Cancel(offered[-1], OfferResult.NO_ANSWER), GiveUp("offer-timeout")]
        w.apply("m0", outs)
        w.check()
    assert w.backend.get_agent(offered[0]).ready_at > w.now          # the no-answer delay

"""One offer of a waiting caller to agents, as a state machine with no I/O.

The way h11 treats a protocol: the machine is told what happened (an agent answered, an
agent's leg failed, the caller hung up or pressed the leave key, time passed) and answers
with what to do (ring an agent, cancel a ringing leg, release a claim, hang up a late
leg, connect the caller to the agent, widen the offer by one agent, give up). It never
calls the switch or the state backend and never reads a clock: `now` is an argument, so
it is tested with property tests (tests/routing/test_routing_offer.py) and driven by a
thin gevent driver (fsapp/routing/ringing.py) that does the I/O.

    offer = Offer("a1b2c3d4", ["1001", "1002"], now=0.0, ring_timeout=20.0)
    offer.start()                    -> [Ring("1001"), Ring("1002")]
    offer.failed("1001", "USER_BUSY") -> [Release("1001", BUSY)]
    offer.answered("1002", leg)      -> [Connect("1002", leg)]

Every agent the offer is given holds a claim for the caller; the machine ends each one
exactly once: `Cancel` (its leg still rings: hang it up, then release), `Release` (its
leg already ended), `Connect` (the claim goes on into the call) or `claim_lost` (the
backend no longer has it: nothing to release). `Offer.claims` says which are still open.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from fsapp.routing.model import OfferResult

CAUSE_RESULT = {
    "USER_BUSY": OfferResult.BUSY,
    "CALL_REJECTED": OfferResult.REJECT,
    "ORIGINATOR_CANCEL": OfferResult.CANCELLED,
    "LOSE_RACE": OfferResult.CANCELLED,
}  # anything else (NO_ANSWER, NO_USER_RESPONSE, USER_NOT_REGISTERED, ...) counts as no answer


def result_of(cause: str) -> OfferResult:
    """The agent's consequence of an originate's hangup cause."""
    return CAUSE_RESULT.get(cause, OfferResult.NO_ANSWER)


# -- what the machine asks its driver to do ---------------------------------------------------
@dataclass(frozen=True)
class Ring:
    """Originate the agent's leg (its claim is held; mark it ringing first)."""
    agent: str


@dataclass(frozen=True)
class Cancel:
    """Hang up the agent's leg that still rings (ORIGINATOR_CANCEL), then release its claim."""
    agent: str
    result: OfferResult


@dataclass(frozen=True)
class Release:
    """The agent's leg already ended (or never rang): release its claim with `result`."""
    agent: str
    result: OfferResult


@dataclass(frozen=True)
class Hangup:
    """A leg that answered for nothing (late, or for an offer that ended): hang it up."""
    leg: str


@dataclass(frozen=True)
class Connect:
    """The agent answered: stop the hold, bridge. The claim goes on into the call."""
    agent: str
    leg: str


@dataclass(frozen=True)
class Widen:
    """Claim one more agent, by the strategy's order, and `add` it (ring-progressively)."""


@dataclass(frozen=True)
class GiveUp:
    """Nobody answered: the caller waits again at its place."""
    reason: str


@dataclass(frozen=True)
class Leave:
    """The caller is gone (`abandoned`) or pressed the leave key (`left`)."""
    why: str
    detail: str = ""


class Phase(str, Enum):
    NEW = "new"
    RINGING = "ringing"
    CONNECTED = "connected"      # handed over to the bridge
    OVER = "over"                # gave up, or the caller left


class Offer:
    """One offer round: the agents claimed for a caller, ringing until one answers.

    `ring_timeout`: how long after the latest ring the offer gives up if the switch has
    said nothing (the originate's own timeout plus slack: the net under a lost reply).
    `widen_every`: seconds between asking for one more agent (ring-progressively), or None.
    """

    def __init__(self, offer_id: str, agents, *, now: float, ring_timeout: float,
                 widen_every: float | None = None):
        self.id = offer_id
        self.phase = Phase.NEW
        self.ring_timeout = ring_timeout
        self.widen_every = widen_every
        self.ringing: list[str] = []             # agents whose leg rings now, in ring order
        self.rung: list[str] = []                # every agent rung by this offer
        self.connected: str = ""
        self._initial = list(dict.fromkeys(agents))
        self._deadline = now + ring_timeout
        self._next_widen = now + widen_every if widen_every else None

    # -- what is open -----------------------------------------------------------------------
    @property
    def claims(self) -> set[str]:
        """Agents whose claim this offer still has to end (ringing, or not yet rung)."""
        return set(self.ringing) | (set(self._initial) if self.phase is Phase.NEW else set())

    def next_timer(self) -> float | None:
        """When `tick` has something to do; None once the offer rings no more."""
        if self.phase is not Phase.RINGING:
            return None
        return min(t for t in (self._deadline, self._next_widen) if t is not None)

    # -- inputs ------------------------------------------------------------------------------
    def start(self) -> list:
        """Ring every agent the offer was given (one, or all for ring-all)."""
        if self.phase is not Phase.NEW:
            return []
        self.phase = Phase.RINGING
        out = [self._ring(agent) for agent in self._initial]
        return out + self._if_nobody_rings()

    def add(self, agent: str, now: float) -> list:
        """A claim taken after a `Widen`: ring it (the earlier ones keep ringing, and the
        offer gets a fresh ring timeout); on an offer that is over, let the claim go."""
        if self.phase is not Phase.RINGING:
            return [Release(agent, OfferResult.CANCELLED)]
        if agent in self.ringing:
            return []
        self._deadline = now + self.ring_timeout
        return [self._ring(agent)]

    def claim_lost(self, agent: str) -> list:
        """The backend no longer holds the agent's claim (lapsed, released elsewhere) before
        its leg rang: never ring it; there is nothing to release."""
        if agent in self.ringing:
            self.ringing.remove(agent)
        return self._if_nobody_rings()

    def answered(self, agent: str, leg: str, offer_id: str | None = None) -> list:
        """The agent's leg answered. The first answer of this round wins; every other
        answer (late, of another round, after the caller left) is hung up."""
        if self.phase is not Phase.RINGING or agent not in self.ringing or offer_id not in (None, self.id):
            return [Hangup(leg)]
        self.ringing.remove(agent)
        others = self._stop_ringing(OfferResult.CANCELLED)
        self.phase = Phase.CONNECTED
        self.connected = agent
        return others + [Connect(agent, leg)]

    def failed(self, agent: str, cause: str, offer_id: str | None = None) -> list:
        """The agent's leg ended without answering (no answer, busy, reject, unreachable)."""
        if agent not in self.ringing or offer_id not in (None, self.id):
            return []                            # already cancelled: its claim was released then
        self.ringing.remove(agent)
        return [Release(agent, result_of(cause))] + self._if_nobody_rings()

    def caller_gone(self, cause: str) -> list:
        """The caller hung up: every ringing leg is cancelled at once, without penalty."""
        return self._leave("abandoned", cause)

    def left_queue(self, digit: str) -> list:
        """The caller pressed the leave key: as caller_gone, but the caller stays on the line."""
        return self._leave("left", digit)

    def tick(self, now: float) -> list:
        """Time passed: give up after the ring timeout (the switch said nothing), or widen."""
        if self.phase is not Phase.RINGING:
            return []
        if now >= self._deadline:
            return self._stop_ringing(OfferResult.NO_ANSWER) + self._over(GiveUp("offer-timeout"))
        if self._next_widen is not None and now >= self._next_widen:
            self._next_widen = now + self.widen_every
            return [Widen()]
        return []

    # -- the rest ------------------------------------------------------------------------------
    def _ring(self, agent: str) -> Ring:
        self.ringing.append(agent)
        self.rung.append(agent)
        return Ring(agent)

    def _stop_ringing(self, result: OfferResult) -> list:
        out = [Cancel(agent, result) for agent in self.ringing]
        self.ringing = []
        return out

    def _if_nobody_rings(self) -> list:
        if self.phase is Phase.RINGING and not self.ringing:
            return self._over(GiveUp("no-answer"))
        return []

    def _leave(self, why: str, detail: str) -> list:
        if self.phase is Phase.CONNECTED:
            return []                            # the bridge phase sees the caller go
        if self.phase is Phase.OVER:
            return []
        # claims given but never rung (the caller left before start) have no leg to hang up
        unrung = [Release(agent, OfferResult.CANCELLED) for agent in self._initial] if self.phase is Phase.NEW else []
        return unrung + self._stop_ringing(OfferResult.CANCELLED) + self._over(Leave(why, detail))

    def _over(self, final) -> list:
        self.phase = Phase.OVER
        return [final]

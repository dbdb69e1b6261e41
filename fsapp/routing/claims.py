"""The agents engaged for one member, and the one place they are let go.

Every claim a member's agents are under goes through its `MemberClaims`: the Dispatcher
(or the ring-progressively widener) takes them, the router moves them to ringing and
talking and releases each with its result (completed, no answer, busy, ...). Whatever
ends the member's time in the queue, an outcome or an exception anywhere (a sendevent
refusing a caller id, an originate, a record, the bridge, the state backend), `close()`
runs from the one `finally` that ends it (`Dispatcher.leave`) and releases every claim
still held, so no agent waits for its lease to lapse. A claim taken after close (the
dispatcher's claim was in flight when the caller left) is released at once.

Renewal is here too: the Dispatcher's lease loop calls `renew_all()` for its members,
so a claim lives exactly as long as its member's greenlet holds it.
"""
from __future__ import annotations

from fsapp.log import get_logger
from fsapp.routing.model import OfferResult

log = get_logger("fsapp.routing.claims")


class MemberClaims:
    def __init__(self, backend, member_id: str, owner: str, lease: float, clock):
        self.backend = backend
        self.member_id = member_id
        self.owner = owner
        self.lease = lease
        self.clock = clock
        self.closed = False
        self._phases: dict[str, str] = {}   # agent -> reserved | ringing | talking
        self._legs: dict[str, str] = {}     # agent -> its leg's uuid once answered
        # agent -> which take of it this is: a renewal whose reply comes back after the
        # claim was released and taken again must not drop the new claim (see renew_all)
        self._takes: dict[str, int] = {}
        self._taken = 0

    # -- what is held -----------------------------------------------------------------------
    def held(self) -> dict[str, str]:
        """{agent: phase} of the claims this member holds now."""
        return dict(self._phases)

    def leg(self, agent: str) -> str:
        return self._legs.get(agent, "")

    def __contains__(self, agent: str) -> bool:
        return agent in self._phases

    # -- lifecycle ----------------------------------------------------------------------------
    def take(self, agent: str) -> bool:
        """Claim `agent` for this member (atomic in the backend). False if the agent is not
        free, or the member has left meanwhile (then nothing stays claimed)."""
        if self.closed:
            return False
        if not self.backend.claim(agent, self.member_id, self.owner, self.lease, self.clock()):
            return False
        self._phases[agent] = "reserved"
        self._taken += 1
        self._takes[agent] = self._taken
        if self.closed:          # the member left while the claim was on its way
            self.release(agent, OfferResult.CANCELLED)
            return False
        return True

    def adopt(self, agent: str) -> bool:
        """Hold a claim the backend's decision already took for this member (decide()).
        If the member left while the decision was on its way, it is released at once."""
        self._phases[agent] = "reserved"
        self._taken += 1
        self._takes[agent] = self._taken     # as take(): renew_all knows which take it renews
        if self.closed:
            self.release(agent, OfferResult.CANCELLED)
            return False
        return True

    def mark(self, agent: str, phase: str, leg: str = "") -> bool:
        """ringing / talking; `leg` is the agent's answered leg. False if the claim was lost."""
        if agent not in self._phases:
            return False
        self._phases[agent] = phase
        if leg:
            self._legs[agent] = leg
        if self.backend.renew(agent, self.member_id, self.owner, self.lease, self.clock(), phase=phase):
            return True
        self._forget(agent)               # lost: nothing left here to release
        return False

    def _forget(self, agent: str) -> None:
        self._phases.pop(agent, None)
        self._legs.pop(agent, None)
        self._takes.pop(agent, None)

    def release(self, agent: str, result: OfferResult, talk_time: float = 0.0) -> bool:
        """Let `agent` go with `result`'s consequence (wrap-up, no-answer delay...). It is
        forgotten here first: if the backend cannot be reached, its lease or the
        reconciler frees it, and close() does not try twice."""
        if agent not in self._phases:
            return False
        self._forget(agent)
        return self.backend.release(agent, self.member_id, self.owner, result, self.clock(), talk_time)

    def renew_all(self) -> None:
        """Extend every held claim by a lease; a claim the backend no longer has (lapsed,
        or Redis came back without it) is dropped from what is held."""
        for agent, take in list(self._takes.items()):
            if agent not in self._phases:
                continue
            if not self.backend.renew(agent, self.member_id, self.owner, self.lease, self.clock()):
                # The reply comes back after a round trip: meanwhile the member's greenlet
                # may have released this claim and taken the agent again (a new offer
                # round). Only the claim this renewal was for is dropped: dropping the new
                # one lost a live claim, and the agent's answer was then refused.
                if self._takes.get(agent) != take or agent not in self._phases:
                    continue
                log.warning("claim lost", extra={"agent": agent, "member": self.member_id})
                self._forget(agent)

    def close(self, result: OfferResult = OfferResult.CANCELLED) -> list[str]:
        """The member is done: release everything still held. Never raises (it runs in
        `finally` blocks, after whatever went wrong); returns the agents let go."""
        self.closed = True
        freed = []
        for agent in list(self._phases):
            try:
                self.release(agent, result)
                freed.append(agent)
            except Exception as exc:
                log.warning("claim not released; its lease or the reconciler frees it",
                            extra={"agent": agent, "member": self.member_id,
                                   "error": f"{type(exc).__name__}: {exc}"})
        if freed:
            log.info("claims released as the member left", extra={"member": self.member_id, "agents": freed})
        return freed

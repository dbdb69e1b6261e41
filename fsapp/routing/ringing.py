"""The gevent driver of an Offer (fsapp/routing/offer.py): the offer's I/O.

`Ringing.run` feeds one offer round what happens (the originates' results, the caller
hanging up or pressing the leave key, the clock) and does what the machine answers:
originate an agent's leg (`&park`, the caller still on hold), hang up a ringing leg
(`uuid_kill ORIGINATOR_CANCEL`), release a claim with its result, claim one more agent
by the strategy's order (ring-progressively). It returns how the round ended: `Connect`
(the router bridges), `Leave` (the caller left) or None (nobody answered: the caller
waits again at its place). Only the caller's own greenlet runs it; the originates run in
greenlets of their own and report to the caller's inbox, so the offer's state is changed
in one place, by one clock (the Router's).
"""
from __future__ import annotations

import uuid as uuid_mod

import gevent

from fsapp.esl.errors import OriginateError
from fsapp.log import get_logger
from fsapp.routing.inbox import CallerGone, LeftQueue, OfferAnswered, OfferFailed
from fsapp.routing.model import Member, OfferResult
from fsapp.routing.offer import (Cancel, Connect, GiveUp, Hangup, Leave, Offer, Release, Ring, Widen,
                                 result_of)
from fsapp.routing.strategies import get_strategy, order_agents

log = get_logger("fsapp.routing.ringing")


class Ringing:
    def __init__(self, esl, legs, records, backend, clock, quietly):
        self.esl = esl
        self.legs = legs              # fsapp.routing.legs.Legs
        self.records = records        # fsapp.routing.records.QueueRecords
        self.backend = backend
        self.clock = clock
        self.quietly = quietly        # Router._quietly: bookkeeping that survives a Redis outage

    def run(self, member: Member, ticket, assignment) -> Connect | Leave | None:
        return _Round(self, member, ticket, assignment).run()


class _Round:
    """One offer round of one caller: the machine, the agents' records and their legs."""

    def __init__(self, ringing: Ringing, member: Member, ticket, assignment):
        self.r = ringing
        self.member = member
        self.ticket = ticket
        self.claims = ticket.claims
        self.queue = q = assignment.queue
        self.strategy = get_strategy(q.strategy)
        self.agents = {a.name: a for a in assignment.agents}
        self.legs: dict[str, str] = {}            # agent -> origination uuid of its leg
        self.cancelled: set[str] = set()          # a ring not yet on the wire is not sent
        # the switch's originate timeout, plus the time its reply may take, plus slack:
        # the net under a lost reply, not how no-answer is normally noticed
        slack = q.offer_timeout + getattr(ringing.esl, "command_timeout", 10.0) + 5.0
        self.offer = Offer(uuid_mod.uuid4().hex[:8],
                           [a.name for a in assignment.agents if a.name in self.claims],  # lost meanwhile: skip
                           now=ringing.clock(), ring_timeout=slack, widen_every=self.strategy.widen_every(q))

    def run(self) -> Connect | Leave | None:
        offer, clock = self.offer, self.r.clock
        try:
            ended = self.apply(offer.start())
            while ended is _GOING:
                timer = offer.next_timer()
                msg = self.ticket.wait(None if timer is None else max(0.0, timer - clock()))
                if msg is None:
                    outputs = offer.tick(clock())
                elif isinstance(msg, CallerGone):
                    outputs = offer.caller_gone(msg.cause)
                elif isinstance(msg, LeftQueue):
                    outputs = offer.left_queue(msg.digit)
                elif isinstance(msg, OfferAnswered):
                    outputs = offer.answered(msg.agent, msg.leg, msg.offer)
                elif isinstance(msg, OfferFailed):
                    outputs = offer.failed(msg.agent, msg.cause, msg.offer)
                    if outputs:
                        log.info("agent did not take the call", extra={"agent": msg.agent, "cause": msg.cause})
                else:
                    continue             # the dispatcher's news is for after the offer
                ended = self.apply(outputs)
            return ended
        finally:
            if offer.claims:             # left by an exception: no agent rings for nobody
                self.apply(offer.caller_gone("offer-interrupted"))

    def apply(self, outputs: list):
        """Do what the machine said; the round's end (Connect, Leave, None) or _GOING."""
        ended = _GOING
        for out in outputs:
            if isinstance(out, Ring):
                ended = self._ring(out.agent)
            elif isinstance(out, Cancel):
                self.cancelled.add(out.agent)
                self.r.legs.cancel_ringing(self.legs.get(out.agent), out.agent, self.member.caller_id)
                self.r.quietly("release", self.claims.release, out.agent, out.result)
            elif isinstance(out, Release):
                self.r.quietly("release", self.claims.release, out.agent, out.result)
            elif isinstance(out, Hangup):
                self.r.legs.kill(out.leg)
            elif isinstance(out, Widen):
                ended = self._widen()
            elif isinstance(out, Connect):
                ended = out
            elif isinstance(out, Leave):
                ended = out
            elif isinstance(out, GiveUp):
                if out.reason == "offer-timeout":
                    log.warning("originate gave no result in time; the offer was cancelled")
                ended = None
            if ended is not _GOING:
                return ended
        return ended

    def _ring(self, name: str):
        if self.r.quietly("ringing phase", self.claims.mark, name, "ringing") is False:
            # the claim is gone in the shared state (an assignment handled late, after its
            # lease or a release): the agent may ring for someone else; never ring it
            # unclaimed. (None: Redis unreachable; the caller is served regardless.)
            log.warning("claim on the agent gone before the offer; not rung", extra={"agent": name})
            return self.apply(self.offer.claim_lost(name))
        leg = self.legs[name] = str(uuid_mod.uuid4())
        gevent.spawn(self._originate, self.agents[name], leg)
        return _GOING

    def _widen(self):
        """ring-progressively: claim the next agent by the strategy's order; the earlier
        ones keep ringing."""
        now = self.r.clock()
        candidates = self.r.quietly("ring-progressively", self.r.backend.candidates, self.queue.name) or []
        for cand in order_agents(self.queue, self.member, candidates, now):
            if cand.name in self.offer.rung:
                continue
            if self.r.quietly("ring-progressively claim", self.claims.take, cand.name):
                self.agents[cand.name] = cand.agent
                return self.apply(self.offer.add(cand.name, now))
        return _GOING

    def _originate(self, agent, leg: str) -> None:
        """One agent's leg, in its own greenlet: the result goes to the caller's inbox."""
        if agent.name in self.cancelled:
            return                       # cancelled before it was sent: nothing rings
        member, q, offer_id = self.member, self.queue, self.offer.id
        variables = {"origination_uuid": leg,
                     "origination_caller_id_number": member.caller_id or "0000000000",
                     "fsapp_queue": q.name, "fsapp_member_uuid": member.id, "fsapp_offer": offer_id,
                     "ignore_early_media": "true"}
        ring_at, result = self.r.clock(), "answered"
        try:
            answered = self.r.esl.originate(agent.contact, "&park", variables, timeout=q.offer_timeout)
        except OriginateError as exc:
            result = result_of(exc.cause).value
            self.ticket.inbox.put(OfferFailed(agent.name, exc.cause, offer_id))
        except Exception as exc:      # ESLError, syntax.UnsafeValue, or anything else refusing it
            result = OfferResult.NO_ANSWER.value
            log.warning("originate failed", extra={"agent": agent.name, "error": f"{type(exc).__name__}: {exc}"})
            self.ticket.inbox.put(OfferFailed(agent.name, "DESTINATION_OUT_OF_ORDER", offer_id))
        else:
            self.ticket.inbox.put(OfferAnswered(agent.name, answered, offer_id))
        finally:
            self.r.records.offer(member, agent.name, ring_at, result, leg)


_GOING = object()      # the round goes on

"""Callbacks instead of waiting: the agent is rung first, then the customer.

`Callbacks.request` queues a callback to a number (with the caller's original arrival
time, so it keeps its place); the Dispatcher offers it like a live caller (same
strategies and fairness; no overflow or max-wait). Each attempt rings the agent, then
dials the customer with the queue's `callback-dial`, then bridges the two; a customer
not reached is retried after `callback-retry-delay`, up to `callback-max-attempts`.
Calls are placed only while the queue's business calendar is open. The requests are
durable in the shared state: the reconciler hands those of a dead worker to `adopt`.
"""
from __future__ import annotations

import datetime as dt
import uuid as uuid_mod

import gevent

from fsapp.esl import syntax
from fsapp.esl.errors import ESLError
from fsapp.log import call_context, get_logger
from fsapp.routing.dispatcher import Assignment
from fsapp.routing.model import Member, OfferResult, Queue, normalize_skills
from fsapp.routing.offer import result_of
from fsapp.routing.supervisor import forget_agent_call, note_agent_call

log = get_logger("fsapp.routing.callbacks")


def check_number(number) -> str:
    number = str(number).strip()
    if not number or not all(c.isdigit() or c in "+*#" for c in number):
        raise ValueError(f"callback number {number!r}: digits only (confirm it with the caller first)")
    return number


class Callbacks:
    def __init__(self, *, config, dispatcher, esl, legs, records, backend, clock, calendars: dict,
                 quietly, set_affinity):
        self.config = config
        self.dispatcher = dispatcher
        self.esl = esl
        self.legs = legs                  # fsapp.routing.legs.Legs
        self.records = records            # fsapp.routing.records.QueueRecords
        self.backend = backend
        self.clock = clock
        self.calendars = calendars
        self.quietly = quietly            # Router._quietly: bookkeeping that survives a Redis outage
        self.set_affinity = set_affinity  # Router.set_affinity: last-agent affinity of the number
        self.running: dict[str, gevent.Greenlet] = {}

    def stop(self) -> None:
        for greenlet in list(self.running.values()):
            greenlet.kill(block=False)

    def request(self, queue: str, number: str, *, joined_at: float | None = None, priority: int = 0,
                skills: dict | None = None) -> str:
        q = self.config.queue(queue)
        number = check_number(number)
        now = self.clock()
        member = Member(f"callback-{uuid_mod.uuid4()}", q.name, number, joined_at or now, int(priority),
                        normalize_skills(skills), callback_number=number, not_before=self.business_time(q, now))
        self._start(member, adopt=False)
        self.records.event("callback", member)
        log.info("callback requested", extra={"queue": q.name, "number": number, "id": member.id})
        return member.id

    def adopt(self, member: Member) -> bool:
        """The reconciler found the callback of a dead worker: this worker takes it over."""
        if not member.callback_number or member.id in self.dispatcher.tickets:
            return False
        self._start(member, adopt=True)
        return True

    def business_time(self, q: Queue, moment: float) -> float:
        """When the queue's calendar next opens after `moment` (0.0: open now, or no calendar)."""
        calendar = self.calendars.get(q.calendar) if q.calendar else None
        if calendar is None:
            return 0.0
        local = dt.datetime.fromtimestamp(moment, tz=calendar.tz)
        opening = calendar.next_open(local)
        return opening.timestamp() if opening is not None and opening > local else 0.0

    def _start(self, member: Member, adopt: bool) -> None:
        ticket = self.dispatcher.join(member, adopt=adopt)
        self.running[member.id] = gevent.spawn(self._run, ticket)

    def _run(self, ticket) -> None:
        member = ticket.member
        with call_context(member.id):
            try:
                while True:
                    msg = ticket.wait(None)
                    if isinstance(msg, Assignment) and (finished := self._attempt(ticket, msg)):
                        break
            except BaseException as exc:
                # worker stopping, or an unexpected error: the agents are let go at once, the
                # request stays in the shared state and after its lease a reconciler (this
                # worker's or another's) adopts it
                ticket.claims.close()
                self.dispatcher.tickets.pop(member.id, None)
                if not isinstance(exc, gevent.GreenletExit):
                    log.exception("callback attempt failed; it is retried once its lease lapses")
                raise
            else:
                self.quietly("callback done", self.dispatcher.leave, member.id)
                # published once the request has left the queue: whoever reacts to the
                # event reads a state where it is gone
                self.quietly("callback event", self.backend.publish, finished)
            finally:
                self.running.pop(member.id, None)

    def _attempt(self, ticket, assignment: Assignment) -> dict | None:
        """Ring the agent, then the customer. When the callback is finished (served or out
        of attempts): the event to publish once it has left the queue; None when it waits
        again."""
        member, q, claims = ticket.member, ticket.queue, ticket.claims
        agent, others = assignment.agents[0], assignment.agents[1:]
        for other in others:
            claims.release(other.name, OfferResult.CANCELLED)
        claims.mark(agent.name, "ringing")
        try:
            agent_leg = self.esl.originate(agent.contact, "&park", {
                "origination_caller_id_number": member.callback_number, "fsapp_queue": q.name,
                "fsapp_callback": member.id, "ignore_early_media": "true"}, timeout=q.offer_timeout)
        except ESLError as exc:
            claims.release(agent.name, result_of(getattr(exc, "cause", "DESTINATION_OUT_OF_ORDER")))
            self.dispatcher.requeue(member.id)
            return None
        agent_gone = self.legs.watch(agent_leg)
        self.quietly("talking phase", claims.mark, agent.name, "talking", agent_leg)
        try:
            dial = syntax.dial_string(q.callback_dial.format(number=syntax.number(member.callback_number)),
                                      f"queue {q.name} callback-dial")
            customer_leg = self.esl.originate(dial, "&park", {
                "origination_caller_id_number": q.name, "fsapp_callback": member.id,
                "ignore_early_media": "true"}, timeout=max(q.offer_timeout, 30.0))
        except ESLError as exc:
            self.legs.end(agent_leg)           # the agent is let go once the leg is down
            self.legs.unwatch(agent_leg)
            claims.release(agent.name, OfferResult.CANCELLED)
            attempts = member.callback_attempts + 1
            log.info("callback: customer not reached", extra={"attempt": attempts, "error": str(exc)})
            if attempts >= q.callback_max_attempts:
                self.records.event("abandoned", member, agent=agent.name)
                return {"event": "callback-failed", "queue": q.name, "member": member.id,
                        "attempts": attempts, "at": self.clock()}
            retry_at = self.clock() + q.callback_retry_delay
            self.dispatcher.requeue(member.id, callback_attempts=attempts,
                                 not_before=max(retry_at, self.business_time(q, retry_at)))
            return None
        answered_at = self.clock()
        self.records.event("answered", member, agent=agent.name, wait_s=answered_at - member.joined_at)
        customer_gone = self.legs.watch(customer_leg)
        talk = 0.0
        try:
            self.esl.uuid_bridge(agent_leg, customer_leg)
            self.quietly("agent call", note_agent_call, self.backend, agent.name, agent_leg, member.id,
                       q.name, answered_at)
            on_hold = self.legs.holds.watch(agent_leg, customer_leg)
            self.legs.wait_either(agent_leg, agent_gone, customer_leg, customer_gone)
            talk = self.clock() - answered_at
            self.records.event("completed", member, agent=agent.name, wait_s=answered_at - member.joined_at,
                            talk_s=talk, wrap_up_s=agent.wrap_up_time, hold_s=self.legs.holds.done(on_hold))
            if transfer := self.legs.transfer_of(agent_leg):
                self.records.event("transfer", member, agent=agent.name, target=transfer)
        except ESLError as exc:
            log.warning("callback bridge failed", extra={"error": str(exc)})
        finally:
            for leg in (agent_leg, customer_leg):
                self.legs.end(leg)            # the agent is let go once its leg is down
            self.legs.unwatch(agent_leg, customer_leg)
            self.quietly("agent call", forget_agent_call, self.backend, agent.name, agent_leg)
            self.quietly("release", claims.release, agent.name, OfferResult.COMPLETED, talk)
            self.quietly("handle time", self.backend.record_handle_time, q.name, talk + agent.wrap_up_time)
            self.quietly("affinity", self.set_affinity, member.callback_number, agent.name, answered_at)
        return {"event": "callback-completed", "queue": q.name, "member": member.id,
                "agent": agent.name, "at": self.clock()}

"""The event-driven heart of routing: match waiting members with free agents.

One Dispatcher runs per worker process. It sleeps until something happens (an agent
becomes free or changes status, a member joins or leaves, a tier changes; these arrive
as backend events from every worker and node) or until the earliest timer it computed
(an overflow deadline, a tier level opening, a ring-progressively step). No polling.

On each pass, per queue, ONE backend call (`decide`, fsapp/routing/decision.py: a Lua
script on Redis) orders *all* waiting members of the queue (every worker's: priority with
aging, so fairness is global) and claims agents only for this worker's members among the
first K, K being the number of free agents. Deciding and claiming are one atomic step, so
two workers racing for one agent cannot both win, and a decision costs one round trip.
The overflow rules and exits then run here on what the decision counted. The member's own greenlet (Router.enqueue, or a
test) receives the Assignment and does the I/O: ring, bridge, release.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import gevent
import gevent.event
import gevent.queue

from fsapp.log import get_logger
from fsapp.routing.claims import MemberClaims
from fsapp.routing.config import RoutingConfig
from fsapp.routing.decision import QueueDecision
from fsapp.routing.model import AgentRecord, Member, MemberState, OfferResult, Queue
from fsapp.routing.policy import Decision, QueueSnapshot, next_overflow_check, overflow_decision
from fsapp.routing.strategies import next_level_at

log = get_logger("fsapp.routing.dispatcher")

WAKE_EVENTS = {"agent-status", "agent-released", "member-joined", "member-left", "tier-added",
               "tier-removed", "member-requeued", "reconciled"}


@dataclass
class Assignment:
    """Agents claimed for one member: one, or several at once for ring-all/progressively."""
    agents: list[AgentRecord]
    queue: Queue


@dataclass
class Ticket:
    """A local member's mailbox: the dispatcher puts an Assignment or a Decision in it.
    `claims` holds the agents engaged for the member; Dispatcher.leave closes it."""
    member: Member
    queue: Queue
    claims: MemberClaims
    inbox: gevent.queue.Queue = field(default_factory=lambda: gevent.queue.Queue())
    active: bool = True          # False once the caller left or was served

    def wait(self, timeout: float | None) -> Assignment | Decision | None:
        try:
            return self.inbox.get(timeout=timeout)
        except gevent.queue.Empty:
            return None



class _Local:
    """This worker's members of one queue, active (may be offered agents) or not (leaving,
    overflowing: skipped): a view, so a decision does not copy every ticket into a set.
    With `queue`, only the members holding that Queue (one routing version's)."""

    def __init__(self, tickets: dict[str, Ticket], active: bool, queue: Queue | None = None):
        self.tickets = tickets
        self.active = active
        self.queue = queue

    def _counts(self, ticket: Ticket) -> bool:
        return ticket.active == self.active and (self.queue is None or ticket.queue is self.queue)

    def __contains__(self, member_id: str) -> bool:
        ticket = self.tickets.get(member_id)
        return ticket is not None and self._counts(ticket)

    def __iter__(self):
        return (m for m, t in self.tickets.items() if self._counts(t))


class Dispatcher:
    def __init__(self, backend, config: RoutingConfig, worker_id: str, lease: float = 30.0,
                 clock: Callable[[], float] = time.time,
                 fallback_wake: float = 30.0, on_unavailable: Callable[[Exception], None] | None = None,
                 state_up: Callable[[], bool] = lambda: True):
        self.backend = backend
        self.config = config
        self.worker_id = worker_id
        self.lease = lease
        self.clock = clock
        # Safety net only (a lost pub/sub message must not strand a caller forever);
        # routing itself is driven by events and computed timers.
        self.fallback_wake = fallback_wake
        # told when the state backend cannot be reached (the router's StateGuard: it
        # fails the waiting callers over to on_error and reconnects with back-off)
        self.on_unavailable = on_unavailable
        # while it says no, nothing is dispatched or renewed: a Redis that restarted empty
        # must not make this worker forget the claims its callers hold before the repair
        # (Reconciler.recover) puts them back
        self.state_up = state_up
        self.tickets: dict[str, Ticket] = {}
        self._queue_tickets: dict[str, dict[str, Ticket]] = {}   # queue -> its tickets (no scan of all)
        self.delivered: list[str] = []     # members sent an Assignment or Decision by the last pass
        self._wake = gevent.event.Event()
        self._loop: gevent.Greenlet | None = None
        self._renewer: gevent.Greenlet | None = None
        self._unsubscribe = None
        self._no_agent_since: dict[str, float] = {}
        self._check_state = False
        self._unreachable = False
        self._unreachable = False
        self.passes = 0

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> "Dispatcher":
        self._unsubscribe = self.backend.subscribe(self._on_event)
        self._loop = gevent.spawn(self._run)
        self._renewer = gevent.spawn(self._renew_leases)
        return self

    def stop(self) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        for g in (self._loop, self._renewer):
            if g is not None:
                g.kill(block=True, timeout=2)

    def wake(self) -> None:
        self._wake.set()

    def _on_event(self, event: dict) -> None:
        if event.get("event") in WAKE_EVENTS:
            self._wake.set()
        elif event.get("event") == "state-connection-lost":
            # the backend's event stream broke (Redis killed?): the loop checks with a PING,
            # so an outage is noticed at once even with nobody waiting
            self._check_state = True
            self._wake.set()

    # -- members -------------------------------------------------------------------------
    def join(self, member: Member, adopt: bool = False, queue: Queue | None = None) -> Ticket:
        """Register a member of this worker (adopt=True: take over an existing record,
        e.g. a callback whose worker died). `queue`: the queue as the caller's routing
        version defines it (default: the current routing's); the member keeps it."""
        queue = queue or self.config.queue(member.queue)
        member.owner = self.worker_id
        member.state = MemberState.WAITING
        member.expires = self.clock() + self.lease
        ticket = Ticket(member, queue, MemberClaims(self.backend, member.id, self.worker_id, self.lease, self.clock))
        self.tickets[member.id] = ticket
        self._queue_tickets.setdefault(queue.name, {})[member.id] = ticket
        try:
            if adopt:
                self.backend.update_member(member.id, owner=self.worker_id, state=MemberState.WAITING,
                                           expires=member.expires, serving_agent="")
                self.backend.publish({"event": "member-requeued", "member": member.id})
            else:
                self.backend.add_member(member)
        except BaseException:
            self.tickets.pop(member.id, None)     # not queued: nothing of it may stay behind
            self._queue_tickets.get(queue.name, {}).pop(member.id, None)
            ticket.active = False
            ticket.claims.close()
            raise
        self._wake.set()
        return ticket

    def requeue(self, member_id: str, **fields) -> None:
        """After a failed offer the member waits again (keeping its place: joined_at)."""
        if member_id in self.tickets:
            self.backend.update_member(member_id, state=MemberState.WAITING, serving_agent="", **fields)
            self.tickets[member_id].member.__dict__.update(fields)
            self.backend.publish({"event": "member-requeued", "member": member_id})
            self._wake.set()

    def leave(self, member_id: str) -> None:
        """The member is done, however it ended: the one place its agents are let go
        (claims still held, including those of an Assignment nobody read, are released
        at once), then its record goes."""
        ticket = self.tickets.pop(member_id, None)
        if ticket is not None:
            self._queue_tickets.get(ticket.queue.name, {}).pop(member_id, None)
            ticket.active = False
            ticket.claims.close()
        self.backend.remove_member(member_id)

    # -- the loop ------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            timeout = self.fallback_wake
            try:
                if self._check_state:
                    self._check_state = False
                    self.backend.ping()
                if not self.state_up():
                    self._wake.wait(self.fallback_wake)   # the repair wakes the loop
                    self._wake.clear()
                    continue
                next_at = self.dispatch_once()
                self._unreachable = False
                if next_at is not None:
                    timeout = max(0.01, min(timeout, next_at - self.clock()))
            except Exception as exc:
                self._failed(exc, "dispatch pass failed; retrying on the next event")
                timeout = 1.0
            self._wake.wait(timeout)
            self._wake.clear()

    def _failed(self, exc: Exception, what: str, member_id: str = "") -> None:
        """Log a failed pass or renewal (call from an except block); an unreachable state
        backend is reported to on_unavailable instead of a traceback per pass."""
        if isinstance(exc, self.backend.unavailable_errors):
            # once per outage at warning level (the StateGuard logs the outage itself)
            level = log.debug if self._unreachable else log.warning
            self._unreachable = True
            level(f"{what}: routing state unreachable", extra={"member": member_id, "error": str(exc)})
            if self.on_unavailable is not None:
                self.on_unavailable(exc)
        else:
            log.exception(what, extra={"member": member_id})

    def dispatch_once(self) -> float | None:
        """One pass over the queues this worker has members in. Returns the next timer."""
        self.passes += 1
        now = self.clock()
        next_times: list[float] = []
        self.delivered = []
        for name in sorted(q for q, tickets in self._queue_tickets.items() if tickets):
            # one decision per routing version of the queue among its members (a deploy
            # changed it while some waited: each keeps the strategy and rules it entered with)
            for queue in self._versions_of(name):
                next_at = self._dispatch_queue(queue, now)
                if next_at is not None:
                    next_times.append(next_at)
        return min(next_times) if next_times else None

    def _versions_of(self, name: str) -> list[Queue]:
        """The distinct Queue objects this worker's members of `name` hold (by identity:
        one per routing version; almost always one)."""
        found: list[Queue] = []
        for ticket in self._queue_tickets.get(name, {}).values():
            if not any(ticket.queue is q for q in found):
                found.append(ticket.queue)
        return found

    def _snapshot(self, queue: Queue, decision: QueueDecision, now: float) -> QueueSnapshot:
        if decision.logged_in:
            self._no_agent_since.pop(queue.name, None)
            since = None
        elif decision.tiered:  # shared truth: when the last agent of the queue logged out
            since = decision.last_status_change
        else:             # no tier at all: since this worker first noticed
            since = self._no_agent_since.setdefault(queue.name, now)
        # recent handle times feed only wait estimates: fetch them only for a rule that uses one
        needs_estimate = any(r.condition == "estimated_wait_over" for r in queue.overflow)
        return QueueSnapshot(waiting=len(decision.order), logged_in=decision.logged_in, free=decision.free,
                             handle_times=self.backend.handle_times(queue.name) if needs_estimate else (),
                             no_agent_since=since)

    def _dispatch_queue(self, queue: Queue, now: float) -> float | None:
        """One decision (one backend call: order the members, claim agents for ours),
        then the overflow rules and exits for our members, then the offers."""
        tickets = self._queue_tickets.get(queue.name, {})
        decision = self.backend.decide(queue, _Local(tickets, True, queue), _Local(tickets, False), self.worker_id,
                                       self.lease, now)
        offers = dict(decision.offers)
        snap = self._snapshot(queue, decision, now)
        timers: list[float] = [decision.deferred] if decision.deferred is not None else []
        free_levels = set(decision.free_levels)
        # overflow / exits for local members, in order
        for position, member_id in enumerate(decision.order, start=1):
            ticket = self.tickets.get(member_id)
            if ticket is None or not ticket.active or ticket.queue is not queue or ticket.member.callback_number:
                continue
            member = ticket.member
            overflow = overflow_decision(queue, member, position, snap, now)
            if overflow is not None:
                ticket.active = False
                for agent in offers.pop(member_id, []):     # decided in the same step: let go
                    self.backend.release(agent.name, member_id, self.worker_id, OfferResult.CANCELLED, now)
                self.backend.update_member(member_id, state=MemberState.ABANDONED)
                ticket.inbox.put(overflow)
                self.delivered.append(member_id)
                continue
            t = next_overflow_check(queue, member, snap)
            if t is not None:
                timers.append(t)
            t = next_level_at(queue, decision.levels, free_levels, member.joined_at, now)
            if t is not None:
                timers.append(t)
        if decision.order and decision.ready_at is not None:
            # an agent coming out of wrap-up or a reject/no-answer delay is an event nobody
            # publishes: its end is a timer, so a waiting caller gets that agent at once
            timers.append(decision.ready_at)
        for member_id, agents in offers.items():
            ticket = self.tickets.get(member_id)
            if ticket is None:      # left while the decision was on its way: let them go
                for agent in agents:
                    self.backend.release(agent.name, member_id, self.worker_id, OfferResult.CANCELLED, now)
                continue
            claimed = [a for a in agents if ticket.claims.adopt(a.name)]
            if claimed:
                ticket.inbox.put(Assignment(claimed, queue))
                self.delivered.append(member_id)
        return min(timers) if timers else None

    # -- leases ----------------------------------------------------------------------------
    def _renew_leases(self) -> None:
        """Members this worker serves stay leased while it lives (the reconciler drops
        the members of a dead worker once their lease has lapsed)."""
        while True:
            gevent.sleep(self.lease / 3)
            if not self.state_up():
                continue
            expires = self.clock() + self.lease
            leased = [member_id for member_id, ticket in list(self.tickets.items())
                      if ticket.active or ticket.member.state != MemberState.ABANDONED]
            try:   # one pipelined round trip for every member's lease
                gone = self.backend.renew_members(leased, expires)
            except Exception as exc:
                self._failed(exc, "member lease renewal failed", f"{len(leased)} members")
                gone = []
            for member_id in gone:
                if member_id in self.tickets:
                    log.warning("member lease renewal: member no longer in the shared state",
                                extra={"member": member_id})
            for member_id, ticket in list(self.tickets.items()):
                try:
                    ticket.claims.renew_all()
                except Exception as exc:
                    self._failed(exc, "claim lease renewal failed", member_id)

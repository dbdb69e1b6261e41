"""The real routing core on a virtual clock: what `fsapp simulate-load` runs.

fsapp.routing's Dispatcher (member ordering with priorities and aging, the queue's
strategy, skills, tier levels, overflow rules and exits) and the memory backend (claims,
wrap-up, delays) decide everything; this module only plays the parts that the switch and
the callers play in production, as events on a virtual clock:

    arrive    the caller joins the queue (Dispatcher.join)
    patience  the caller gives up if still waiting (Dispatcher.leave)
    answer    the rung agent answers after `ring_s` (backend.answered)
    hangup    the talk ends after the call's talk time (backend.release COMPLETED: wrap-up)

After the events of one instant, one dispatch pass runs (Dispatcher.dispatch_once, as its
loop would on the wake-up event); the timer it returns (overflow deadline, an agent's
wrap-up end, a tier level opening) becomes the next dispatch event. An Assignment in a
caller's mailbox is rung; a Decision (overflow, time-out) moves the caller on: to the
target queue for `queue:NAME`, out of the centre for any other target.
"""
from __future__ import annotations

import heapq
import itertools
import math
from dataclasses import dataclass, field

from fsapp.routing.backend import MemoryBackend
from fsapp.routing.config import RoutingConfig, seed_backend
from fsapp.routing.dispatcher import Assignment, Dispatcher
from fsapp.routing.model import AgentStatus, Member, MemberState, OfferResult
from fsapp.routing.policy import Decision

WORKER = "simulate-load"
LEASE = 1e12                          # claims never lapse on the virtual clock


@dataclass
class SimCall:
    id: str
    queue: str
    arrive: float                     # epoch seconds
    talk_s: float                     # talk time if answered (wrap-up comes from the agent)
    patience_s: float = math.inf      # gives up after waiting this long
    caller: str = ""
    priority: int = 0
    skills: dict = field(default_factory=dict)


@dataclass
class Leg:
    """One call's time in one queue, as the reports count it."""
    call: str
    queue: str
    entered: float
    caller: str = ""
    outcome: str = "waiting"          # answered | abandoned | transferred | timed_out | waiting
    wait_s: float = 0.0
    agent: str = ""
    talk_s: float = 0.0
    wrap_up_s: float = 0.0
    target: str = ""


class SimulationBackend(MemoryBackend):
    """The memory backend without its defensive copies: in a simulation nothing outside
    the routing core holds on to the records, and a dispatch pass over a thousand agents
    spends much of its time copying them."""

    def agents(self, names=None):
        keys = sorted(self._agents) if names is None else names
        return [self._agents[n] for n in keys if n in self._agents]

    def candidates(self, queue):
        # tiers do not change during a simulation and the candidates hold the live
        # records, so one list per queue serves every pass (a tier edit drops it)
        cache = self.__dict__.setdefault("_candidates", {})
        if queue not in cache:
            cache[queue] = super().candidates(queue)
        return cache[queue]

    def add_tier(self, tier):
        self.__dict__.pop("_candidates", None)
        return super().add_tier(tier)

    def remove_tier(self, queue, agent):
        self.__dict__.pop("_candidates", None)
        return super().remove_tier(queue, agent)

    def tiers(self, queue=None, agent=None):
        if queue is not None:
            rows = self._tiers_by_queue.get(queue, {}).values()
        elif agent is not None:
            rows = self._tiers_by_agent.get(agent, {}).values()
        else:
            rows = self._tiers.values()
        return sorted(rows, key=lambda t: (t.queue, t.agent))


class LoadSimulation:
    def __init__(self, routing: RoutingConfig, calls: list[SimCall], *, ring_s: float = 0.0,
                 start: float | None = None, all_available: bool = True):
        self.routing = routing
        self.calls = sorted(calls, key=lambda c: (c.arrive, c.id))
        self.ring_s = ring_s
        self.now = start if start is not None else (self.calls[0].arrive if self.calls else 0.0)
        self.backend = SimulationBackend()
        seed_backend(routing, self.backend, self.now)
        if all_available:      # the configured initial status is a login state, not a staffing plan
            for name in routing.agents:
                if self.backend.get_agent(name).status == AgentStatus.LOGGED_OUT:
                    self.backend.set_status(name, AgentStatus.AVAILABLE, self.now)
        self.dispatcher = Dispatcher(self.backend, routing, WORKER, LEASE, clock=lambda: self.now)
        self.legs: list[Leg] = []
        self._open: dict[str, tuple[SimCall, Leg]] = {}   # member id -> the call and its current leg
        self._events: list = []
        self._seq = itertools.count()
        self._next_dispatch = math.inf
        self.dispatch_passes = 0
        self.busy_s: dict[str, float] = {}               # agent -> talk + wrap-up seconds

    # -- the event queue ------------------------------------------------------------------
    def _at(self, when: float, kind: str, *data) -> None:
        heapq.heappush(self._events, (when, next(self._seq), kind, data))

    def run(self) -> list[Leg]:
        for call in self.calls:
            self._at(call.arrive, "arrive", call)
        while self._events:
            when = self._events[0][0]
            self.now = max(self.now, when)
            while self._events and self._events[0][0] <= self.now:
                _, _, kind, data = heapq.heappop(self._events)
                getattr(self, f"_on_{kind}")(*data)
            self._dispatch()
        return self.legs

    def _dispatch(self) -> None:
        if not self.dispatcher.tickets:
            return
        self.dispatch_passes += 1
        next_at = self.dispatcher.dispatch_once()
        for member_id in self.dispatcher.delivered:      # only they got a message
            ticket = self.dispatcher.tickets.get(member_id)
            while ticket is not None and not ticket.inbox.empty():
                self._deliver(member_id, ticket.inbox.get_nowait())
        if next_at is not None and next_at > self.now and next_at < self._next_dispatch:
            self._next_dispatch = next_at
            self._at(next_at, "dispatch", next_at)

    def _on_dispatch(self, planned: float) -> None:
        if planned == self._next_dispatch:
            self._next_dispatch = math.inf        # the pass after this instant's events sets the next

    # -- callers ----------------------------------------------------------------------------
    def _on_arrive(self, call: SimCall, queue: str | None = None, waited_before: float = 0.0) -> None:
        queue = queue or call.queue
        leg = Leg(call.id, queue, self.now, call.caller)
        self.legs.append(leg)
        member = Member(f"{call.id}@{queue}", queue, call.caller, self.now, call.priority, dict(call.skills))
        self._open[member.id] = (call, leg)
        self.dispatcher.join(member)
        left = call.patience_s - waited_before
        if math.isfinite(left):
            self._at(self.now + max(0.0, left), "patience", member.id)

    def _on_patience(self, member_id: str) -> None:
        entry = self._open.get(member_id)
        ticket = self.dispatcher.tickets.get(member_id)
        if entry is None or ticket is None:
            return                                # answered or moved on already
        call, leg = entry
        if ticket.member.state == MemberState.ANSWERED:
            return                                # talking: patience no longer counts
        self._finish(member_id, leg, "abandoned")  # leave() lets the agents it rings go

    def _deliver(self, member_id: str, message) -> None:
        call, leg = self._open[member_id]
        if isinstance(message, Assignment):
            ticket = self.dispatcher.tickets[member_id]
            ticket.member.state = MemberState.TRYING
            ticket.member.serving_agent = ",".join(a.name for a in message.agents)
            self._at(self.now + self.ring_s, "answer", member_id, [a.name for a in message.agents])
        elif isinstance(message, Decision):
            if message.kind == "overflow":
                leg.target = f"{message.action}:{message.target}"
                self._finish(member_id, leg, "transferred")
                if message.action == "queue" and message.target in self.routing.queues:
                    self._on_arrive(call, message.target, waited_before=_prior_wait(self.legs, call))
            else:
                self._finish(member_id, leg, "timed_out")

    def _on_answer(self, member_id: str, agents: list[str]) -> None:
        if member_id not in self._open or member_id not in self.dispatcher.tickets:
            return                                # the caller gave up while it rang
        call, leg = self._open[member_id]
        ticket = self.dispatcher.tickets[member_id]
        agent, others = agents[0], agents[1:]
        for other in others:                      # ring-all: the first answer wins
            ticket.claims.release(other, OfferResult.CANCELLED)
        # the member stays with the dispatcher until the talk ends, as in the Router: its
        # claim on the agent is what keeps the agent busy (leave() would let it go)
        ticket.claims.mark(agent, "talking")
        ticket.member.state = MemberState.ANSWERED
        self.backend.update_member(member_id, state=MemberState.ANSWERED, serving_agent=agent)
        leg.agent = agent
        leg.outcome, leg.wait_s = "answered", self.now - leg.entered
        self._at(self.now + call.talk_s, "hangup", member_id, agent)

    def _on_hangup(self, member_id: str, agent: str) -> None:
        call, leg = self._open.pop(member_id)
        leg.talk_s = call.talk_s
        leg.wrap_up_s = self.routing.agents[agent].wrap_up_time if agent in self.routing.agents else 0.0
        ticket = self.dispatcher.tickets.get(member_id)
        if ticket is not None:
            ticket.claims.release(agent, OfferResult.COMPLETED, call.talk_s)   # wrap-up starts
        self.dispatcher.leave(member_id)
        self.busy_s[agent] = self.busy_s.get(agent, 0.0) + leg.talk_s + leg.wrap_up_s
        self.backend.publish({"event": "agent-released", "agent": agent})

    def _finish(self, member_id: str, leg: Leg, outcome: str) -> None:
        leg.outcome = outcome
        leg.wait_s = self.now - leg.entered
        self.dispatcher.leave(member_id)
        self._open.pop(member_id, None)


def _prior_wait(legs: list[Leg], call: SimCall) -> float:
    """Time the call already waited in earlier queues (patience is the caller's, not the queue's)."""
    return sum(leg.wait_s for leg in legs if leg.call == call.id and leg.outcome == "transferred")

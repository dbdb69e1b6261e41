"""Router: what the `queue` flow node calls. The thin front of routing's I/O.

    router = Router.from_config(cfg, esl=InboundClient.from_config(cfg)).start()
    outcome = router.enqueue(call, "hotline", priority=1, skills={"cantonese": 5})
    outcome.kind in {"answered", "abandoned", "overflow", "timeout", "callback", "transferred"}; outcome.target
    (answered: the agent's transfer, e.g. blind:2000; transferred: a bridged overflow number,
    or attended:1003 when the agent's att_xfer put the caller through and that talk ended)

A caller's time in the queue is one greenlet reading one inbox (its Ticket): the
Dispatcher's Assignment or Decision, the hold's news (hung up, leave key), the agents'
originate results. The parts, each in its own module:

  hold.Hold / hold.Announcer   music on hold, the periodic announcement (position and
                               estimated wait in the caller's language), the leave key
  offer.Offer                  one offer round as a pure state machine (no I/O)
  ringing.Ringing              its gevent driver: originate, cancel, release, widen
  (here) _connect              the agent answered: announce the agent id, bridge, talk, wrap-up
  callbacks.Callbacks          callbacks instead of waiting
  legs.Legs, records.QueueRecords   hangup events and kills; the reports' rows and events

One clock (the injected `clock`) times everything.

Deploys (`reconfigure`, `pinned`): a new routing.yaml reaches the running router without a
restart, and each call keeps the routing of the version it started under. What a call
keeps (a RoutingVersion: the queues, sites and calendars of that routing.yaml): the queue
it asked for and every queue an overflow rule moves it to, with their settings at entry
(strategy, overflow rules and exits, timeouts, announcements, leave key, VIP list,
priority query, calendar and closed target). What is shared and always current: the
agents and tiers (people, in the shared state of every worker: the deploy reconciles
them, an agent on a call stays on it and busy), and agents' settings (contact, wrap-up).
So a caller already waiting when the deploy lands is ordered and offered agents by its
own queue's strategy and leaves by its own overflow rules, among the agents the queue
has now; callers who enter afterwards get the new settings.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

from fsapp.esl import callerid
from fsapp.esl.errors import CallHangup, CommandError, CommandTimeout, ESLError
from fsapp.log import call_context, get_logger
from fsapp.routing.backend import StateBackend
from fsapp.routing.callbacks import Callbacks
from fsapp.routing.config import RoutingConfig
from fsapp.routing.dispatcher import Assignment, Dispatcher
from fsapp.routing.hold import Announcer, Hold
from fsapp.routing.inbox import CallerGone, LeftQueue, OfferAnswered, StateLost
from fsapp.routing.legs import Legs
from fsapp.routing.model import AgentStatus, Member, MemberState, OfferResult, Queue, normalize_skills
from fsapp.routing.offer import Connect, Leave
from fsapp.routing.outage import Backoff, StateGuard
from fsapp.routing.overflow import Overflow
from fsapp.routing.policy import Decision, QueueSnapshot, estimate_wait
from fsapp.routing.records import QueueRecords
from fsapp.routing.ringing import Ringing
from fsapp.routing.strategies import order_members
from fsapp.routing.supervisor import Supervisor, forget_agent_call, note_agent_call

__all__ = ["Outcome", "Router", "normalize_skills"]

log = get_logger("fsapp.routing.router")


@dataclass
class Outcome:
    kind: str                 # answered | abandoned | overflow | timeout | callback | transferred
    target: str = ""          # overflow: "queue:experts", "flow:mailbox", "number:95598", ...
    agent: str = ""
    reason: str = ""
    waited_s: float = 0.0
    talk_s: float = 0.0
    joined_at: float = 0.0    # when the caller joined: request_callback(joined_at=...) keeps the place
    priority: int = 0         # the caller's priority in the queue (kept by an overflow move)


@dataclass(frozen=True, eq=False)
class RoutingVersion:
    """One routing.yaml as loaded: what a call keeps from its start to its end (see the
    module docstring). Compared by identity: tickets of one version share its Queues."""
    config: RoutingConfig
    calendars: dict = field(default_factory=dict)


class PinnedRouter:
    """The router as one RoutingVersion sees it: what the flows' calls use. The flow
    handler's registry holds one per reload, so a call keeps the routing of the version it
    started under; everything but enqueue is the router's own (current) state."""

    def __init__(self, router: "Router", version: RoutingVersion):
        self.base, self.version = router, version

    def enqueue(self, call, queue: str, **kwargs) -> "Outcome":
        return self.base.enqueue(call, queue, routing=self.version, **kwargs)

    def __getattr__(self, name):
        return getattr(self.base, name)


class Router:
    # how long the legs may take to meet after uuid_bridge's +OK (FreeSWITCH's caller thread
    # waits up to 1000 x 20 ms for the other leg to settle before it gives up)
    BRIDGE_DEADLINE = 20.0

    def __init__(self, config: RoutingConfig, backend: StateBackend, esl, *, worker_id: str | None = None,
                 lease: float = 30.0, clock=time.time, store=None, node: str = "",
                 calendars: dict | None = None, agent_id_prompts=None, queue_prompts=None,
                 backoff: Backoff = Backoff(), outage_grace: float = 5.0):
        from fsapp.routing.state import default_worker_id
        self.config = config
        self.backend = backend
        self.esl = esl
        self.worker_id = worker_id or default_worker_id()
        self.lease = lease
        self.clock = clock
        self.store = store
        self.node = node or f"{getattr(esl, 'host', '')}:{getattr(esl, 'port', '')}"
        # an unreachable state (Redis down): typed error, back-off reconnect, repair on return
        self.guard = StateGuard(backend, self.recover_state, on_down=self._fail_waiting,
                                backoff=backoff, grace=outage_grace)
        self.dispatcher = Dispatcher(backend, config, self.worker_id, lease, clock,
                                     on_unavailable=self.guard.failed, state_up=lambda: self.guard.up)
        self.legs = Legs(esl, config.agents, check_every=lease / 3, clock=clock)
        self.records = QueueRecords(store, esl, clock)
        self.ringing = Ringing(esl, self.legs, self.records, backend, clock, self._quietly)
        self.calendars = calendars if calendars is not None else {}
        self.callbacks = Callbacks(config=config, dispatcher=self.dispatcher, esl=esl, legs=self.legs,
                                   records=self.records, backend=backend, clock=clock, calendars=self.calendars,
                                   quietly=self._quietly, set_affinity=self.set_affinity)
        _check_calendars(config, self.calendars)
        self.version = RoutingVersion(config, self.calendars)
        # Prompt resolvers, injected because routing may not import say/sounds
        # (docs/architecture.md): announce-agent-id, (queue, agent, lang) -> paths, e.g.
        # fsapp.routing.announce.AgentIdPrompts(catalog, fsapp.say.render); announce-position,
        # fsapp.routing.announce.QueuePrompts(catalog, fsapp.say.render)
        self.agent_id_prompts = agent_id_prompts
        self.queue_prompts = queue_prompts
        self._langs: dict[str, str] = {}          # caller uuid -> language given to enqueue
        # carries out overflow targets and calendar gates (fsapp/routing/overflow.py)
        self.overflow = Overflow(config, backend, self.calendars, clock, Outcome)
        self._started = False
        self._unsubscribe_states = None
        self.reconciler = None

    @classmethod
    def from_config(cls, cfg, esl=None, store=None, clock=time.time) -> "Router":
        """A Router for the config's [routing] and [esl] sections. Without `esl` an
        InboundClient is made from [esl]. It starts itself on the first enqueue if
        start() was not called. `clock` (epoch seconds) times and stamps everything,
        the agents' seeded states included."""
        from fsapp.routing.state import load_calendars_for, open_state
        if esl is None:
            from fsapp.esl.inbound import InboundClient
            esl = InboundClient.from_config(cfg)
        routing, backend = open_state(cfg, now=clock(), store=store)
        section = cfg.section("routing")
        router = cls(routing, backend, esl, worker_id=section.get("worker_id") or None,
                     lease=section["claim_lease"], clock=clock, store=store, calendars=load_calendars_for(routing),
                     backoff=Backoff(cap=section["reconnect_max"]), outage_grace=section["outage_grace"])
        router.reconcile_interval = section.get("reconcile_interval", 60.0)
        return router

    reconcile_interval = 60.0

    @property
    def base(self) -> "Router":
        return self

    def pinned(self) -> PinnedRouter:
        """This router as its current routing version sees it, for the calls that start now."""
        return PinnedRouter(self, self.version)

    def reconfigure(self, config: RoutingConfig, calendars: dict | None = None) -> bool:
        """Apply a new routing.yaml (a deploy) without a restart: the shared state is
        reconciled, not wiped (seed_backend: agents keep their status and calls, tiers
        follow the file), and calls that start from now on get the new queues. Calls in
        progress keep the RoutingVersion they hold. False when nothing changed."""
        calendars = calendars if calendars is not None else {}
        _check_calendars(config, calendars)
        if config == self.config and calendars == self.calendars:
            return False
        from fsapp.routing.config import seed_backend
        seed_backend(config, self.backend, self.clock())
        self.version = RoutingVersion(config, calendars)
        self.config = self.dispatcher.config = self.callbacks.config = self.overflow.config = config
        self.calendars = self.callbacks.calendars = self.overflow.calendars = calendars
        self.legs.agents = config.agents          # the current agents' contacts, for new offers
        self.dispatcher.wake()                    # tiers may have changed: decide again
        log.info("routing reconfigured", extra={"queues": len(config.queues), "agents": len(config.agents),
                                                "tiers": len(config.tiers)})
        return True

    def start(self, reconcile_interval: float | None = None) -> "Router":
        from fsapp.routing.reconciler import Reconciler
        if self._started:
            return self
        if hasattr(self.esl, "start"):
            self.esl.start()          # idempotent; connects a client made by from_config
        self.esl.subscribe("CHANNEL_HANGUP")
        self.esl.subscribe("CHANNEL_BRIDGE")
        self.esl.subscribe("CHANNEL_HOLD")
        self.esl.subscribe("CHANNEL_UNHOLD")
        self.dispatcher.start()       # subscribes to the state's events: fails first if Redis is down
        self.esl.on("CHANNEL_HANGUP", self.legs.on_hangup)
        self.esl.on("CHANNEL_BRIDGE", self.legs.on_bridge)
        self.esl.on("CHANNEL_HOLD", self.legs.holds.on_event)
        self.esl.on("CHANNEL_UNHOLD", self.legs.holds.on_event)
        self._started = True
        if self.store is not None:
            self._unsubscribe_states = self.backend.subscribe(self.records.on_state_event)
        self.reconciler = Reconciler(self.backend, [self.esl], self.worker_id, self.clock,
                                     interval=reconcile_interval or self.reconcile_interval,
                                     local_members=self.dispatcher.tickets,
                                     adopt=self.callbacks.adopt).start()
        return self

    def stop(self) -> None:
        self.callbacks.stop()
        self.dispatcher.stop()
        self.guard.stop()
        if self.reconciler is not None:
            self.reconciler.stop()
        if self._unsubscribe_states is not None:
            self._unsubscribe_states()
            self._unsubscribe_states = None
        if self._started:
            try:
                self.esl.off("CHANNEL_HANGUP", self.legs.on_hangup)
                self.esl.off("CHANNEL_BRIDGE", self.legs.on_bridge)
                self.esl.off("CHANNEL_HOLD", self.legs.holds.on_event)
                self.esl.off("CHANNEL_UNHOLD", self.legs.holds.on_event)
            except ValueError:
                pass
            self._started = False

    # -- the queue node's call -----------------------------------------------------------------
    def enqueue(self, call, queue: str, priority: int = 0, skills: dict | list | None = None,
                announce: bool | None = None, timeout: float | None = None,
                caller_id: str | None = None, lang: str | None = None,
                routing: RoutingVersion | None = None) -> Outcome:
        """`skills`: {name: minimum level}, or a list of names ("cantonese") or
        "name:level" strings (a name alone means level 1 or more). `lang`: the caller's
        language, for the position announcements and announce-agent-id (else the
        queue's `language`, and `agent-id-language` for the agent's id). `routing`: the
        version the call started under (PinnedRouter passes it; default: the current)."""
        routing = routing or self.version
        q = routing.config.queue(queue)
        self.guard.check()              # Redis known down: RoutingUnavailable at once
        if not self._started:
            try:
                self.start()
            except self.backend.unavailable_errors as exc:
                raise self.guard.unavailable(exc) from exc
        if lang:
            self._langs[call.uuid] = lang
        try:
            with call_context(call.uuid):
                # the one hook of overflow: it waits through _enqueue and carries out the
                # targets (queue moves, numbers, other sites, the calendar's closed target);
                # the node's timeout covers every queue the caller moves through
                deadline = self.clock() + timeout if timeout else None
                outcome = self.overflow.serve(call, q, lambda queue, place: self._enqueue(
                    call, queue, priority, normalize_skills(skills), announce,
                    None if deadline is None else max(0.01, deadline - self.clock()), caller_id, place),
                    place=self.overflow.arriving(call, q.name), routing=routing)
                if outcome.kind == "answered" and outcome.target.startswith("attended"):
                    # att_xfer put the caller through to the consulted colleague: that talk is
                    # the rest of the call (the agent is already free); the flow must not go
                    # on over it, so its queue node ends with the call (like a bridged number)
                    self.legs.wait_gone(call.uuid)
                    return dataclasses.replace(outcome, kind="transferred")
                return outcome
        except self.backend.unavailable_errors as exc:
            raise self.guard.unavailable(exc) from exc
        finally:
            self._langs.pop(call.uuid, None)

    def request_callback(self, queue: str, number: str, *, joined_at: float | None = None, priority: int = 0,
                         skills: dict | None = None) -> str:
        """Call `number` back when an agent of `queue` is free: agent first, then the
        customer. `joined_at` (Outcome.joined_at) keeps the caller's place; calls are placed
        only while the queue's business calendar is open. Returns the callback's id."""
        return self.callbacks.request(queue, number, joined_at=joined_at, priority=priority, skills=skills)

    def supervisor(self, ring_timeout: float = 30.0) -> Supervisor:
        """Listen / whisper / barge / release on this router's state and switch."""
        return Supervisor(self.backend, self.esl, ring_timeout=ring_timeout, clock=self.clock)

    def estimate(self, queue: str, position: int) -> float | None:
        """Estimated wait (s) of the member at `position`, from recent handle times and
        the agents logged in; None when no agent is logged in."""
        now = self.clock()
        cands = self.backend.candidates(queue)
        snap = QueueSnapshot(waiting=position, logged_in=sum(c.agent.status != AgentStatus.LOGGED_OUT for c in cands),
                             free=sum(c.agent.offerable(now) for c in cands),
                             handle_times=self.backend.handle_times(queue))
        return estimate_wait(position, snap)

    # -- an unreachable state ---------------------------------------------------------------------
    def _quietly(self, what: str, fn, *args, **kwargs):
        """Bookkeeping that must not cost a caller its agent (or a finished call its
        outcome) when Redis is unreachable: logged, the outage noted, None returned; the
        repair after the outage (recover_state) puts right what it left."""
        try:
            return fn(*args, **kwargs)
        except self.backend.unavailable_errors as exc:
            self.guard.failed(exc)
            log.warning(f"{what} skipped: routing state unreachable", extra={"error": str(exc)})
            return None

    def _fail_waiting(self) -> None:
        """The outage outlasted the grace: every caller still waiting (not ringing an
        agent, not talking) gets RoutingUnavailable, so the flow's on_error runs."""
        for ticket in list(self.dispatcher.tickets.values()):
            if not ticket.member.callback_number:
                ticket.inbox.put(StateLost())

    def recover_state(self) -> list[str]:
        """The state answers again (Redis restarted, empty or not): re-seed it from
        routing.yaml, put back what this worker's callers still hold, reconcile with the
        switch (Reconciler.recover). Returns the repairs, each also logged."""
        from fsapp.routing.reconciler import Reconciler
        reconciler = self.reconciler or Reconciler(self.backend, [self.esl], self.worker_id, self.clock,
                                                   local_members=self.dispatcher.tickets)
        repairs = reconciler.recover(self.config)
        self.dispatcher.wake()
        return repairs

    # -- one caller's time in the queue ---------------------------------------------------------
    def _hold(self, call, q: Queue, member: Member, ticket, announce: bool | None) -> Hold:
        announcer = None
        if announce is not False:
            announcer = Announcer(q, self._langs.get(call.uuid) or q.language, self.queue_prompts,
                                  position=lambda: self._position(q, member.id),
                                  estimate=lambda position: self.estimate(q.name, position))
        return Hold(call, q, ticket.inbox, self.esl, self.clock, announcer).start()

    def _enqueue(self, call, q: Queue, priority, skills, announce, timeout, caller_id, place=None) -> Outcome:
        started = self.clock()
        # untrusted (the network's, or the flow's from it): the caller-id policy, docs/esl.md
        caller = callerid.number(caller_id or call.caller_id) or ""
        last_agent, last_at = self._affinity(caller)
        joined_at = place.joined_at if place else self._resume_place(q, caller, started)
        priority, skills = self._caller_profile(q, caller, max(int(priority), place.priority if place else 0), skills)
        member = Member(call.uuid, q.name, caller, joined_at, priority, skills,
                        last_agent, last_at, node=self.node)
        ticket = self.dispatcher.join(member, queue=q)
        hold = None
        outcome: Outcome | None = None
        # From here on, whatever happens (an outcome, the caller gone, an exception in a
        # record, a sendevent, an originate, the bridge, Redis), the finally below is the
        # one place this member's claims are let go (Dispatcher.leave -> MemberClaims.close).
        try:
            gone = self.legs.watch(call.uuid)
            gone.rawlink(lambda r: ticket.inbox.put(CallerGone(r.value)))
            self.records.event("enter", member, position=self._position(q, member.id))
            log.info("member joined", extra={"queue": q.name, "priority": priority, "caller": caller})
            hold = self._hold(call, q, member, ticket, announce)
            deadline = started + timeout if timeout else None
            while outcome is None:
                wait = None if deadline is None else max(0.0, deadline - self.clock())
                msg = ticket.wait(wait)
                if msg is None:
                    outcome = Outcome("timeout", reason="node-timeout")
                elif isinstance(msg, CallerGone):
                    outcome = Outcome("abandoned", reason=msg.cause)
                elif isinstance(msg, LeftQueue):
                    outcome = self._left(q, member)
                elif isinstance(msg, StateLost):
                    self.guard.check()            # still down: RoutingUnavailable (on_error)
                elif isinstance(msg, Decision):
                    outcome = (Outcome("overflow", target=f"{msg.action}:{msg.target}", reason=msg.rule.condition)
                               if msg.kind == "overflow" else Outcome("timeout", reason=msg.action))
                elif isinstance(msg, Assignment):
                    ended = self.ringing.run(member, ticket, msg)
                    if isinstance(ended, Connect):
                        outcome = self._connect(call, member, ticket, ended.agent, ended.leg, hold)
                    elif isinstance(ended, Leave):
                        outcome = (self._left(q, member) if ended.why == "left"
                                   else Outcome("abandoned", reason=ended.detail))
                    if outcome is None:           # nobody answered: wait again, same place
                        self.guard.check()        # ... unless the state is unreachable
                        self.dispatcher.requeue(member.id)
                        if hold.stopped:          # an agent answered, then left before the bridge
                            hold = self._hold(call, q, member, ticket, announce)
                elif isinstance(msg, OfferAnswered):
                    self.legs.kill(msg.leg)       # a late answer of an earlier round: hang it up
                # other stale offer results are ignored
        finally:
            try:
                self._quietly("leaving the queue", self.dispatcher.leave, member.id)
            finally:
                self.legs.unwatch(call.uuid)
                if hold is not None:
                    hold.stop()
        outcome.waited_s = round(self.clock() - started, 3) if not outcome.waited_s else outcome.waited_s
        outcome.joined_at, outcome.priority = member.joined_at, member.priority
        if outcome.kind == "abandoned" and caller and q.abandoned_resume_allowed:
            # mod_callcenter's abandoned-resume-allowed: calling again within
            # discard-abandoned-after seconds resumes this place in the queue
            self._quietly("abandoned place", self.backend.remember, f"abandoned:{q.name}:{caller}",
                          f"{member.joined_at:.3f}|{self.clock():.3f}", q.discard_abandoned_after)
        if outcome.kind != "answered":   # answered was recorded at answer time
            self.records.event(outcome.kind, member, agent=outcome.agent, wait_s=outcome.waited_s,
                               target=outcome.target)
            self._quietly("member event", self.backend.publish, {
                "event": f"member-{outcome.kind}", "queue": q.name, "member": member.id,
                "target": outcome.target, "reason": outcome.reason, "at": self.clock()})
        log.info("member left the queue", extra={"queue": q.name, "outcome": outcome.kind,
                                                 "target": outcome.target, "agent": outcome.agent})
        return outcome

    def _caller_profile(self, q: Queue, caller: str, priority: int, skills: dict) -> tuple[int, dict]:
        """Priority from the queue's VIP list and its priority query (a named store query,
        e.g. tags of complaint-prone or high-value customers): the highest wins. A failing
        lookup never blocks the caller: it is logged and the flow's priority is used."""
        if caller and caller in q.vip:
            priority = max(priority, q.vip_priority)
        if q.priority_query and caller and self.store is not None:
            try:
                row = self.store.query_one(q.priority_query, {"caller_number": caller}, timeout=2.0)
            except Exception as exc:
                log.warning("priority lookup failed; using the flow's priority",
                            extra={"query": q.priority_query, "error": str(exc)})
                row = None
            if row:
                if row.get("priority") is not None:
                    priority = max(priority, int(row["priority"]))
                if row.get("skills"):
                    skills = {**normalize_skills(str(row["skills"]).replace(" ", "").split(",")), **skills}
        return priority, skills

    def _resume_place(self, q: Queue, caller: str, now: float) -> float:
        if not (q.abandoned_resume_allowed and caller):
            return now
        key = f"abandoned:{q.name}:{caller}"
        raw = self.backend.recall(key)
        if not raw:
            return now
        joined, _, left = raw.partition("|")
        self.backend.remember(key, "", 0.001)
        if now - float(left or 0) <= q.discard_abandoned_after:
            log.info("abandoned caller resumes its place", extra={"queue": q.name, "waited_before": now - float(joined)})
            return float(joined)
        return now

    def _left(self, q: Queue, member: Member) -> Outcome:
        """The caller pressed the leave key. leave-target 'callback': a callback to the
        caller's number keeps its place; otherwise the flow named by leave-target."""
        if q.leave_target == "callback" and member.caller_id:
            cb = self.request_callback(q.name, member.caller_id, joined_at=member.joined_at,
                                       priority=member.priority, skills=member.skills)
            return Outcome("callback", target=cb, reason="leave-key")
        return Outcome("overflow", target=f"flow:{q.leave_target}", reason="leave-key")

    def _position(self, q: Queue, member_id: str) -> int | None:
        waiting = order_members(q, self.backend.members(q.name), self.clock())
        for i, m in enumerate(waiting, start=1):
            if m.id == member_id:
                return i
        return None

    # -- answered: announce the agent, bridge, talk, wrap-up -------------------------------------
    def _announce_agent(self, call, q: Queue, agent: str) -> bool:
        """announce-agent-id: "agent number 1001 will serve you" to the caller before the
        bridge, the agent waiting parked. False when the caller hung up meanwhile. A
        missing prompt or announcer is logged and skipped: the caller still gets the agent."""
        if not q.announce_agent_id:
            return True
        if self.agent_id_prompts is None:
            log.warning("announce-agent-id is set but no agent_id_prompts is given to the Router; skipped",
                        extra={"queue": q.name})
            return True
        lang = self._langs.get(call.uuid) or q.agent_id_language
        try:
            paths = self.agent_id_prompts(q, agent, lang)
            call.playback(paths, timeout=30.0)
        except CallHangup:
            return False
        except (ValueError, LookupError, CommandError, CommandTimeout) as exc:
            log.warning("agent id not announced", extra={"queue": q.name, "agent": agent, "error": str(exc)})
        return not getattr(call, "ended", False)

    def _connect(self, call, member: Member, ticket, agent: str, leg: str, hold: Hold) -> Outcome | None:
        """The agent answered: the claim goes on into the call. None when the call could
        not be put through and the caller waits again at its place."""
        q, claims = ticket.queue, ticket.claims
        answered_at = self.clock()
        agent_gone = self.legs.watch(leg)
        caller_gone = self.legs.watch(call.uuid)
        bridged = self.legs.watch_bridge(call.uuid)
        waited = answered_at - member.joined_at
        talk = 0.0
        result = OfferResult.COMPLETED
        try:
            # the answer is on the switch: Redis being unreachable now costs bookkeeping, not the call
            self._quietly("talking phase", claims.mark, agent, "talking", leg)
            self._quietly("member answered", self.backend.update_member, member.id,
                          state=MemberState.ANSWERED, serving_agent=agent)
            hold.stop()
            if not self._announce_agent(call, q, agent):
                self.legs.end(leg)
                return Outcome("abandoned", agent=agent, reason="hangup-during-agent-id", waited_s=waited)
            if self._quietly("talking phase", claims.mark, agent, "talking", leg) is False:
                # Our claim on the agent lapsed (this worker was too slow to renew it, e.g.
                # starved on a busy machine past the lease) and the agent may already be
                # offered to another caller: bridging now could put the agent on two calls
                # at once. (A renewal answered late used to drop a live claim too: fixed
                # in MemberClaims.renew_all.)
                self.legs.end(leg)
                log.warning("claim on the agent lapsed before the bridge; the caller waits again",
                            extra={"agent": agent})
                result = OfferResult.CANCELLED
                return None
            try:
                # the caller's leg survives the agent's hangup (parked, still under the
                # flow's socket) so the flow can go on, e.g. to the satisfaction survey
                self.esl.uuid_setvar(call.uuid, "park_after_bridge", "true")
                self.esl.uuid_bridge(call.uuid, leg)
                if not self.legs.bridged(bridged, agent_gone, caller_gone, deadline=self.BRIDGE_DEADLINE):
                    raise CommandError("uuid_bridge", "-ERR a leg hung up before the bridge was made")
            except (CommandError, ESLError) as exc:
                self.legs.end(leg)
                if self.legs.exists(call.uuid):
                    # the agent's leg ended between answer and bridge (hung up at once): the
                    # caller has lost nothing and waits again at the same place
                    log.warning("agent left before the bridge; the caller waits again",
                                extra={"agent": agent, "error": str(exc)})
                    result = OfferResult.NO_ANSWER
                    return None
                log.warning("bridge failed; caller gone", extra={"agent": agent, "error": str(exc)})
                return Outcome("abandoned", agent=agent, reason="bridge-failed", waited_s=waited)
            # recorded once the two are talking, so a failed bridge is never counted as answered
            self.records.event("answered", member, agent=agent, wait_s=waited)
            self._quietly("member event", self.backend.publish, {
                "event": "member-answered", "queue": q.name, "member": member.id, "agent": agent, "at": answered_at})
            self._quietly("affinity", self.set_affinity, member.caller_id, agent, answered_at)
            self._quietly("agent call", note_agent_call, self.backend, agent, leg, member.id, q.name,
                          answered_at)   # for supervisors
            # wait for either leg to hang up: CHANNEL_HANGUP events, with a periodic
            # uuid_exists as the safety net for an event lost across a reconnect
            on_hold = self.legs.holds.watch(leg, call.uuid)
            self.legs.wait_either(leg, agent_gone, call.uuid, caller_gone)
            if not agent_gone.ready():
                # the caller hung up first: end the agent's leg too
                self.legs.end(leg)
            talk = self.clock() - answered_at
            agent_rec = self.config.agents.get(agent)
            self.records.event("completed", member, agent=agent, wait_s=waited, talk_s=talk,
                               wrap_up_s=agent_rec.wrap_up_time if agent_rec else 0.0,
                               hold_s=self.legs.holds.done(on_hold))
            transfer = self.legs.transfer_of(leg)
            if transfer:     # the agent's phone (or att_xfer on the agent's leg) transferred the caller
                self.records.event("transfer", member, agent=agent, target=transfer)
            return Outcome("answered", agent=agent, waited_s=waited, talk_s=round(talk, 3), target=transfer or "")
        finally:
            # the agent's claim goes with its result (wrap-up, talk time); if anything here
            # fails, Dispatcher.leave still releases it (MemberClaims.close)
            self.legs.unwatch(leg)
            self.legs.unwatch_bridge(call.uuid)
            self._quietly("agent call", forget_agent_call, self.backend, agent, leg)
            self._quietly("release", claims.release, agent, result, talk)
            if result is OfferResult.COMPLETED:
                agent_rec = self.config.agents.get(agent)
                self._quietly("handle time", self.backend.record_handle_time, q.name,
                              talk + (agent_rec.wrap_up_time if agent_rec else 0.0))

    # -- last-agent affinity -----------------------------------------------------------------------
    def _affinity(self, caller: str) -> tuple[str, float]:
        if not caller:
            return "", 0.0
        raw = self.backend.recall(f"affinity:{caller}")
        if not raw:
            return "", 0.0
        agent, _, at = raw.partition("|")
        return agent, float(at or 0)

    def set_affinity(self, caller: str, agent: str, at: float) -> None:
        days = max((q.affinity_days for q in self.config.queues.values()), default=0.0)
        if caller and days:
            self.backend.remember(f"affinity:{caller}", f"{agent}|{at:.3f}", days * 86400)


def _check_calendars(config: RoutingConfig, calendars: dict) -> None:
    for q in config.queues.values():
        if q.calendar and q.calendar not in calendars:
            raise ValueError(f"queue {q.name!r}: calendar {q.calendar!r} is not loaded; "
                             f"set 'calendars:' in {config.path or 'routing.yaml'} to the calendars file")

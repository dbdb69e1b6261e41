"""Router: what the `queue` flow node calls. The I/O half of routing.

    router = Router.from_config(cfg, esl=InboundClient.from_config(cfg)).start()
    outcome = router.enqueue(call, "hotline", priority=1, skills={"cantonese": 5})
    outcome.kind in {"answered", "abandoned", "overflow", "timeout", "callback"}; outcome.target

While the caller waits, a hold greenlet plays music on hold and the periodic
announcement on the caller's Call (each playback has a deadline; uuid_break ends it
when an agent answers). The Dispatcher (event-driven, shared state) hands this caller
an Assignment: the agents are rung with `originate` over the inbound client, the caller
still on hold; the first to answer is bridged with uuid_bridge, the others are cancelled.
No answer / busy / reject release the agent with the matching delay (and auto-break after
max-no-answer) and the caller waits again, keeping its place. If the caller hangs up
while an agent rings, the agent's leg is killed at once.
"""
from __future__ import annotations

import time
import uuid as uuid_mod
from dataclasses import dataclass

import gevent
import gevent.event
from gevent.event import AsyncResult

from fsapp.esl import callerid, syntax
from fsapp.esl.errors import CallHangup, CommandError, CommandTimeout, ESLError, OriginateError
from fsapp.log import call_context, get_logger
from fsapp.routing.backend import StateBackend
from fsapp.routing.config import RoutingConfig
from fsapp.routing.dispatcher import Assignment, Dispatcher
from fsapp.routing.model import Member, MemberState, OfferResult, Queue
from fsapp.routing.outage import Backoff, RoutingUnavailable, StateGuard
from fsapp.routing.overflow import Overflow
from fsapp.routing.policy import Decision, QueueSnapshot, estimate_wait
from fsapp.routing.strategies import order_members
from fsapp.routing.supervisor import Supervisor, forget_agent_call, note_agent_call

log = get_logger("fsapp.routing.router")

CAUSE_RESULT = {
    "USER_BUSY": OfferResult.BUSY,
    "CALL_REJECTED": OfferResult.REJECT,
    "ORIGINATOR_CANCEL": OfferResult.CANCELLED,
    "LOSE_RACE": OfferResult.CANCELLED,
}  # anything else (NO_ANSWER, NO_USER_RESPONSE, USER_NOT_REGISTERED, ...) counts as no answer


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


@dataclass
class CallerGone:
    cause: str


@dataclass
class LeftQueue:
    digit: str


@dataclass
class StateLost:
    """The routing state stayed unreachable past the guard's grace: the caller goes to on_error."""


@dataclass
class OfferAnswered:
    agent: str
    leg: str
    offer: str = ""       # which offer round: a late result of an earlier round is stale


@dataclass
class OfferFailed:
    agent: str
    cause: str
    offer: str = ""


def normalize_skills(skills) -> dict[str, int]:
    if not skills:
        return {}
    if isinstance(skills, dict):
        return {str(k): int(v) for k, v in skills.items()}
    out = {}
    for item in skills:
        name, _, level = str(item).partition(":")
        if level and not level.strip().isdigit():
            raise ValueError(f"skill {item!r}: write name or name:level (level 0-10)")
        out[name.strip()] = int(level) if level else 1
    return out


class Router:
    def __init__(self, config: RoutingConfig, backend: StateBackend, esl, *, worker_id: str | None = None,
                 lease: float = 30.0, clock=time.time, store=None, node: str = "",
                 calendars: dict | None = None, agent_id_prompts=None, backoff: Backoff = Backoff(),
                 outage_grace: float = 5.0):
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
        self._hangups: dict[str, AsyncResult] = {}
        self._pending_legs: dict[str, str] = {}   # member+agent -> origination uuid while ringing
        self.calendars = calendars if calendars is not None else {}
        for q in config.queues.values():
            if q.calendar and q.calendar not in self.calendars:
                raise ValueError(f"queue {q.name!r}: calendar {q.calendar!r} is not loaded; "
                                 f"set 'calendars:' in {config.path or 'routing.yaml'} to the calendars file")
        self._callbacks: dict[str, gevent.Greenlet] = {}
        # announce-agent-id: (queue, agent, lang) -> prompt paths, e.g.
        # fsapp.routing.announce.AgentIdPrompts(catalog, fsapp.say.render); injected because
        # routing may not import say/sounds (docs/architecture.md)
        self.agent_id_prompts = agent_id_prompts
        self._langs: dict[str, str] = {}          # caller uuid -> language given to enqueue
        # carries out overflow targets and calendar gates (fsapp/routing/overflow.py)
        self.overflow = Overflow(config, backend, self.calendars, clock, Outcome)
        self._started = False
        self._unsubscribe_states = None
        self.reconciler = None

    @classmethod
    def from_config(cls, cfg, esl=None, store=None) -> "Router":
        """A Router for the config's [routing] and [esl] sections. Without `esl` an
        InboundClient is made from [esl]. It starts itself on the first enqueue if
        start() was not called."""
        from fsapp.routing.state import load_calendars_for, open_state
        if esl is None:
            from fsapp.esl.inbound import InboundClient
            esl = InboundClient.from_config(cfg)
        routing, backend = open_state(cfg, store=store)
        section = cfg.section("routing")
        router = cls(routing, backend, esl, worker_id=section.get("worker_id") or None,
                     lease=section["claim_lease"], store=store, calendars=load_calendars_for(routing),
                     backoff=Backoff(cap=section["reconnect_max"]), outage_grace=section["outage_grace"])
        router.reconcile_interval = section.get("reconcile_interval", 60.0)
        return router

    reconcile_interval = 60.0

    def start(self, reconcile_interval: float | None = None) -> "Router":
        from fsapp.routing.reconciler import Reconciler
        if self._started:
            return self
        if hasattr(self.esl, "start"):
            self.esl.start()          # idempotent; connects a client made by from_config
        self.esl.subscribe("CHANNEL_HANGUP")
        self.dispatcher.start()       # subscribes to the state's events: fails first if Redis is down
        self.esl.on("CHANNEL_HANGUP", self._on_hangup)
        self._started = True
        if self.store is not None:
            self._unsubscribe_states = self.backend.subscribe(self._on_state_event)
        self.reconciler = Reconciler(self.backend, [self.esl], self.worker_id, self.clock,
                                     interval=reconcile_interval or self.reconcile_interval,
                                     local_members=self.dispatcher.tickets,
                                     adopt=self._adopt_callback).start()
        return self

    def stop(self) -> None:
        for greenlet in list(self._callbacks.values()):
            greenlet.kill(block=False)
        self.dispatcher.stop()
        self.guard.stop()
        if self.reconciler is not None:
            self.reconciler.stop()
        if self._unsubscribe_states is not None:
            self._unsubscribe_states()
            self._unsubscribe_states = None
        if self._started:
            try:
                self.esl.off("CHANNEL_HANGUP", self._on_hangup)
            except ValueError:
                pass
            self._started = False

    # -- hangup watching (events, not polling) ----------------------------------------------
    def _on_hangup(self, event) -> None:
        result = self._hangups.get(event.get("Unique-ID") or "")
        if result is not None and not result.ready():
            result.set(event.get("Hangup-Cause") or "NORMAL_CLEARING")

    def _watch(self, uuid: str) -> AsyncResult:
        return self._hangups.setdefault(uuid, AsyncResult())

    def _unwatch(self, *uuids: str) -> None:
        for uuid in uuids:
            self._hangups.pop(uuid, None)

    # -- the queue node's call -----------------------------------------------------------------
    def enqueue(self, call, queue: str, priority: int = 0, skills: dict | list | None = None,
                announce: bool | None = None, timeout: float | None = None,
                caller_id: str | None = None, lang: str | None = None) -> Outcome:
        """`skills`: {name: minimum level}, or a list of names ("cantonese") or
        "name:level" strings (a name alone means level 1 or more). `lang`: the caller's
        language, for announce-agent-id (else the queue's agent-id-language)."""
        q = self.config.queue(queue)
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
                return self.overflow.serve(call, q, lambda queue, place: self._enqueue(
                    call, queue, priority, normalize_skills(skills), announce,
                    None if deadline is None else max(0.01, deadline - self.clock()), caller_id, place),
                    place=self.overflow.arriving(call, q.name))
        except self.backend.unavailable_errors as exc:
            raise self.guard.unavailable(exc) from exc
        finally:
            self._langs.pop(call.uuid, None)

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

    def supervisor(self, ring_timeout: float = 30.0) -> Supervisor:
        """Listen / whisper / barge / release on this router's state and switch."""
        return Supervisor(self.backend, self.esl, ring_timeout=ring_timeout, clock=self.clock)

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

    def _enqueue(self, call, q: Queue, priority, skills, announce, timeout, caller_id, place=None) -> Outcome:
        started = self.clock()
        # untrusted (the network's, or the flow's from it): the caller-id policy, docs/esl.md
        caller = callerid.number(caller_id or call.caller_id) or ""
        last_agent, last_at = self._affinity(caller)
        joined_at = place.joined_at if place else self._resume_place(q, caller, started)
        priority, skills = self._caller_profile(q, caller, max(int(priority), place.priority if place else 0), skills)
        member = Member(call.uuid, q.name, caller, joined_at, priority, skills,
                        last_agent, last_at, node=self.node)
        ticket = self.dispatcher.join(member)
        stop_hold = gevent.event.Event()
        hold = None
        outcome: Outcome | None = None
        # From here on, whatever happens (an outcome, the caller gone, an exception in a
        # record, a sendevent, an originate, the bridge, Redis), the finally below is the
        # one place this member's claims are let go (Dispatcher.leave -> MemberClaims.close).
        try:
            gone = self._watch(call.uuid)
            gone.rawlink(lambda r: ticket.inbox.put(CallerGone(r.value)))
            self._record("enter", member, position=self._position(q, member.id))
            log.info("member joined", extra={"queue": q.name, "priority": priority, "caller": caller})
            hold = gevent.spawn(self._hold, call, q, ticket, stop_hold, announce)
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
                    outcome = self._offer(call, member, ticket, msg, stop_hold, hold)
                    if outcome is None:           # nobody answered: wait again, same place
                        self.guard.check()        # ... unless the state is unreachable
                        self.dispatcher.requeue(member.id)
                        if stop_hold.is_set():    # an agent answered, then left before the bridge
                            stop_hold = gevent.event.Event()
                            hold = gevent.spawn(self._hold, call, q, ticket, stop_hold, announce)
                elif isinstance(msg, OfferAnswered):
                    self._kill(msg.leg)           # a late answer of an earlier round: hang it up
                # other stale offer results are ignored
        finally:
            try:
                self._quietly("leaving the queue", self.dispatcher.leave, member.id)
            finally:
                self._unwatch(call.uuid)
                if hold is not None:
                    self._stop_hold(call, stop_hold, hold)
        outcome.waited_s = round(self.clock() - started, 3) if not outcome.waited_s else outcome.waited_s
        outcome.joined_at, outcome.priority = member.joined_at, member.priority
        event = {"answered": "answered", "abandoned": "abandoned", "overflow": "overflow",
                 "timeout": "timeout", "callback": "callback"}[outcome.kind]
        if outcome.kind == "abandoned" and caller and q.abandoned_resume_allowed:
            # mod_callcenter's abandoned-resume-allowed: calling again within
            # discard-abandoned-after seconds resumes this place in the queue
            self._quietly("abandoned place", self.backend.remember, f"abandoned:{q.name}:{caller}",
                          f"{member.joined_at:.3f}|{self.clock():.3f}", q.discard_abandoned_after)
        if outcome.kind != "answered":   # answered was recorded at answer time
            self._record(event, member, agent=outcome.agent, wait_s=outcome.waited_s, target=outcome.target)
            self._quietly("member event", self.backend.publish, {
                "event": f"member-{event}", "queue": q.name, "member": member.id,
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

    # -- hold: music, announcements, leave key ---------------------------------------------------
    def _hold(self, call, q: Queue, ticket, stop: gevent.event.Event, announce: bool | None) -> None:
        frequency = q.announce_frequency if announce is not False else 0.0
        try:
            if q.leave_key:
                call.set("playback_terminators", q.leave_key)
                call.flush_typeahead()
            next_announce = self.clock() + frequency if frequency else None
            while not stop.is_set():
                now = self.clock()
                if next_announce is not None and now >= next_announce:
                    self._announce(call, q, ticket.member.id)
                    next_announce = self.clock() + frequency
                    continue
                segment = min(60.0, next_announce - now) if next_announce is not None else 60.0
                began = time.monotonic()
                try:
                    call.playback(q.moh_sound, timeout=max(segment, 0.5))
                except CommandTimeout:
                    pass                      # the deadline is how a segment ends
                if stop.is_set():
                    return
                digits = call.take_typeahead()
                if q.leave_key and q.leave_key in digits:
                    ticket.inbox.put(LeftQueue(q.leave_key))
                    return
                if time.monotonic() - began < 0.5:   # missing hold music: wait, do not spin
                    call.sleep(int(min(segment, 2.0) * 1000), timeout=5.0)
        except CallHangup as exc:
            ticket.inbox.put(CallerGone(getattr(exc, "cause", None) or "hangup"))
        except (CommandError, ESLError) as exc:
            if not stop.is_set():
                log.warning("hold failed; the caller keeps waiting in silence", extra={"error": str(exc)})

    def _stop_hold(self, call, stop: gevent.event.Event, hold: gevent.Greenlet) -> None:
        """End the hold music for good: whatever comes next (a bridge, the flow's next
        prompt after an overflow) must not queue behind a looping tone."""
        if hold.dead:
            return
        stop.set()
        if not getattr(call, "ended", False):
            try:
                self.esl.api(syntax.api_command("uuid_break", call.uuid, "all"), timeout=5.0)
            except ESLError:
                pass
        hold.join(timeout=3)
        if not hold.dead:
            hold.kill(block=True, timeout=2)

    def _announce(self, call, q: Queue, member_id: str) -> None:
        if q.announce_sound:
            call.playback(q.announce_sound, timeout=30.0)
        if q.announce_position:
            position = self._position(q, member_id)
            if position:
                call.set("fsapp_queue_position", position)
                call.say("en", "NUMBER", "pronounced", position, timeout=10.0)
                estimate = self.estimate(q.name, position)
                if estimate is not None:
                    minutes = max(1, round(estimate / 60))
                    call.set("fsapp_queue_estimated_wait_s", int(estimate))
                    call.say("en", "NUMBER", "pronounced", minutes, timeout=10.0)

    def _position(self, q: Queue, member_id: str) -> int | None:
        waiting = order_members(q, self.backend.members(q.name), self.clock())
        for i, m in enumerate(waiting, start=1):
            if m.id == member_id:
                return i
        return None

    def estimate(self, queue: str, position: int) -> float | None:
        """Estimated wait (s) of the member at `position`, from recent handle times and
        the agents logged in; None when no agent is logged in."""
        now = self.clock()
        cands = self.backend.candidates(queue)
        from fsapp.routing.model import AgentStatus
        snap = QueueSnapshot(waiting=position, logged_in=sum(c.agent.status != AgentStatus.LOGGED_OUT for c in cands),
                             free=sum(c.agent.offerable(now) for c in cands),
                             handle_times=self.backend.handle_times(queue))
        return estimate_wait(position, snap)

    # -- offering agents -------------------------------------------------------------------------
    def _offer(self, call, member: Member, ticket, assignment: Assignment, stop_hold, hold) -> Outcome | None:
        q = assignment.queue
        ringing: dict[str, gevent.Greenlet] = {}
        offer_id = uuid_mod.uuid4().hex[:8]
        claims = ticket.claims
        widener = None
        try:
            for agent in assignment.agents:
                if agent.name not in claims:      # lost meanwhile (lease, Redis restarted)
                    continue
                if self._quietly("ringing phase", claims.mark, agent.name, "ringing") is False:
                    # the claim is gone in the shared state (an assignment handled late, after
                    # its lease or a release): the agent may ring for someone else; never ring
                    # it unclaimed. (None: Redis unreachable; the caller is served regardless.)
                    log.warning("claim on the agent gone before the offer; not rung", extra={"agent": agent.name})
                    continue
                ringing[agent.name] = gevent.spawn(self._ring, agent, member, q, ticket, offer_id)
            if not ringing:
                return None                          # nobody rung: the caller waits again, same place
            last_ring = {"at": time.monotonic()}     # the widener moves it: each ring has its own timeout
            if q.strategy == "ring-progressively":
                widener = gevent.spawn(self._widen, member, q, ticket, ringing, offer_id, last_ring)
            slack = q.offer_timeout + getattr(self.esl, "command_timeout", 10.0) + 5.0
            while ringing:
                msg = ticket.wait(max(0.0, last_ring["at"] + slack - time.monotonic()))
                if msg is None:
                    log.warning("originate gave no result in time; cancelling the offer")
                    self._cancel(ringing, member, OfferResult.NO_ANSWER, claims)
                    return None
                if isinstance(msg, (CallerGone, LeftQueue)):
                    # the caller left while agents ring: cancel their legs at once
                    if widener is not None:
                        widener.kill(block=True, timeout=2)
                    self._cancel(ringing, member, OfferResult.CANCELLED, claims)
                    if isinstance(msg, LeftQueue):
                        return self._left(q, member)
                    return Outcome("abandoned", reason=msg.cause)
                current = getattr(msg, "offer", offer_id) == offer_id
                if isinstance(msg, OfferFailed) and msg.agent in ringing and current:
                    ringing.pop(msg.agent)
                    result = CAUSE_RESULT.get(msg.cause, OfferResult.NO_ANSWER)
                    self._quietly("release", claims.release, msg.agent, result)
                    log.info("agent did not take the call", extra={"agent": msg.agent, "cause": msg.cause})
                elif isinstance(msg, OfferAnswered) and msg.agent in ringing and current:
                    if widener is not None:
                        widener.kill(block=True, timeout=2)
                    ringing.pop(msg.agent)
                    self._cancel(ringing, member, OfferResult.CANCELLED, claims)
                    return self._connect(call, member, ticket, msg.agent, msg.leg, stop_hold, hold)
                elif isinstance(msg, (OfferAnswered, OfferFailed)):
                    if isinstance(msg, OfferAnswered):   # a late answer of a cancelled leg
                        self._kill(msg.leg)
            return None
        finally:
            if widener is not None:
                widener.kill(block=False)
            if ringing:                  # left by an exception: no agent rings for nobody
                self._cancel(ringing, member, OfferResult.CANCELLED, claims)

    def _widen(self, member: Member, q: Queue, ticket, ringing: dict, offer_id: str, last_ring: dict) -> None:
        """ring-progressively: every ring-progressively-delay seconds one more agent rings,
        the earlier ones keep ringing."""
        from fsapp.routing.strategies import order_agents
        while True:
            gevent.sleep(max(q.ring_progressively_delay, 0.1))
            now = self.clock()
            candidates = self._quietly("ring-progressively", self.backend.candidates, q.name) or []
            for cand in order_agents(q, member, candidates, now):
                if cand.name in ringing:
                    continue
                if self._quietly("ring-progressively claim", ticket.claims.take, cand.name):
                    self._quietly("ringing phase", ticket.claims.mark, cand.name, "ringing")
                    last_ring["at"] = time.monotonic()
                    ringing[cand.name] = gevent.spawn(self._ring, cand.agent, member, q, ticket, offer_id)
                    break

    def _ring(self, agent, member: Member, q: Queue, ticket, offer_id: str) -> None:
        variables = {"origination_uuid": str(uuid_mod.uuid4()),
                     "origination_caller_id_number": member.caller_id or "0000000000",
                     "fsapp_queue": q.name, "fsapp_member_uuid": member.id, "fsapp_offer": offer_id,
                     "ignore_early_media": "true"}
        self._pending_legs[member.id + agent.name] = variables["origination_uuid"]
        ring_at, result = self.clock(), "answered"
        try:
            leg = self.esl.originate(agent.contact, "&park", variables, timeout=q.offer_timeout)
        except OriginateError as exc:
            result = CAUSE_RESULT.get(exc.cause, OfferResult.NO_ANSWER).value
            ticket.inbox.put(OfferFailed(agent.name, exc.cause, offer_id))
        except Exception as exc:      # ESLError, syntax.UnsafeValue, or anything else refusing it
            result = OfferResult.NO_ANSWER.value
            log.warning("originate failed", extra={"agent": agent.name, "error": f"{type(exc).__name__}: {exc}"})
            ticket.inbox.put(OfferFailed(agent.name, "DESTINATION_OUT_OF_ORDER", offer_id))
        else:
            ticket.inbox.put(OfferAnswered(agent.name, leg, offer_id))
        finally:
            self._pending_legs.pop(member.id + agent.name, None)
            self._record_offer(member, agent.name, ring_at, result, variables["origination_uuid"])

    def _cancel(self, ringing: dict, member: Member, result: OfferResult, claims) -> None:
        """Hang up the agents still ringing and let them go with `result`."""
        for agent_name in list(ringing):
            ringing.pop(agent_name)
            leg = self._pending_legs.get(member.id + agent_name)
            if leg is not None and not self._kill(leg, "ORIGINATOR_CANCEL"):
                self._kill_by_lookup(agent_name, member)
            self._quietly("release", claims.release, agent_name, result)

    def _kill(self, uuid: str, cause: str = "NORMAL_CLEARING") -> bool:
        try:
            return not self.esl.api(syntax.api_command("uuid_kill", uuid, cause), timeout=5.0).startswith("-ERR")
        except ESLError:
            return False

    def _kill_by_lookup(self, agent_name: str, member: Member) -> None:
        """A switch that ignored origination_uuid: find the ringing leg by destination and
        caller number in `show channels`."""
        contact = self.config.agents.get(agent_name)
        user = (contact.contact if contact else agent_name).rsplit("/", 1)[-1].split("@")[0]
        try:
            rows = self.esl.show_channels()
        except ESLError:
            return
        for row in rows:
            if row.get("dest") == user and row.get("cid_num") == (member.caller_id or "0000000000") \
                    and row.get("direction") == "outbound":
                self._kill(row["uuid"], "ORIGINATOR_CANCEL")

    # -- answered: bridge, talk, wrap-up ------------------------------------------------------------
    def _connect(self, call, member: Member, ticket, agent: str, leg: str, stop_hold, hold) -> Outcome:
        q, claims = ticket.queue, ticket.claims
        answered_at = self.clock()
        agent_gone = self._watch(leg)
        waited = answered_at - member.joined_at
        talk = 0.0
        result = OfferResult.COMPLETED
        try:
            # the answer is on the switch: Redis being unreachable now costs bookkeeping, not the call
            self._quietly("talking phase", claims.mark, agent, "talking", leg)
            self._quietly("member answered", self.backend.update_member, member.id,
                          state=MemberState.ANSWERED, serving_agent=agent)
            self._stop_hold(call, stop_hold, hold)
            if not self._announce_agent(call, q, agent):
                self._kill(leg)
                return Outcome("abandoned", agent=agent, reason="hangup-during-agent-id", waited_s=waited)
            if self._quietly("talking phase", claims.mark, agent, "talking", leg) is False:
                # Our claim on the agent lapsed (this worker was too slow to renew it, e.g.
                # starved on a busy machine) and the agent may already be offered to
                # another caller: bridging now could put the agent on two calls at once.
                self._kill(leg)
                log.warning("claim on the agent lapsed before the bridge; the caller waits again",
                            extra={"agent": agent})
                result = OfferResult.CANCELLED
                return None
            try:
                # the caller's leg survives the agent's hangup (parked, still under the
                # flow's socket) so the flow can go on, e.g. to the satisfaction survey
                self.esl.uuid_setvar(call.uuid, "park_after_bridge", "true")
                self.esl.uuid_bridge(call.uuid, leg)
            except (CommandError, ESLError) as exc:
                self._kill(leg)
                if self._caller_still_there(call):
                    # the agent's leg ended between answer and bridge (hung up at once): the
                    # caller has lost nothing and waits again at the same place
                    log.warning("agent left before the bridge; the caller waits again",
                                extra={"agent": agent, "error": str(exc)})
                    result = OfferResult.NO_ANSWER
                    return None
                log.warning("bridge failed; caller gone", extra={"agent": agent, "error": str(exc)})
                return Outcome("abandoned", agent=agent, reason="bridge-failed", waited_s=waited)
            # recorded once the two are talking, so a failed bridge is never counted as answered
            self._record("answered", member, agent=agent, wait_s=waited)
            self._quietly("member event", self.backend.publish, {
                "event": "member-answered", "queue": q.name, "member": member.id, "agent": agent, "at": answered_at})
            self._quietly("affinity", self._set_affinity, member.caller_id, agent, answered_at)
            self._quietly("agent call", note_agent_call, self.backend, agent, leg, member.id, q.name,
                          answered_at)   # for supervisors
            # wait for either leg to hang up: CHANNEL_HANGUP events, with a periodic
            # uuid_exists as the safety net for an event lost across a reconnect
            self._wait_either(leg, agent_gone, call.uuid, self._watch(call.uuid))
            if not agent_gone.ready():
                # the caller hung up first: end the agent's leg too
                self._kill(leg)
            talk = self.clock() - answered_at
            agent_rec = self.config.agents.get(agent)
            self._record("completed", member, agent=agent, wait_s=waited, talk_s=talk,
                         wrap_up_s=agent_rec.wrap_up_time if agent_rec else 0.0)
            return Outcome("answered", agent=agent, waited_s=waited, talk_s=round(talk, 3))
        finally:
            # the agent's claim goes with its result (wrap-up, talk time); if anything here
            # fails, Dispatcher.leave still releases it (MemberClaims.close)
            self._unwatch(leg)
            self._quietly("agent call", forget_agent_call, self.backend, agent, leg)
            self._quietly("release", claims.release, agent, result, talk)
            if result is OfferResult.COMPLETED:
                agent_rec = self.config.agents.get(agent)
                self._quietly("handle time", self.backend.record_handle_time, q.name,
                              talk + (agent_rec.wrap_up_time if agent_rec else 0.0))

    def _caller_still_there(self, call) -> bool:
        try:
            return bool(self.esl.uuid_exists(call.uuid))
        except Exception:  # cannot tell: do not keep a caller who may be gone in the queue
            return False

    # -- callbacks ------------------------------------------------------------------------------------
    def request_callback(self, queue: str, number: str, *, joined_at: float | None = None, priority: int = 0,
                         skills: dict | None = None) -> str:
        """Call `number` back when an agent of `queue` is free: agent first, then the
        customer. `joined_at` (Outcome.joined_at) keeps the caller's place; calls are placed
        only while the queue's business calendar is open. Returns the callback's id."""
        q = self.config.queue(queue)
        number = str(number).strip()
        if not number or not all(c.isdigit() or c in "+*#" for c in number):
            raise ValueError(f"callback number {number!r}: digits only (confirm it with the caller first)")
        now = self.clock()
        member = Member(f"callback-{uuid_mod.uuid4()}", q.name, number, joined_at or now, int(priority),
                        normalize_skills(skills), callback_number=number, not_before=self._business_time(q, now))
        self._start_callback(member, adopt=False)
        self._record("callback", member)
        log.info("callback requested", extra={"queue": q.name, "number": number, "id": member.id})
        return member.id

    def _start_callback(self, member: Member, adopt: bool) -> None:
        ticket = self.dispatcher.join(member, adopt=adopt)
        self._callbacks[member.id] = gevent.spawn(self._run_callback, ticket)

    def _adopt_callback(self, member: Member) -> bool:
        """The reconciler found the callback of a dead worker: this worker takes it over."""
        if not member.callback_number or member.id in self.dispatcher.tickets:
            return False
        self._start_callback(member, adopt=True)
        return True

    def _business_time(self, q: Queue, moment: float) -> float:
        calendar = self.calendars.get(q.calendar) if q.calendar else None
        if calendar is None:
            return 0.0
        import datetime as dt
        local = dt.datetime.fromtimestamp(moment, tz=calendar.tz)
        opening = calendar.next_open(local)
        return opening.timestamp() if opening is not None and opening > local else 0.0

    def _run_callback(self, ticket) -> None:
        member, q = ticket.member, ticket.queue
        with call_context(member.id):
            try:
                while True:
                    msg = ticket.wait(None)
                    if isinstance(msg, Assignment) and self._callback_attempt(ticket, msg):
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
                self._quietly("callback done", self.dispatcher.leave, member.id)
            finally:
                self._callbacks.pop(member.id, None)

    def _callback_attempt(self, ticket, assignment: Assignment) -> bool:
        """Ring the agent, then the customer. True when the callback is finished (served or
        out of attempts), False when it waits again."""
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
            cause = getattr(exc, "cause", "DESTINATION_OUT_OF_ORDER")
            claims.release(agent.name, CAUSE_RESULT.get(cause, OfferResult.NO_ANSWER))
            self.dispatcher.requeue(member.id)
            return False
        agent_gone = self._watch(agent_leg)
        self._quietly("talking phase", claims.mark, agent.name, "talking", agent_leg)
        try:
            dial = syntax.dial_string(q.callback_dial.format(number=syntax.number(member.callback_number)),
                                      f"queue {q.name} callback-dial")
            customer_leg = self.esl.originate(dial, "&park", {
                "origination_caller_id_number": q.name, "fsapp_callback": member.id,
                "ignore_early_media": "true"}, timeout=max(q.offer_timeout, 30.0))
        except ESLError as exc:
            self._kill(agent_leg)
            self._unwatch(agent_leg)
            claims.release(agent.name, OfferResult.CANCELLED)
            attempts = member.callback_attempts + 1
            log.info("callback: customer not reached", extra={"attempt": attempts, "error": str(exc)})
            if attempts >= q.callback_max_attempts:
                self._record("abandoned", member, agent=agent.name)
                self.backend.publish({"event": "callback-failed", "queue": q.name, "member": member.id,
                                      "attempts": attempts, "at": self.clock()})
                return True
            retry_at = self.clock() + q.callback_retry_delay
            self.dispatcher.requeue(member.id, callback_attempts=attempts,
                                    not_before=max(retry_at, self._business_time(q, retry_at)))
            return False
        answered_at = self.clock()
        self._record("answered", member, agent=agent.name, wait_s=answered_at - member.joined_at)
        customer_gone = self._watch(customer_leg)
        talk = 0.0
        try:
            self.esl.uuid_bridge(agent_leg, customer_leg)
            self._quietly("agent call", note_agent_call, self.backend, agent.name, agent_leg, member.id,
                          q.name, answered_at)
            self._wait_either(agent_leg, agent_gone, customer_leg, customer_gone)
            talk = self.clock() - answered_at
            self._record("completed", member, agent=agent.name, wait_s=answered_at - member.joined_at,
                         talk_s=talk, wrap_up_s=agent.wrap_up_time)
        except ESLError as exc:
            log.warning("callback bridge failed", extra={"error": str(exc)})
        finally:
            for leg in (agent_leg, customer_leg):
                self._kill(leg)
            self._unwatch(agent_leg, customer_leg)
            self._quietly("agent call", forget_agent_call, self.backend, agent.name, agent_leg)
            self._quietly("release", claims.release, agent.name, OfferResult.COMPLETED, talk)
            self._quietly("handle time", self.backend.record_handle_time, q.name, talk + agent.wrap_up_time)
            self._quietly("affinity", self._set_affinity, member.callback_number, agent.name, answered_at)
        self._quietly("callback event", self.backend.publish, {
            "event": "callback-completed", "queue": q.name, "member": member.id,
            "agent": agent.name, "at": self.clock()})
        return True

    def _wait_either(self, leg_a: str, gone_a: AsyncResult, leg_b: str, gone_b: AsyncResult) -> None:
        """Until one of two legs hangs up: CHANNEL_HANGUP events, with uuid_exists every
        lease/3 as the safety net for an event lost across a reconnect."""
        while True:
            if gevent.wait([gone_a, gone_b], timeout=self.lease / 3, count=1):
                return
            try:
                if not self.esl.uuid_exists(leg_a) or not self.esl.uuid_exists(leg_b):
                    return
            except ESLError:
                continue

    # -- affinity and records ----------------------------------------------------------------------
    def _affinity(self, caller: str) -> tuple[str, float]:
        if not caller:
            return "", 0.0
        raw = self.backend.recall(f"affinity:{caller}")
        if not raw:
            return "", 0.0
        agent, _, at = raw.partition("|")
        return agent, float(at or 0)

    def _set_affinity(self, caller: str, agent: str, at: float) -> None:
        days = max((q.affinity_days for q in self.config.queues.values()), default=0.0)
        if caller and days:
            self.backend.remember(f"affinity:{caller}", f"{agent}|{at:.3f}", days * 86400)

    def _record(self, event: str, member: Member, agent: str = "", wait_s: float | None = None,
                position: int | None = None, target: str = "", talk_s: float | None = None,
                wrap_up_s: float | None = None) -> None:
        """Queue events for the reports (fsapp_queue_events through the store's outbox) and
        as a CUSTOM event on the switch (fsapp::queue) for anyone listening there.
        `completed` (the talk ended) carries talk and wrap-up times: the reports' AHT."""
        if self.store is not None:
            ms = lambda s: int(round(s * 1000)) if s is not None else None  # noqa: E731
            row = {"call_uuid": member.id, "queue_name": member.queue, "event": event,
                   "agent_id": agent or None, "queue_position": position, "wait_ms": ms(wait_s),
                   "caller_number": member.caller_id or member.callback_number or None,
                   "target": target or None, "talk_ms": ms(talk_s), "wrap_up_ms": ms(wrap_up_s),
                   "hold_ms": 0 if talk_s is not None else None,
                   "event_at": _stamp(self.clock())}
            try:
                self.store.write("queue_event", row, key=f"{member.id}:{member.queue}:{event}:{member.joined_at:.3f}")
            except Exception:
                log.exception("queue event not recorded", extra={"event": event})
        try:
            self.esl.sendevent("CUSTOM", {
                "Event-Subclass": "fsapp::queue", "Action": event, "Queue": member.queue,
                "Member-UUID": member.id, "Agent": agent, "Caller-ID": member.caller_id}, timeout=5.0)
        except (ESLError, AttributeError, syntax.UnsafeValue) as exc:
            log.debug("CUSTOM queue event not sent", extra={"error": str(exc)})

    def _record_offer(self, member: Member, agent: str, ring_at: float, result: str, leg: str) -> None:
        """One row per agent rung (fsapp_offers): the reports' answer rate and ringing times."""
        if self.store is None:
            return
        row = {"call_uuid": member.id, "queue_name": member.queue, "agent_id": agent,
               "ring_at": _stamp(ring_at), "ended_at": _stamp(self.clock()), "result": result}
        try:
            self.store.write("offer", row, key=f"{leg}:offer")
        except Exception:  # reporting never breaks a call; the outbox already keeps outages
            log.exception("offer not recorded", extra={"agent": agent})

    def _on_state_event(self, event: dict) -> None:
        """Agent status changes as rows of fsapp_agent_states (the reports' occupancy: time
        logged in and available). Every worker hears the change; the key makes it one row."""
        kind, changes = event.get("event"), event.get("changes") or ()
        if not event.get("agent") or not event.get("status"):
            return
        if kind == "agent-status":
            reason = event.get("reason") or None
        elif kind == "agent-released" and ("auto-break" in changes or "on-demand-break" in changes):
            # the backend put the agent on break itself (max-no-answer, or one call on demand)
            reason = "max-no-answer" if "auto-break" in changes else "available-on-demand"
        else:
            return
        at = float(event.get("at") or self.clock())
        row = {"agent_id": event["agent"], "status": event["status"], "reason": reason, "changed_at": _stamp(at)}
        gevent.spawn(self._write_state, row, f"agent:{event['agent']}:{at:.3f}")   # not on the publisher

    def _write_state(self, row: dict, key: str) -> None:
        try:
            self.store.write("agent_state", row, key=key)
        except Exception:  # reporting never breaks routing; the outbox already keeps outages
            log.exception("agent state not recorded", extra={"agent": row["agent_id"]})


def _stamp(seconds: float):
    """A router clock reading (epoch seconds; virtual in simulations) as the store's naive
    local datetime."""
    import datetime as dt
    return dt.datetime.fromtimestamp(seconds)

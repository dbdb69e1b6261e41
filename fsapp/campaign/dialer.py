"""The dialer: claims due contacts, places calls through the inbound Event Socket and
runs the campaign's flow on the answered leg; one greenlet per call.

    originate {origination_uuid=U,...}<dial string> &socket(<this dialer> async full)

FreeSWITCH (1.10, and the emulator) rings the callee and, once answered, runs the
`socket` application on that leg: it connects to the dialer's own outbound socket
server, which runs the flow with the contact's fields in the flow's declared variables.
The attempt is recorded through the outbox (kind campaign_attempt) and in the state
store, which also decides the contact's next state (fsapp.campaign.policy).

Agent-assisted (progressive) campaigns (`agents:` in the file) dial only while the
routing queue has a free agent not yet spoken for (free agents - callers waiting - calls
of every dialer still ringing for that queue, counted in shared leased slots like the
gateway's), and hand the answered leg to the Router (fsapp.routing) instead of running the
flow: the callee waits at most `abandon_after` for an agent, else the call is abandoned
and the flow (the information message) plays. Abandoned calls are counted; above
`max_abandon_rate` of the answered calls in the window no new call starts.

Order that makes a crash safe: claim (attempt + 1, durable) -> originate -> record ->
finish. A dialer killed between claim and finish leaves the contact in progress until
its lease lapses; any dialer then closes that attempt as failed (cause WORKER_LOST)
and the next call, if any, is the next attempt. No attempt is ever dialled twice.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import socket as stdsocket
import time
import uuid as uuid_mod
from pathlib import Path

import gevent
from gevent.event import AsyncResult
from gevent.event import Event as GEvent

from fsapp.campaign.model import Campaign
from fsapp.campaign.numbers import clean_number, dial_string
from fsapp.campaign.pacing import Pacer
from fsapp.campaign.policy import abandon_rate, classify, next_state, over_abandon_cap
from fsapp.campaign.scheduler import decide
from fsapp.campaign.sources import ExclusionList, SourceProblem, load_contacts
from fsapp.campaign.state import Claim, ContactStates
from fsapp.esl import syntax
from fsapp.esl.errors import ESLError, OriginateError
from fsapp.esl.outbound import OutboundServer
from fsapp.log import get_logger

log = get_logger("fsapp.campaign")

FLOW_CONNECT_S = 15.0      # an answered leg whose socket never reaches us is given up after this
WORKER_LOST = "WORKER_LOST"
GATEWAY_LEASE_S = 30.0     # a gateway slot lapses this long after its dialer stopped renewing it
NO_LINE_RETRY_S = 1.0      # the gateway is full (other dialers' calls): look again after this


class WallClock:
    """Real time; the emulator's VirtualClock offers the same three methods."""

    def now(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        gevent.sleep(max(0.0, seconds))

    def wait(self, events, seconds: float, poll=None) -> bool:
        gevent.wait(list(events), timeout=max(0.0, seconds), count=1)
        return any(e.is_set() for e in events)


def default_worker_id() -> str:
    return f"{stdsocket.gethostname()}:{os.getpid()}"


class AgentCall:
    """How an agent-assisted call went: the Router's outcome, and the information
    message's flow outcome when no agent came in time."""

    def __init__(self, kind: str, agent: str = "", flow_outcome=None, cause: str | None = None):
        self.kind, self.agent, self.flow_outcome, self.cause = kind, agent, flow_outcome, cause


def contact_variables(campaign: str, claim) -> dict[str, str]:
    """The contact as channel variables of the answered leg, for the agent's desktop
    (it reads them from the customer's leg, whose uuid the agent's leg carries as
    fsapp_member_uuid). Values are the customer's data, hostile: they are only ever sent
    through fsapp.esl.syntax (set_arg), and a field whose name is not a plain variable
    name is left out."""
    out = {"fsapp_campaign": campaign, "fsapp_contact_id": claim.contact_id,
           "fsapp_contact_name": claim.name, "fsapp_contact_number": claim.number,
           "fsapp_campaign_attempt": str(claim.attempt)}
    for key, value in (claim.data or {}).items():
        name = f"fsapp_contact_{key}"
        try:
            syntax.name("contact field", name)
        except syntax.UnsafeValue:
            continue
        if name not in out and value is not None:
            out[name] = str(value)
    return out


class Dialer:
    def __init__(self, campaign: Campaign, states: ContactStates, esl, flows, calendar, *, store=None,
                 clock=None, listen: str = "127.0.0.1:0", socket_address: str | None = None,
                 worker: str | None = None, base_dir: str | Path = ".", control_poll_s: float = 5.0,
                 linger: int = 5, slots=None, gateway_lease_s: float = GATEWAY_LEASE_S, router=None):
        self.campaign, self.states, self.esl, self.flows = campaign, states, esl, flows
        self.calendar, self.store = calendar, store
        self.clock = clock or WallClock()
        self.worker = worker or default_worker_id()
        self.base_dir = Path(base_dir)
        self.control_poll_s = control_poll_s
        self.pacer = Pacer(campaign.pacing)
        self.lease_s = campaign.dial.timeout_s + campaign.dial.max_duration_s + FLOW_CONNECT_S + 60.0
        self.active: dict[str, Claim] = {}
        self.active_on_gateway = 0
        # per-gateway limit: shared by every dialer when the state is (Redis), leased per call
        self.slots = slots if slots is not None else states.gateway_slots()
        self.gateway_lease_s = gateway_lease_s
        self.gateway_limit = campaign.pacing.gateways.get(campaign.dial.gateway)
        self._slot_holders: dict[str, str] = {}     # contact id -> slot holder (the call's uuid)
        # agent-assisted: a slot per call dialled for the queue, until it reaches the queue
        self.router = router
        if campaign.agents is not None and router is None:
            raise ValueError(f"campaign {campaign.name} is agent-assisted (agents.queue {campaign.agents.queue}): "
                             "the dialer needs a router (fsapp.routing.Router; [routing] in fsapp.toml)")
        self._agent_holders: dict[str, str] = {}    # contact id -> agent slot holder
        self.held: str = ""                         # why no call starts (the abandon cap), or ""
        self.started_calls: list[float] = []        # start times, for the current rate
        self._answered: dict[str, tuple[AsyncResult, AsyncResult, Claim]] = {}
        self._kick = GEvent()
        self._greenlets: set = set()
        self._server = OutboundServer(self._on_answer, listen, linger=linger)
        self._listen, self._socket_address = listen, socket_address
        self.exclusions: ExclusionList | None = None
        self._last_refresh = 0.0
        self._csv_stamp: float | None = None
        self._closing = False
        self._renewer = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> "Dialer":
        self._server.start()
        if not self._socket_address:
            host = self._listen.rsplit(":", 1)[0] if isinstance(self._listen, str) else self._listen[0]
            self._socket_address = f"{host}:{self._server.port}"
        started = self.states.control(self.campaign.name).get("started_at") or self.clock.now()
        self.exclusions = ExclusionList(self.campaign.exclusions, self.base_dir, self.store,
                                        since=dt.datetime.fromtimestamp(started))
        if self.gateway_limit is not None and not self.slots.shared:
            log.info("gateway limit counts this dialer's calls only (state = sqlite); "
                     "use [campaign] state = redis for a limit shared by several dialers",
                     extra={"campaign": self.campaign.name, "gateway": self.campaign.dial.gateway})
        if (self.gateway_limit is not None or self.campaign.agents is not None) and self.slots.shared:
            self._renewer = self._spawn(self._renew_slots)
        return self

    def _spawn(self, fn, *args):
        greenlet = gevent.spawn(fn, *args)
        self._greenlets.add(greenlet)
        greenlet.link(lambda g: self._greenlets.discard(g))
        return greenlet

    def _renew_slots(self) -> None:
        """Keep this dialer's gateway slots leased while its calls go on; a crashed
        dialer stops renewing, and its slots come free when the lease lapses."""
        while not self._closing:
            for key, holders in ((self.campaign.dial.gateway, list(self._slot_holders.values())),
                                 (self._agent_key(), list(self._agent_holders.values()))):
                if not holders or key is None:
                    continue
                try:
                    self.slots.renew(key, holders, self.clock.now(), self.gateway_lease_s)
                except Exception as exc:     # Redis away: retried at the next round, within the lease
                    log.warning("slot renewal failed", extra={"slots": key, "error": str(exc)})
            self.clock.sleep(self.gateway_lease_s / 3)

    def close(self, timeout: float = 10.0) -> None:
        self._closing = True
        calls = [g for g in self._greenlets if g is not self._renewer]
        gevent.joinall(calls, timeout=timeout)
        if self._renewer is not None:
            self._renewer.kill(timeout=2)
        self._server.stop(timeout=2)

    def run(self, until: float | None = None, exit_when_done: bool = False, one_pass: bool = False) -> str:
        """Dial until the campaign is stopped, `until` (clock time) passes, (exit_when_done)
        no contact is left to call, or (one_pass) no contact is due now: none pending or in
        progress, the rest waiting for a retry. Returns why it stopped: stopped, until,
        done, pass."""
        name = self.campaign.name
        self.recover(own=True)
        status, next_poll = self.states.control(name)["status"], 0.0
        while True:
            now = self.clock.now()
            if until is not None and now >= until:
                return "until"
            if now >= next_poll:
                status = self.states.control(name)["status"]
                next_poll = now + self.control_poll_s
                self.recover()
                self.refresh_contacts(now)
                self.held = self._abandon_hold(now)
                if status == "stopped":
                    return "stopped"
                if exit_when_done and not self.active and self._nothing_left():
                    return "done"
                if one_pass and not self.active and self._nothing_left(("pending", "in_progress")):
                    return "pass"
            window_open = self.calendar.is_open(dt.datetime.fromtimestamp(now, self.calendar.tz))
            next_open = None
            if not window_open:
                opening = self.calendar.next_open(dt.datetime.fromtimestamp(now, self.calendar.tz))
                next_open = opening.timestamp() if opening is not None else None
            step = decide(now, status, window_open, next_open, self.pacer, len(self.active),
                          self.active_on_gateway, self.campaign.dial.gateway, held=self.held)
            if step.action == "wait":
                self._wait(now, step.until, next_poll, until)
                continue
            dialled = self._dial_next(now)
            if dialled in ("no_line", "no_agent"):
                # the gateway is full with other dialers' calls, or no agent is free: their
                # ends do not wake us
                self._wait(now, now + NO_LINE_RETRY_S, next_poll, until)
            elif not dialled:
                # nothing due: sleep until the next retry is due (or a call ends, or the poll)
                due = self.states.next_due(self.campaign.name)
                self._wait(now, max(due, now + 0.5) if due is not None else None, next_poll, until)

    def _wait(self, now, step_until, next_poll, until) -> None:
        deadline = min(x for x in (step_until, next_poll, until) if x is not None)
        self._kick.clear()
        self.clock.wait([self._kick], max(0.0, deadline - now))

    def _nothing_left(self, states=("pending", "retry", "in_progress")) -> bool:
        counts = self.states.counts(self.campaign.name)
        return not any(counts.get(s) for s in states)

    # -- contacts -----------------------------------------------------------------------------
    def refresh_contacts(self, now: float) -> None:
        """A query source is read again every `refresh`, a CSV file when it changed; new
        contacts join as pending, known ones keep their state."""
        source = self.campaign.contacts
        if source.csv:
            try:
                stamp = os.stat(self.base_dir / source.csv).st_mtime
            except OSError:
                return          # `load` reported it; keep calling the contacts we have
            if stamp == self._csv_stamp:
                return
            self._csv_stamp = stamp
        elif now - self._last_refresh < source.refresh_s:
            return
        self._last_refresh = now
        try:
            added = self.states.add_contacts(self.campaign.name, load_contacts(source, self.base_dir, self.store), now)
        except Exception as exc:   # the database may be down: keep calling the contacts we have
            log.warning("contact query failed; will retry", extra={"campaign": self.campaign.name, "error": str(exc)})
            return
        if added:
            log.info("contacts added", extra={"campaign": self.campaign.name, "added": added})

    def recover(self, own: bool = False) -> None:
        """Close the attempts of dialers that died (lease over) as failed: never redialled.
        own=True (at start): also this worker's own claims at once, whatever their lease:
        a dialer starting under its worker id holds no call, so they are from its previous
        life (killed or crashed). Hence [campaign] worker_id must be unique per dialer."""
        now = self.clock.now()
        stale = self.states.stale(self.campaign.name, float("inf") if own else now)
        for claim in stale:
            if claim.worker == self.worker and claim.contact_id in self.active:
                # this dialer is alive and still on that call (its finish comes when the
                # call ends): a lease that lapsed under it says the clock moved on while
                # this process was slow, not that a dialer died
                continue
            if claim.lease_until <= now or claim.worker == self.worker:
                self._finish(claim, now, answered=False, cause=WORKER_LOST, outcome="failed")

    # -- one attempt --------------------------------------------------------------------------
    def _dial_next(self, now: float):
        """One dial if one is due: True (a contact was handled), False (none due) or
        "no_line" (the gateway's shared limit is reached)."""
        try:
            excluded = self.exclusions.numbers(now)
        except SourceProblem as exc:   # never call before the exclusion list could be read
            log.warning("exclusion list unavailable; not dialling", extra={"error": str(exc)})
            return False
        call_uuid = str(uuid_mod.uuid4())
        # the line (and the agent) first, then the contact: a contact is never claimed for
        # a call that cannot start
        if not self._take_line(call_uuid, now):
            return "no_line"
        if not self._take_agent(call_uuid, now):
            self._free_line(call_uuid)
            return "no_agent"
        claim = self.states.claim(self.campaign.name, now, self.worker, self.lease_s)
        number = clean_number(claim.number) if claim is not None else None
        if claim is None or number is None or number in excluded:
            self._free_line(call_uuid)
            self._free_agent(call_uuid)
            if claim is None:
                return False
            if number is None:
                self._finish(claim, now, answered=False, cause="INVALID_NUMBER_FORMAT", outcome="invalid_number")
            else:
                self._finish(claim, now, answered=False, cause=None, outcome="excluded")
            return True
        self.pacer.started(now)
        self.started_calls.append(now)
        self.active[claim.contact_id] = claim
        self.active_on_gateway += 1
        if self.gateway_limit is not None:
            self._slot_holders[claim.contact_id] = call_uuid
        if self.campaign.agents is not None:
            self._agent_holders[claim.contact_id] = call_uuid
        self._spawn(self._call, claim, number, now, call_uuid)
        return True

    # -- agent-assisted -------------------------------------------------------------------------
    def _agent_key(self) -> str | None:
        return None if self.campaign.agents is None else f"agent-queue:{self.campaign.agents.queue}"

    def free_agents(self) -> int:
        """Agents of the queue free for a call now, less the callers already waiting for
        one (inbound callers too, when the queue is shared): from the routing state."""
        from fsapp.routing.model import MemberState
        backend, queue = self.router.backend, self.campaign.agents.queue
        now = self.router.clock()
        free = sum(1 for c in backend.candidates(queue) if c.agent.offerable(now))
        waiting = sum(1 for m in backend.members(queue) if m.state == MemberState.WAITING)
        return free - waiting

    def _take_agent(self, call_uuid: str, now: float) -> bool:
        if self.campaign.agents is None:
            return True
        try:
            room = self.free_agents()
        except Exception as exc:      # routing state unreachable: no agent can be promised
            log.warning("routing state unreachable; not dialling", extra={"error": str(exc)})
            return False
        # one slot per call ringing for the queue, shared by every dialer (Redis): the
        # progressive rule is "calls ringing < agents free"
        return room > 0 and self.slots.acquire(self._agent_key(), room, call_uuid, now, self.gateway_lease_s)

    def _free_agent(self, call_uuid: str) -> None:
        if self.campaign.agents is None:
            return
        try:
            self.slots.release(self._agent_key(), call_uuid)
        except Exception as exc:
            log.warning("agent slot release failed", extra={"error": str(exc)})

    def _abandon_hold(self, now: float) -> str:
        """Why no new call may start (abandoned calls over the cap), or ""."""
        assist = self.campaign.agents
        if assist is None:
            return ""
        answered, abandoned = abandon_rate(self.states.attempts(self.campaign.name), now, assist.window_s)
        if not over_abandon_cap(answered, abandoned, assist.max_abandon_rate):
            return ""
        reason = (f"abandoned calls {abandoned} of {answered} answered over the cap "
                  f"{assist.max_abandon_rate:.1%}")
        if reason != self.held:
            log.warning("no new calls: " + reason, extra={"campaign": self.campaign.name})
        return reason

    def _bridge(self, call, claim: Claim) -> AgentCall:
        """The answered callee to an agent of the queue, with the contact's data on the
        leg; no agent within abandon_after: abandoned, and the information message (the
        campaign's flow) plays."""
        assist = self.campaign.agents
        for name, value in contact_variables(self.campaign.name, claim).items():
            try:
                call.set(name, value)
            except syntax.UnsafeValue as exc:     # e.g. a NUL byte in a CRM field: left out
                log.warning("contact field not passed to the agent", extra={"error": str(exc)})
        holder = self._agent_holders.pop(claim.contact_id, None)
        if holder is not None:
            self._free_agent(holder)              # from now on the router counts it as waiting
        outcome = self.router.enqueue(call, assist.queue, timeout=assist.abandon_after_s,
                                      caller_id=clean_number(claim.number) or "")
        if outcome.kind == "answered":
            return AgentCall("answered", agent=outcome.agent)
        log.info("abandoned: no agent in time", extra={"campaign": self.campaign.name, "reason": outcome.reason})
        if getattr(call, "ended", False):
            return AgentCall("abandoned", cause=outcome.reason)
        return AgentCall("abandoned", flow_outcome=self._run_flow(call, claim))

    def _take_line(self, call_uuid: str, now: float) -> bool:
        if self.gateway_limit is None:
            return True
        return self.slots.acquire(self.campaign.dial.gateway, self.gateway_limit, call_uuid, now,
                                  self.gateway_lease_s)

    def _free_line(self, call_uuid: str) -> None:
        if self.gateway_limit is None:
            return
        try:
            self.slots.release(self.campaign.dial.gateway, call_uuid)
        except Exception as exc:     # Redis away: the slot lapses with its lease
            log.warning("gateway slot release failed", extra={"error": str(exc)})

    def _call(self, claim: Claim, number: str, started: float, call_uuid: str) -> None:
        dial = self.campaign.dial
        connected, result = AsyncResult(), AsyncResult()
        self._answered[call_uuid] = (connected, result, claim)
        answered_at, cause, flow_outcome = None, None, None
        try:
            variables = {"origination_uuid": call_uuid, "ignore_early_media": "true",
                         "fsapp_campaign": self.campaign.name, "fsapp_campaign_attempt": claim.attempt}
            if dial.caller_id:
                variables["origination_caller_id_number"] = dial.caller_id
            if dial.caller_id_name:
                variables["origination_caller_id_name"] = dial.caller_id_name
            try:
                self.esl.originate(dial_string(dial.template, number, dial.gateway),
                                   f"&socket({self._socket_address} async full)", variables,
                                   timeout=dial.timeout_s)
                answered_at = self.clock.now()
            except OriginateError as exc:
                cause = exc.cause
            except (ESLError, ValueError) as exc:   # link down, timeout; UnsafeValue: refused to send
                cause = f"ESL: {type(exc).__name__}"
                log.warning("originate failed", extra={"campaign": self.campaign.name, "error": str(exc)})
            if answered_at is not None:
                cause, flow_outcome = self._follow(call_uuid, connected, result)
        finally:
            self._answered.pop(call_uuid, None)
            self.active.pop(claim.contact_id, None)
            self.active_on_gateway -= 1
            if self._slot_holders.pop(claim.contact_id, None) is not None:
                self._free_line(call_uuid)
            if self._agent_holders.pop(claim.contact_id, None) is not None:
                self._free_agent(call_uuid)      # never reached the queue (not answered, ...)
            self._kick.set()
        agent_call = flow_outcome if isinstance(flow_outcome, AgentCall) else None
        if agent_call is not None:
            completed = agent_call.kind == "answered"
            flow_outcome = agent_call.flow_outcome
        else:
            completed = self._completed(flow_outcome)
        outcome = classify(answered_at is not None, cause, completed,
                           abandoned=agent_call is not None and agent_call.kind == "abandoned")
        self._finish(claim, started, answered=answered_at is not None, cause=cause, outcome=outcome,
                     call_uuid=call_uuid, answered_at=answered_at, flow_outcome=flow_outcome,
                     agent=agent_call.agent if agent_call is not None else "")
        if outcome == "abandoned":
            self.held = self._abandon_hold(self.clock.now())   # at once: the cap binds the next dial

    def _follow(self, call_uuid, connected, result):
        """The call was answered: wait for the flow to connect and end, with deadlines."""
        try:
            connected.get(timeout=FLOW_CONNECT_S)
        except gevent.Timeout:
            self._kill(call_uuid)
            return "FLOW_UNREACHABLE", None
        try:
            outcome = result.get(timeout=self.campaign.dial.max_duration_s)
        except gevent.Timeout:
            self._kill(call_uuid)
            return "MAX_DURATION", None
        return getattr(outcome, "cause", None) or "NORMAL_CLEARING", outcome

    def _kill(self, call_uuid: str) -> None:
        try:
            self.esl.uuid_kill(call_uuid, "ALLOTTED_TIMEOUT")
        except ESLError:
            pass   # already gone

    def _completed(self, flow_outcome) -> bool:
        if flow_outcome is None or flow_outcome.reason not in ("hangup", "transfer", "queue"):
            return False   # caller_hangup (mid-message), error: not completed
        if self.campaign.completed_when:
            return bool(flow_outcome.vars.get(self.campaign.completed_when))
        return True

    def _on_answer(self, call):
        """The outbound socket of an answered leg: run the campaign's flow on it."""
        entry = self._answered.get(call.uuid)
        if entry is None:
            log.warning("socket from a call this dialer did not place", extra={"uuid": call.uuid})
            call.hangup("CALL_REJECTED")
            return None
        connected, result, claim = entry
        connected.set(True)
        try:
            if self.campaign.agents is not None:
                outcome = self._bridge(call, claim)
            else:
                outcome = self._run_flow(call, claim)
            result.set(outcome)
            return outcome if not isinstance(outcome, AgentCall) else outcome.flow_outcome
        except BaseException as exc:
            result.set_exception(exc)
            raise

    def _run_flow(self, call, claim: Claim):
        registry = self.flows.registry
        flow = registry.flows[self.campaign.flow]
        initial = dict(claim.data)
        initial.update(contact_id=claim.contact_id, contact_name=claim.name,
                       contact_number=claim.number, campaign_attempt=claim.attempt)
        from fsapp.flow.interpreter import run_call
        return run_call(call, flow, self.flows.services, registry.flows, initial=initial)

    # -- recording ----------------------------------------------------------------------------
    def _finish(self, claim: Claim, started: float, *, answered: bool, cause, outcome: str,
                call_uuid: str | None = None, answered_at: float | None = None, flow_outcome=None,
                agent: str = "") -> None:
        now = self.clock.now()
        nxt = next_state(outcome, claim.attempt, now, self.campaign.retry)
        answers = {k: _plain(flow_outcome.vars.get(k)) for k in self.campaign.collect} if flow_outcome else {}
        record = {"campaign": claim.campaign, "contact_id": claim.contact_id, "attempt": claim.attempt,
                  "number": claim.number[:40], "call_uuid": call_uuid, "started_at": started,
                  "answered_at": answered_at, "ended_at": now, "answered": answered, "hangup_cause": cause,
                  "outcome": outcome, "flow": self.campaign.flow if answered else None,
                  "flow_result": flow_outcome.reason if flow_outcome else None, "answers": answers,
                  "next_state": nxt.state, "retry_at": nxt.retry_at, "worker": self.worker}
        if self.campaign.agents is not None:
            record["agent"] = agent or None
        if self.store is not None:
            self.store.write("campaign_attempt", _row(record),
                             key=f"campaign:{claim.campaign}:{claim.contact_id}:{claim.attempt}")
        if not self.states.finish(claim, nxt.state, nxt.retry_at, record):
            log.warning("attempt already closed by another worker", extra={"contact": claim.contact_id})
        log.info("attempt", extra={"campaign": claim.campaign, "contact": claim.contact_id,
                                   "attempt": claim.attempt, "outcome": outcome, "cause": cause or "-"})

    def current_rate(self, now: float, window_s: float = 300.0) -> float:
        """Calls started per minute over the last window_s."""
        recent = [t for t in self.started_calls if now - t <= window_s]
        self.started_calls = recent
        return len(recent) * 60.0 / window_s


def _plain(value):
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


def _when(epoch: float | None):
    return None if epoch is None else dt.datetime.fromtimestamp(epoch).replace(microsecond=0)


def _row(record: dict) -> dict:
    return {"call_uuid": record["call_uuid"], "campaign": record["campaign"],
            "contact_id": str(record["contact_id"])[:100], "attempt": record["attempt"],
            "dialled_number": record["number"], "started_at": _when(record["started_at"]),
            "answered_at": _when(record["answered_at"]), "ended_at": _when(record["ended_at"]),
            "answered": 1 if record["answered"] else 0, "hangup_cause": (record["hangup_cause"] or None),
            "outcome": record["outcome"], "flow": record["flow"], "flow_result": record["flow_result"],
            "answers": json.dumps(record["answers"], ensure_ascii=False)[:2000] if record["answers"] else None,
            "next_state": record["next_state"], "retry_at": _when(record["retry_at"]),
            "worker": record["worker"][:80]}

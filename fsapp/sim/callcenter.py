"""A small, faithful subset of mod_callcenter (FreeSWITCH 1.10.12), configured in code.
An optional module: a switch has it only once asked (`load`, through Switch.load_module).

    cc = sw.load_module("mod_callcenter")   # one per Switch
    cc.add_queue("support@default", strategy="longest-idle-agent", discard_abandoned_after=60)
    cc.add_agent("agent1@default", contact="loopback/7100", max_no_answer=3, wrap_up_time=5,
                 reject_delay_time=5, busy_delay_time=5)
    cc.add_tier("support@default", "agent1@default", level=1, position=1)
    sw.dialplan.add(r"^7200$", Apps([("answer", ""), ("callcenter", "support@default")]))

What is emulated (README observations 35-38 of tests/data/esl-captures, and
mod_callcenter.c): the `callcenter` application (a member waits in a queue), the
`callcenter_config` API (agent set status/contact/state, agent list, queue list members,
queue list agents, tier list) with FreeSWITCH's reply bodies, the `callcenter::info`
CUSTOM events (CC-Action order and headers as captured), callback agents offered by
originating their contact, the loopback-agent rule (a loopback agent leg must be bridged
onward within 5 s, else DESTINATION_OUT_OF_ORDER + bridge-agent-fail + retry, and
agent-max-no-answer after max-no-answer failures), wrap-up time, and the member states
Waiting/Trying/Answered/Abandoned (abandoned rows kept for discard-abandoned-after).
Not emulated: tiers' levels/positions beyond ordering, strategies other than
longest-idle-agent/ring-all, uuid-standby agents, moh, announcements, member scores.
"""
from __future__ import annotations

import logging
import math
import uuid as uuidlib
from dataclasses import dataclass, field

import gevent
import gevent.event

from .bridging import release_partner
from .channel import FRAME_S
from .legs import DialError, new_leg, start_leg, wait_answer

log = logging.getLogger("fsapp.sim")

SUBCLASS = "callcenter::info"
SYSTEM = "single_box"
LOOPBACK_BRIDGE_WAIT_S = 5.0     # mod_callcenter: "waiting for the loopback-b channel to be bridged"
# Captured: the loopback agent leg was hung up 5.2 s after it answered, i.e. originate
# returned about 0.2 s after the answer, then switch_channel_wait_for_flag(CF_BRIDGED, 5000).
ORIGINATE_RETURN_S = 0.2
DISPATCH_S = 0.1                 # a member is offered again this long after a failed offer
# Captured: a member is first offered in the epoch second after it joined (joined at
# x.61 -> offered at x+1.09; a retry after a failure came 0.1 s later, same second).
AGENT_STATUSES = ("Logged Out", "Available", "Available (On Demand)", "On Break")
AGENT_STATES = ("Idle", "Waiting", "Receiving", "In a queue call")
# (function, line) of mod_callcenter.c 1.10.12 per CC-Action, as captured.
CALLING = {
    "agent-status-change": ("cc_agent_update", "1043"),
    "agent-state-change": ("cc_agent_update", "1067"),
    "agent-contact-change": ("cc_agent_update", "1091"),
    "members-count": ("cc_queue_count", "878"),
    "member-queue-start": ("callcenter_function", "3113"),
    "member-queue-end-cancel": ("callcenter_function", "3274"),
    "agent-offering": ("outbound_agent_thread_run", "1717"),
    "bridge-agent-start": ("outbound_agent_thread_run", "1934"),
    "bridge-agent-end": ("outbound_agent_thread_run", "2062"),
    "member-queue-end": ("outbound_agent_thread_run", "2098"),
    "bridge-agent-fail": ("outbound_agent_thread_run", "2200"),
    "agent-max-no-answer": ("outbound_agent_thread_run", "2177"),
}
AGENT_COLUMNS = ("name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|"
                 "reject_delay_time|busy_delay_time|no_answer_delay_time|last_bridge_start|"
                 "last_bridge_end|last_offered_call|last_status_change|no_answer_count|calls_answered|"
                 "talk_time|ready_time|external_calls_count")
MEMBER_COLUMNS = ("queue|instance_id|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|"
                  "rejoined_epoch|bridge_epoch|abandoned_epoch|base_score|skill_score|serving_agent|"
                  "serving_system|state|score")
TIER_COLUMNS = "queue|agent|state|level|position"


class CallCenterError(ValueError):
    """Bad callcenter configuration (names the field and what to do)."""


@dataclass
class CCAgent:
    name: str
    contact: str
    type: str = "callback"
    status: str = "Logged Out"
    state: str = "Waiting"
    max_no_answer: int = 0
    wrap_up_time: int = 0
    reject_delay_time: int = 0
    busy_delay_time: int = 0
    no_answer_delay_time: int = 0
    uuid: str = ""
    last_bridge_start: int = 0
    last_bridge_end: int = 0
    last_offered_call: int = 0
    last_status_change: int = 0
    no_answer_count: int = 0
    calls_answered: int = 0
    talk_time: int = 0
    ready_time: int = 0
    external_calls_count: int = 0

    def row(self) -> str:
        return "|".join(str(v) for v in (
            self.name, SYSTEM, self.uuid, self.type, self.contact, self.status, self.state,
            self.max_no_answer, self.wrap_up_time, self.reject_delay_time, self.busy_delay_time,
            self.no_answer_delay_time, self.last_bridge_start, self.last_bridge_end,
            self.last_offered_call, self.last_status_change, self.no_answer_count,
            self.calls_answered, self.talk_time, self.ready_time, self.external_calls_count))


@dataclass
class CCTier:
    queue: str
    agent: str
    state: str = "Ready"
    level: int = 1
    position: int = 1


@dataclass
class CCMember:
    queue: str
    channel: object
    uuid: str
    cid_number: str
    cid_name: str
    joined_epoch: int
    state: str = "Waiting"
    serving_agent: str = ""
    bridge_epoch: int = 0
    abandoned_epoch: int = 0
    abandoned_at: float = 0.0
    done: gevent.event.Event = field(default_factory=lambda: gevent.event.Event())
    agent_channel: object = None
    joined_at: float = 0.0
    offer_b: object = None       # loopback B leg of the agent being offered this member
    retry_at: float = 0.0        # after a failed offer: not before (captured: 0.1 s later)

    def row(self, now: int) -> str:
        session = "" if self.state == "Abandoned" else self.channel.uuid
        system = SYSTEM if self.serving_agent else ""
        end = self.abandoned_epoch or now
        score = end - self.joined_epoch
        return "|".join(str(v) for v in (
            self.queue, SYSTEM, self.uuid, session, self.cid_number, self.cid_name,
            self.joined_epoch, self.joined_epoch, 0, self.bridge_epoch, self.abandoned_epoch, 0, 0,
            self.serving_agent, system, self.state, score))


@dataclass
class CCQueue:
    name: str
    strategy: str = "longest-idle-agent"
    discard_abandoned_after: int = 60
    members: list = field(default_factory=list)


class CallCenter:
    def __init__(self, switch):
        self.switch = switch
        self.queues: dict[str, CCQueue] = {}
        self.agents: dict[str, CCAgent] = {}
        self.tiers: list[CCTier] = []
        self._dispatcher = None
        self._kick = gevent.event.Event()   # wakes the dispatcher
        self._offering: dict = {}   # agent name -> agent leg being offered a call

    # ---- configuration (callcenter.conf.xml) ---------------------------------------
    def add_queue(self, name: str, strategy: str = "longest-idle-agent",
                  discard_abandoned_after: int = 60) -> CCQueue:
        if "@" not in name:
            raise CallCenterError(f"callcenter queue name {name!r}: expected 'name@domain' (e.g. support@default)")
        if strategy not in ("longest-idle-agent", "ring-all", "top-down", "agent-with-least-talk-time"):
            raise CallCenterError(f"callcenter queue {name!r}: strategy {strategy!r} is not emulated; "
                                  "use longest-idle-agent, ring-all, top-down or agent-with-least-talk-time")
        q = CCQueue(name, strategy, int(discard_abandoned_after))
        self.queues[name] = q
        return q

    def add_agent(self, name: str, contact: str, type: str = "callback", status: str = "Logged Out",
                  max_no_answer: int = 0, wrap_up_time: int = 0, reject_delay_time: int = 0,
                  busy_delay_time: int = 0, no_answer_delay_time: int = 0) -> CCAgent:
        if type != "callback":
            raise CallCenterError(f"callcenter agent {name!r}: type {type!r} is not emulated; use 'callback'")
        if status not in AGENT_STATUSES:
            raise CallCenterError(f"callcenter agent {name!r}: status {status!r}; expected one of {AGENT_STATUSES}")
        a = CCAgent(name, contact, type, status, "Waiting", int(max_no_answer), int(wrap_up_time),
                    int(reject_delay_time), int(busy_delay_time), int(no_answer_delay_time),
                    last_status_change=self._epoch())
        self.agents[name] = a
        return a

    def add_tier(self, queue: str, agent: str, level: int = 1, position: int = 1) -> CCTier:
        if queue not in self.queues:
            raise CallCenterError(f"callcenter tier: queue {queue!r} is not defined; add_queue() it first")
        if agent not in self.agents:
            raise CallCenterError(f"callcenter tier: agent {agent!r} is not defined; add_agent() it first")
        t = CCTier(queue, agent, "Ready", int(level), int(position))
        self.tiers.append(t)
        return t

    # ---- helpers ---------------------------------------------------------------------
    def _epoch(self) -> int:
        return int(self.switch.clock.now())

    def _event(self, action: str, cc: list[tuple[str, str]], channel=None, calling_key: str | None = None):
        fn, line = CALLING[calling_key or action]
        ev = self.switch.events.new("CUSTOM", subclass=SUBCLASS, uuid=channel.uuid if channel else None,
                                    calling=("mod_callcenter.c", fn, line))
        # mod_callcenter creates the event with the subclass first (switch_event_create_subclass)
        ev.headers[0], ev.headers[1] = ev.headers[1], ev.headers[0]
        if channel is not None:
            ev.headers += channel.channel_headers()
        ev.headers += cc
        self.switch.fire(ev)
        return ev

    def _set_status(self, agent: CCAgent, status: str) -> None:
        if status.startswith("Available") and not agent.status.startswith("Available"):
            # cc_agent_update: becoming Available resets the call statistics (captured:
            # calls_answered 1 -> 0, talk_time 2 -> 0 in the second capture).
            agent.calls_answered = agent.talk_time = agent.no_answer_count = 0
        agent.status = status
        agent.last_status_change = self._epoch()
        self._event("agent-status-change", [("CC-Agent", agent.name), ("CC-Action", "agent-status-change"),
                                            ("CC-Agent-Status", status)])

    def _set_state(self, agent: CCAgent, state: str) -> None:
        agent.state = state
        if state == "Waiting":
            self._kick.set()
        self._event("agent-state-change", [("CC-Agent", agent.name), ("CC-Action", "agent-state-change"),
                                           ("CC-Agent-State", state)])

    def _members_count(self, queue: CCQueue) -> None:
        count = sum(1 for m in queue.members if m.state in ("Waiting", "Trying"))
        self._event("members-count", [("CC-Queue", queue.name), ("CC-Action", "members-count"),
                                      ("CC-Count", str(count)), ("CC-Selection", "Single-Queue")])

    def _ensure_dispatcher(self) -> None:
        if self._dispatcher is None or self._dispatcher.dead:
            self._dispatcher = gevent.spawn(self._dispatch_loop)
        self._kick.set()

    def stop(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.kill(block=False)

    # ---- the API -------------------------------------------------------------------------
    def api(self, args: str) -> str:
        words = _words(args)
        if len(words) < 2:
            return "-ERR Invalid!\n"
        obj, action, rest = words[0], words[1], words[2:]
        if obj == "agent" and action == "set":
            if len(rest) < 3:
                return "-ERR Invalid!\n"
            return self._agent_set(rest[0], rest[1], " ".join(rest[2:]))
        if obj == "agent" and action == "list":
            rows = [a.row() for a in self.agents.values() if not rest or a.name == rest[0]]
            return AGENT_COLUMNS + "\n" + "".join(r + "\n" for r in rows) + "+OK\n"
        if obj == "tier" and action == "list":
            rows = [f"{t.queue}|{t.agent}|{t.state}|{t.level}|{t.position}" for t in self.tiers]
            return TIER_COLUMNS + "\n" + "".join(r + "\n" for r in rows) + "+OK\n"
        if obj == "queue" and action == "list" and rest[:1] == ["members"] and len(rest) == 2:
            q = self.queues.get(rest[1])
            if q is not None:
                self._discard_abandoned(q)
            if q is None or not q.members:
                return "+OK\n"   # an empty SELECT: no header line either (captured)
            now = self._epoch()
            return MEMBER_COLUMNS + "\n" + "".join(m.row(now) + "\n" for m in q.members) + "+OK\n"
        if obj == "queue" and action == "list" and rest[:1] == ["agents"] and len(rest) >= 2:
            names = [t.agent for t in self.tiers if t.queue == rest[1]]
            rows = [self.agents[n].row() for n in names]
            return AGENT_COLUMNS + "\n" + "".join(r + "\n" for r in rows) + "+OK\n"
        # Subcommands this subset does not emulate (agent add/del, tier set, queue load ...).
        log.warning("sim: callcenter_config %s: not emulated", args)
        return "-ERR Invalid!\n"

    def _agent_set(self, key: str, name: str, value: str) -> str:
        agent = self.agents.get(name)
        if agent is None:
            return "-ERR Agent not found!\n"
        if key == "status":
            if value not in AGENT_STATUSES:
                return "-ERR Invalid Agent Status!\n"
            # Observation 13: the event comes after the API reply (cc_agent_update runs the
            # SQL, then fires): deferred to the next turn of the hub.
            def change():
                if not value.startswith("Available"):
                    self._cancel_offer(agent)
                self._set_status(agent, value)
            gevent.spawn(change)
            if value.startswith("Available"):
                self._ensure_dispatcher()
            return "+OK\n"
        if key == "state":
            if value not in AGENT_STATES:
                return "-ERR Invalid Agent State!\n"
            gevent.spawn(self._set_state, agent, value)
            return "+OK\n"
        if key == "contact":
            agent.contact = value

            def fire():
                self._event("agent-contact-change", [("CC-Agent", name), ("CC-Action", "agent-contact-change"),
                                                     ("CC-Agent-Contact", value)])
            gevent.spawn(fire)
            return "+OK\n"
        for attr in ("max_no_answer", "wrap_up_time", "reject_delay_time", "busy_delay_time",
                     "no_answer_delay_time", "ready_time"):
            if key == attr:
                if not value.isdigit():
                    return "-ERR Invalid!\n"
                setattr(agent, attr, int(value))
                return "+OK\n"
        return "-ERR Invalid Agent Update KEY!\n"

    def _discard_abandoned(self, q: CCQueue) -> None:
        now = self.switch.clock.now()
        q.members = [m for m in q.members
                     if not (m.state == "Abandoned" and now - m.abandoned_at > q.discard_abandoned_after)]

    # ---- the dialplan application ---------------------------------------------------------
    def app(self, ch, arg: str) -> None:
        name = arg.strip().split()[0] if arg.strip() else ""
        q = self.queues.get(name)
        if q is None:
            log.warning("sim: callcenter: queue %r not found", name)
            return
        epoch = self._epoch()
        member = CCMember(q.name, ch, str(uuidlib.uuid4()), ch.profile.cid_num, ch.profile.cid_name, epoch,
                          joined_at=self.switch.clock.now())
        for k, v in (("cc_side", "member"), ("cc_member_uuid", member.uuid),
                     ("cc_queue_joined_epoch", str(epoch)), ("cc_queue", q.name)):
            ch.set_var(k, v)
        q.members.append(member)
        self._event("member-queue-start", [("CC-Queue", q.name), ("CC-Action", "member-queue-start"),
                                           ("CC-Member-UUID", member.uuid),
                                           ("CC-Member-Session-UUID", ch.uuid),
                                           ("CC-Member-CID-Number", member.cid_number)], channel=ch)
        self._members_count(q)
        self._ensure_dispatcher()
        # Wait until an agent is bridged (the agent thread sends us to uuid_bridge) or hangup.
        while not ch.status.hungup and not ch.run.transfer_to:
            ch.wait_media(float("inf"), dtmf="consume", wake_returns=True, nested=False)
        if ch.run.transfer_to:
            return    # bridged: CHANNEL_EXECUTE_COMPLETE now (observation 36), then uuid_bridge
        # The member hung up while waiting. Its media thread notices on the next frame; by
        # then its loopback partner has left its app (still answered) and ended (captured).
        release_partner(ch)
        b = member.offer_b
        if b is not None:
            # the agent leg's app, cancelled in the same frame, returns first
            deadline = self.switch.clock.now() + 5 * FRAME_S
            while b.run.app_stack and self.switch.clock.now() < deadline:
                self.switch.clock.sleep(0.002)
        member.state = "Abandoned"
        member.abandoned_epoch = self._epoch()
        member.abandoned_at = self.switch.clock.now()
        member.serving_agent = ""
        member.done.set()
        held = max(0.0, self.switch.clock.now() - member.joined_at)   # the queue's music on hold stops
        ch.set_var("playback_last_offset_pos", str(int(held * 8000)))
        ch.set_var("playback_seconds", str(int(held)))
        ch.set_var("playback_ms", str(int(held * 1000)))
        ch.set_var("playback_samples", str(int(held * 8000)))
        self._event("member-queue-end", [
            ("CC-Queue", q.name), ("CC-Action", "member-queue-end"),
            ("CC-Member-Leaving-Time", str(self._epoch())), ("CC-Member-Joined-Time", str(member.joined_epoch)),
            ("CC-Cause", "Cancel"), ("CC-Cancel-Reason", "BREAK_OUT"), ("CC-Member-UUID", member.uuid),
            ("CC-Member-Session-UUID", ch.uuid), ("CC-Member-CID-Number", member.cid_number)],
            channel=ch, calling_key="member-queue-end-cancel")
        if b is not None and b.run.finish_gate is not None:
            b.run.finish_gate.set()
            gevent.sleep(0)
        ch.set_var("cc_queue_canceled_epoch", str(member.abandoned_epoch))
        ch.set_var("cc_cause", "cancel")
        ch.set_var("cc_cancel_reason", "BREAK_OUT")
        self._members_count(q)

    # ---- dispatching and offering -----------------------------------------------------------
    def _dispatch_loop(self) -> None:
        """Offer waiting members to free agents. It sleeps until something can change: a
        kick (member joined, agent became Available/Waiting) or the next time-based
        eligibility (a clock timer, so a VirtualClock jumps straight to it)."""
        while True:
            self._kick.clear()
            for q in list(self.queues.values()):
                now, now_s = self._epoch(), self.switch.clock.now()
                for member in [m for m in q.members if m.state == "Waiting" and not m.channel.status.hungup
                               and m.joined_epoch < now and m.retry_at <= now_s]:
                    agent = self._pick_agent(q)
                    if agent is None:
                        break
                    member.state = "Trying"
                    member.serving_agent = agent.name
                    agent.state = "Receiving"
                    gevent.spawn(self._offer, q, member, agent)
            due = self._next_due()
            wait = math.inf if due is None else max(0.0, due - self.switch.clock.now())
            self.switch.clock.wait([self._kick], wait)

    def _next_due(self) -> float | None:
        """The next moment a waiting member or an agent becomes eligible by time alone."""
        waiting = [m for q in self.queues.values() for m in q.members
                   if m.state == "Waiting" and not m.channel.status.hungup]
        if not waiting:
            return None
        times = [t for m in waiting for t in (m.joined_epoch + 1, m.retry_at)]
        times += [t for a in self.agents.values()
                  for t in (a.ready_time, a.last_bridge_end + a.wrap_up_time + 1)]
        future = [t for t in times if t > self.switch.clock.now()]
        return min(future) if future else None

    def _pick_agent(self, q: CCQueue) -> CCAgent | None:
        now = self._epoch()
        ready = [self.agents[t.agent] for t in sorted(self.tiers, key=lambda t: (t.level, t.position))
                 if t.queue == q.name and t.state == "Ready"]
        # mod_callcenter's agent query: ready_time passed and wrap-up over
        # (last_bridge_end < now - wrap_up_time); ready_time itself stays 0 after a call.
        ready = [a for a in ready if a.status.startswith("Available") and a.state == "Waiting"
                 and a.ready_time <= now and a.last_bridge_end < now - a.wrap_up_time]
        if q.strategy == "longest-idle-agent":
            ready.sort(key=lambda a: a.last_bridge_end)
        return ready[0] if ready else None

    def _offer(self, q: CCQueue, member: CCMember, agent: CCAgent) -> None:
        sw = self.switch
        mch = member.channel
        called = self._epoch()
        agent.last_offered_call = called
        self._set_state(agent, "Receiving")
        cc_member = [("CC-Member-UUID", member.uuid), ("CC-Member-Session-UUID", mch.uuid),
                     ("CC-Member-CID-Number", member.cid_number)]
        self._event("agent-offering", [("CC-Queue", q.name), ("CC-Action", "agent-offering"),
                                       ("CC-Agent", agent.name), ("CC-Agent-Type", agent.type),
                                       ("CC-Agent-System", SYSTEM)] + cc_member)
        cc_vars = {"cc_side": "agent", "cc_queue": q.name, "cc_agent": agent.name,
                   "cc_agent_type": agent.type, "cc_member_uuid": member.uuid,
                   "cc_member_session_uuid": mch.uuid}
        # mod_callcenter builds the originate variables in a REQUEST_PARAMS event, so its core
        # headers become channel variables of the agent legs too (as captured).
        params = sw.events.new("REQUEST_PARAMS", calling=("mod_callcenter.c", "outbound_agent_thread_run", "1755"))
        ovars = dict(params.headers)
        ovars.update({"cc_queue": q.name, "cc_queue_joined_epoch": str(member.joined_epoch),
                      "cc_member_uuid": member.uuid, "cc_member_session_uuid": mch.uuid,
                      "cc_member_pre_answer_uuid": member.uuid, "cc_agent": agent.name,
                      "cc_agent_type": agent.type, "cc_side": "agent", "loopback_bowout": "false",
                      "loopback_bowout_on_execute": "false", "ignore_early_media": "true",
                      "origination_caller_id_number": mch.profile.cid_num})
        agent_ch = None
        try:
            leg = new_leg(sw, agent.contact, ovars, mch.profile.cid_num, mch.profile.cid_name)
        except DialError as exc:
            leg, cause = None, exc.cause
        if leg is not None:
            self._offering[agent.name] = leg
            b = getattr(leg, "loopback_b", None)
            if b is not None:
                # Captured timing of the agent's loopback B leg: its app notices a cancel
                # on the next frame, and it reports its end after the member's thread.
                b.run.frame_notice = True
                b.run.finish_gate = gevent.event.Event()
                member.offer_b = b
            failed = gevent.event.Event()
            # The agent thread reacts as soon as the agent leg has reported its end.
            leg.run.reporting_hooks = (lambda c: self._offer_failed(q, member, agent, called, cc_member, failed, c),)
            start_leg(sw, leg)
            cause = wait_answer(leg, 60.0, early_ok=False, dialler=mch)
            if cause is None:
                if b is None:
                    agent_ch = leg
                else:
                    # The loopback rule (observation 35): the agent is what the B leg bridges to.
                    deadline = sw.clock.now() + ORIGINATE_RETURN_S + LOOPBACK_BRIDGE_WAIT_S
                    while b.links.bridged_to is None and not b.status.hungup and not leg.status.hungup and not mch.status.hungup \
                            and sw.clock.now() < deadline:
                        # the deadline is a clock timer (a VirtualClock jumps to it); the
                        # bridge itself is noticed by polling every frame of real time
                        sw.clock.wait([b.queue.wake, leg.queue.wake], max(0.0, deadline - sw.clock.now()), poll=FRAME_S)
                    if b.links.bridged_to is not None and not mch.status.hungup and not leg.status.hungup:
                        agent_ch = b.links.bridged_to
                    elif not leg.status.hungup:
                        b.run.finish_gate.set()
                        log.info("sim: callcenter: timeout while waiting for the loopback-b channel "
                                 "of %s to be bridged", agent.name)
                        leg.hangup("ORIGINATOR_CANCEL" if mch.status.hungup else "DESTINATION_OUT_OF_ORDER")
            self._offering.pop(agent.name, None)
            if agent_ch is None:
                gevent.wait([failed], timeout=5.0)
                return
            leg.run.reporting_hooks = ()
            b = getattr(leg, "loopback_b", None)
            if b is not None:
                b.run.finish_gate.set()
                b.run.frame_notice = False
            member.offer_b = None
            self._bridge(q, member, agent, agent_ch, leg, called, cc_member, cc_vars)
            return
        self._offer_failed(q, member, agent, called, cc_member, gevent.event.Event())

    def _cancel_offer(self, agent: CCAgent) -> None:
        """The agent left Available while being offered a call: the originate is cancelled
        (captured: HANGUP of the loopback B leg, then the A leg, ORIGINATOR_CANCEL)."""
        leg = self._offering.pop(agent.name, None)
        if leg is None or leg.status.hungup:
            return
        b = getattr(leg, "loopback_b", None)
        if b is not None and not b.status.hungup:
            b.hangup("ORIGINATOR_CANCEL")
        leg.hangup("ORIGINATOR_CANCEL")

    def _offer_failed(self, q, member, agent, called, cc_member, done, leg=None) -> None:
        cause_timeout = leg is not None and leg.status.hangup_cause == "DESTINATION_OUT_OF_ORDER"
        agent.no_answer_count += 1
        self._event("bridge-agent-fail", [
            ("CC-Queue", q.name), ("CC-Action", "bridge-agent-fail"), ("CC-Hangup-Cause", "SUCCESS"),
            ("CC-Agent", agent.name), ("CC-Agent-System", SYSTEM), ("CC-Agent-Called-Time", str(called)),
            ("CC-Agent-Aborted-Time", str(self._epoch()))] + cc_member +
            [("CC-Member-Joined-Time", str(member.joined_epoch))])
        if cause_timeout and member.offer_b is not None and member.offer_b.run.finish_gate is not None:
            member.offer_b.run.finish_gate.set()
        if agent.max_no_answer and agent.no_answer_count >= agent.max_no_answer:
            # Not in the captures (seen in a trial run only): headers as for the other agent events.
            self._event("agent-max-no-answer", [("CC-Agent", agent.name), ("CC-Action", "agent-max-no-answer")])
            self._set_status(agent, "On Break")
        if agent.no_answer_delay_time:
            agent.ready_time = self._epoch() + agent.no_answer_delay_time
        self._set_state(agent, "Waiting")
        if member.state == "Trying" and not member.channel.status.hungup:
            member.state = "Waiting"
            member.serving_agent = ""
            member.retry_at = self.switch.clock.now() + DISPATCH_S
            self._kick.set()
        done.set()

    def _uuid_bridge_vars(self, member, agent, agent_ch, answered: int) -> None:
        """What switch_ivr_uuid_bridge (a transfer of both legs) and mod_callcenter set on
        the member and the agent before the member's `callcenter` app returns, in the
        captured order."""
        mch = member.channel
        mch.links.other, mch.links.other_type = agent_ch, "originatee"
        agent_ch.links.other, agent_ch.links.other_type = mch, "originator"
        mch.set_var("cc_agent_uuid", agent_ch.uuid)
        mch.set_var("uuid_bridge", agent_ch.uuid)   # removed again when uuid_bridge runs
        agent_ch.set_var("bridge_to", None)
        for ch, other in ((agent_ch, mch), (mch, agent_ch)):
            ch.set_var("bridge_channel", other.name)
            ch.set_var("bridge_uuid", other.uuid)
            ch.set_var("signal_bond", other.uuid)
            history = f"{self._epoch()}:{uuidlib.uuid4()}:uuid_br:{other.uuid}"
            ch.set_var("original_destination_number", ch.profile.destination)
            ch.set_var("original_caller_id_number", ch.profile.cid_num)
            ch.set_var("transfer_history", history)
            ch.set_var("transfer_source", history)
            ch.profile.transfer_source = history
            ch.set_var("cc_agent_bridged", "true")
        agent_ch.set_var("last_bridge_hangup_cause", "NORMAL_CLEARING")
        agent_ch.set_var("call_uuid", agent_ch.uuid)
        mch.set_var("cc_agent", agent.name)
        mch.set_var("cc_queue_answered_epoch", str(answered))
        # the member heard the queue's music on hold until now (playback_* of the moh)
        held = max(0.0, self.switch.clock.now() - member.joined_at)
        samples = int(held * 8000)
        mch.set_var("playback_last_offset_pos", str(samples))
        mch.set_var("playback_seconds", str(int(held)))
        mch.set_var("playback_ms", str(int(held * 1000)))
        mch.set_var("playback_samples", str(samples))
        mch.set_var("cc_cause", "answered")

    def _bridge(self, q, member, agent, agent_ch, leg, called, cc_member, cc_vars) -> None:
        mch = member.channel
        answered = self._epoch()
        for k, v in cc_vars.items():
            agent_ch.set_var(k, v)
        agent.uuid = agent_ch.uuid
        agent.last_bridge_start = answered
        agent.calls_answered += 1
        agent.no_answer_count = 0
        member.state = "Answered"
        member.bridge_epoch = answered
        member.agent_channel = agent_ch
        agent_times = [("CC-Agent-Called-Time", str(called)), ("CC-Agent-Answered-Time", str(answered))]
        self._event("bridge-agent-start", [
            ("CC-Queue", q.name), ("CC-Action", "bridge-agent-start"), ("CC-Agent", agent.name),
            ("CC-Agent-System", SYSTEM), ("CC-Agent-UUID", agent_ch.uuid)] + agent_times +
            [("CC-Member-Joined-Time", str(member.joined_epoch))] + cc_member, channel=agent_ch)
        b = getattr(leg, "loopback_b", None)
        if b is not None:
            # Take the real agent channel out of the loopback B leg's bridge; the loopback
            # pair then ends (its extension has nothing after `bridge`). The agent thread
            # sees the B leg's end at once: "In a queue call" right after its HANGUP_COMPLETE.
            b.run.reporting_hooks = (lambda _c: self._set_state(agent, "In a queue call"),)
            agent_ch.run.transfer_to = ("__joined__", mch.uuid)
            b.run.break_requested = True
            b.queue.wake.set()
            gevent.wait([b.status.ended], timeout=5.0)
        else:
            self._set_state(agent, "In a queue call")
        if leg is not None and leg is not agent_ch:
            gevent.wait([leg.status.ended], timeout=5.0)
        self._members_count(q)
        self._uuid_bridge_vars(member, agent, agent_ch, answered)
        if agent_ch.run.transfer_to is None:
            agent_ch.run.transfer_to = ("__joined__", mch.uuid)
            agent_ch.queue.wake.set()
        mch.run.transfer_to = ("__join__", agent_ch.uuid)
        mch.queue.wake.set()
        gevent.wait([mch.status.ended, agent_ch.status.ended], count=2)
        end = self._epoch()
        agent.last_bridge_end = end
        agent.talk_time += end - answered
        agent.uuid = ""
        gevent.sleep(0.08)   # the agent thread notices the end of the bridge (~80 ms, as captured)
        agent_ch.set_var("bridge_hangup_cause", mch.status.hangup_cause or "NORMAL_CLEARING")
        agent_ch.set_var("call_uuid", agent_ch.uuid)
        mch.set_var("cc_queue_terminated_epoch", str(end))
        self._event("bridge-agent-end", [
            ("CC-Queue", q.name), ("CC-Action", "bridge-agent-end"), ("CC-Hangup-Cause", "SUCCESS"),
            ("CC-Agent", agent.name), ("CC-Agent-System", SYSTEM), ("CC-Agent-UUID", agent_ch.uuid),
            ("CC-Agent-Bridged", "true")] + agent_times +
            [("CC-Member-Joined-Time", str(member.joined_epoch)), ("CC-Bridge-Terminated-Time", str(end))] +
            cc_member, channel=agent_ch)
        q.members = [m for m in q.members if m is not member]
        member.done.set()
        self._event("member-queue-end", [
            ("CC-Queue", q.name), ("CC-Action", "member-queue-end"), ("CC-Hangup-Cause", "SUCCESS"),
            ("CC-Cause", "Terminated"), ("CC-Agent", agent.name), ("CC-Agent-System", SYSTEM),
            ("CC-Agent-UUID", agent_ch.uuid)] + agent_times +
            [("CC-Member-Leaving-Time", str(end)), ("CC-Member-Joined-Time", str(member.joined_epoch))] +
            cc_member, channel=mch)
        self._set_state(agent, "Waiting")


def _words(args: str) -> list[str]:
    """callcenter_config splits on spaces, honouring single quotes ('Logged Out')."""
    out, cur, quoted = [], "", False
    for c in args.strip():
        if c == "'":
            quoted = not quoted
        elif c == " " and not quoted:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += c
    if cur:
        out.append(cur)
    return out


def load(switch) -> CallCenter:
    """mod_callcenter loaded into one switch (`sw.load_module("mod_callcenter")`): the
    `callcenter` application and the `callcenter_config` API, on that switch only. A switch
    that did not load it answers both as FreeSWITCH without the module does (Invalid
    Application, `-ERR callcenter_config Command not found!`)."""
    cc = CallCenter(switch)
    switch.applications["callcenter"] = cc.app
    switch.api.commands["callcenter_config"] = cc.api
    return cc

"""The ACD's nouns, in mod_callcenter's vocabulary so its users feel at home.

Static configuration (Queue, AgentConfig, Tier) comes from routing.yaml or the CLI;
runtime records (AgentRecord, Member, Claim) live in a StateBackend. Nothing here does
I/O or reads the clock.
"""
from __future__ import annotations

from dataclasses import dataclass, field, asdict
from enum import Enum


class AgentStatus(str, Enum):
    LOGGED_OUT = "Logged Out"
    AVAILABLE = "Available"
    AVAILABLE_ON_DEMAND = "Available (On Demand)"
    ON_BREAK = "On Break"

    @classmethod
    def parse(cls, text: str) -> "AgentStatus":
        wanted = text.strip().lower().replace("_", " ").replace("-", " ")
        for status in cls:
            if status.value.lower() == wanted or status.name.lower().replace("_", " ") == wanted:
                return status
        raise ValueError(f"unknown agent status {text!r}; one of: {', '.join(s.value for s in cls)}")


OFFERABLE = (AgentStatus.AVAILABLE, AgentStatus.AVAILABLE_ON_DEMAND)


class AgentState(str, Enum):
    WAITING = "Waiting"              # free for an offer
    RECEIVING = "Receiving"          # being offered (ringing)
    IN_A_QUEUE_CALL = "In a queue call"
    IDLE = "Idle"                    # wrap-up or a reject/busy/no-answer delay
    RESERVED = "Reserved"            # claimed, not yet ringing


class MemberState(str, Enum):
    WAITING = "Waiting"
    TRYING = "Trying"
    ANSWERED = "Answered"
    ABANDONED = "Abandoned"


class OfferResult(str, Enum):
    """How an offer or a queue call ended; decides the agent's next delay."""
    ANSWERED = "answered"        # offer answered: the claim becomes a call
    COMPLETED = "completed"      # the bridged call ended: wrap-up
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    REJECT = "reject"
    CANCELLED = "cancelled"      # caller hung up or another agent answered: no penalty


@dataclass
class AgentConfig:
    name: str
    contact: str = ""                    # dial string, e.g. user/1001
    skills: dict[str, int] = field(default_factory=dict)   # skill -> level 1..10
    capacity: int = 1                    # simultaneous queue calls
    wrap_up_time: float = 10.0
    max_no_answer: int = 3               # then the agent is put On Break (0: never)
    no_answer_delay_time: float = 10.0
    busy_delay_time: float = 60.0
    reject_delay_time: float = 10.0
    status: AgentStatus = AgentStatus.LOGGED_OUT   # initial status


@dataclass
class AgentRecord(AgentConfig):
    """AgentConfig plus what the backend tracks at runtime."""
    ready_at: float = 0.0                # wrap-up / delay ends
    last_bridge_end: float = 0.0
    last_offered_at: float = 0.0
    last_status_change: float = 0.0
    calls_answered: int = 0
    talk_time: float = 0.0
    no_answer_count: int = 0
    claims: dict[str, "Claim"] = field(default_factory=dict)   # member id -> claim

    def live_claims(self, now: float) -> list["Claim"]:
        return [c for c in self.claims.values() if c.expires > now]

    def state(self, now: float) -> AgentState:
        live = self.live_claims(now)
        if any(c.phase == "talking" for c in live):
            return AgentState.IN_A_QUEUE_CALL
        if any(c.phase == "ringing" for c in live):
            return AgentState.RECEIVING
        if live:
            return AgentState.RESERVED
        if self.ready_at > now:
            return AgentState.IDLE
        return AgentState.WAITING

    def offerable(self, now: float) -> bool:
        if self.status not in OFFERABLE or self.ready_at > now:
            return False
        # called for every candidate of every decision: no list when there is no claim
        return not self.claims or sum(1 for c in self.claims.values() if c.expires > now) < self.capacity

    def idle_since(self) -> float:
        return max(self.last_bridge_end, self.last_status_change)

    def to_json(self, now: float) -> dict:
        out = asdict(self)
        out["status"] = self.status.value
        out["state"] = self.state(now).value
        out["claims"] = {k: asdict(v) for k, v in self.claims.items() if v.expires > now}
        return out


@dataclass
class Claim:
    member: str
    owner: str           # worker id holding the lease
    phase: str           # reserved | ringing | talking
    expires: float


@dataclass
class Tier:
    queue: str
    agent: str
    level: int = 1
    position: int = 1


@dataclass
class OverflowRule:
    """`when` one condition holds, send the member to `action`:`target`.

    conditions: after (s waited), no_agent (no agent logged in), queue_longer_than (N),
    estimated_wait_over (s). actions: queue, tier_level (widen to that tier level now),
    site_queue ("site/queue" of another node set), flow, number.
    """
    condition: str
    value: float
    action: str
    target: str
    line: int = 0


@dataclass
class Queue:
    name: str
    strategy: str = "longest-idle-agent"
    moh_sound: str = "local_stream://moh"
    announce_sound: str = ""             # periodic announcement
    announce_frequency: float = 0.0      # seconds; 0 = never
    announce_position: bool = False      # position + estimated wait with each announcement
    announce_agent_id: bool = False      # "agent number 1001 will serve you" before the bridge
    agent_id_prompt: str = ""            # catalog prompt before the agent's digits ("agent number")
    agent_id_prompt_after: str = ""      # catalog prompt after them ("will serve you"); optional
    agent_id_language: str = "zh-CN"     # when the flow does not pass the caller's lang to enqueue
    language: str = "zh-CN"              # announce-position's language when the flow passes no lang
    max_wait_time: float = 0.0           # 0 = unlimited
    max_wait_time_with_no_agent: float = 0.0
    max_wait_time_with_no_agent_time_reached: float = 5.0
    discard_abandoned_after: float = 60.0
    abandoned_resume_allowed: bool = False
    tier_rules_apply: bool = False
    tier_rule_wait_second: float = 300.0
    tier_rule_wait_multiply_level: bool = True
    tier_rule_no_agent_no_wait: bool = False
    ring_progressively_delay: float = 10.0
    offer_timeout: float = 30.0          # ring an agent this long before "no answer"
    affinity_days: float = 0.0           # last-agent affinity window; 0 = off
    priority_weight: float = 60.0        # one priority step is worth this many seconds of waiting
    aging_per_second: float = 1.0        # score a waiting caller gains per second
    skills: dict[str, int] = field(default_factory=dict)   # required by default
    leave_key: str = ""                  # DTMF that leaves the queue (mailbox/callback flow)
    leave_target: str = ""               # flow name the leave key goes to
    calendar: str = ""                   # business calendar: gates entry, overflow moves and callbacks
    closed_target: str = ""              # where a caller goes while the calendar is closed ("flow:mailbox")
    number_dial: str = ""                # overflow `number: N`: dial string template, {number} replaced
    vip: list[str] = field(default_factory=list)       # caller numbers served with vip_priority
    vip_priority: int = 5
    priority_query: str = ""             # named store query by :caller_number -> row with priority/skills
    callback_dial: str = "loopback/{number}/default"   # how to reach the customer on a callback
    callback_max_attempts: int = 3
    callback_retry_delay: float = 300.0
    overflow: list[OverflowRule] = field(default_factory=list)
    line: int = 0
    key_lines: dict[str, int] = field(default_factory=dict, repr=False, compare=False)  # setting -> line


@dataclass
class Site:
    """Another site sharing this routing state: `site_queue: NAME/QUEUE` hands a caller to
    one of its `queues`, bridging the call to it with `dial` ({queue} replaced)."""
    name: str
    dial: str
    queues: list[str] = field(default_factory=list)
    line: int = 0


@dataclass
class Member:
    """A caller waiting in (or being served by) a queue."""
    id: str                      # the caller's channel uuid
    queue: str
    caller_id: str = ""
    joined_at: float = 0.0
    priority: int = 0
    skills: dict[str, int] = field(default_factory=dict)
    last_agent: str = ""         # for affinity
    last_agent_at: float = 0.0
    state: MemberState = MemberState.WAITING
    owner: str = ""              # worker handling the caller's channel
    node: str = ""               # FreeSWITCH node the caller is on
    expires: float = 0.0         # lease: an orphan (owner died) is dropped after it
    abandoned_at: float = 0.0
    serving_agent: str = ""
    callback_number: str = ""    # set: a callback request, no channel waits (agent first, then this number)
    callback_attempts: int = 0
    not_before: float = 0.0      # not offered before (callback retry delay, business hours)

    def to_json(self) -> dict:
        out = asdict(self)
        out["state"] = self.state.value
        return out


def normalize_skills(skills) -> dict[str, int]:
    """Required skills as {name: minimum level}, from a dict, or a list of names
    ("cantonese": level 1 or more) or "name:level" strings."""
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

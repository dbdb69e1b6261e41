"""Pure queue policy: wait estimates and overflow/exit rules.

The dispatcher calls `overflow_decision` when something changes (member joined, agent
logged in/out, a timer it set from `next_overflow_check` fires), never on a poll.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from fsapp.routing.model import Member, OverflowRule, Queue

CONDITIONS = ("after", "no_agent", "queue_longer_than", "estimated_wait_over")
ACTIONS = ("queue", "tier_level", "site_queue", "flow", "number")


@dataclass(frozen=True)
class QueueSnapshot:
    """What rules may look at: counted by the backend at decision time."""
    waiting: int               # members waiting in the queue
    logged_in: int             # agents not Logged Out (any state)
    free: int                  # agents offerable now
    handle_times: Sequence[float] = ()   # recent handle times (talk + wrap-up), seconds
    no_agent_since: float | None = None  # when the last agent logged out (None: some logged in)


def average_handle_time(handle_times: Sequence[float], default: float = 180.0) -> float:
    recent = [t for t in handle_times if t >= 0][-50:]
    return sum(recent) / len(recent) if recent else default


def estimate_wait(position: int, snapshot: QueueSnapshot, default_aht: float = 180.0) -> float | None:
    """Expected seconds until a member at `position` (1 = next) is offered: callers ahead
    beyond the free agents are served in rounds of AHT / logged-in agents. None if no agent
    is logged in (the wait is unbounded)."""
    if snapshot.logged_in <= 0:
        return None
    ahead = max(0, position - snapshot.free)
    if ahead == 0:
        return 0.0
    return ahead * average_handle_time(snapshot.handle_times, default_aht) / snapshot.logged_in


@dataclass(frozen=True)
class Decision:
    kind: str       # overflow | timeout
    action: str     # queue/tier_level/site_queue/flow/number, or the timeout reason
    target: str
    rule: OverflowRule | None = None


def overflow_decision(queue: Queue, member: Member, position: int, snap: QueueSnapshot,
                      now: float) -> Decision | None:
    """First overflow rule that holds, else mod_callcenter's exits (max-wait-time,
    max-wait-time-with-no-agent), else None (keep waiting)."""
    waited = now - member.joined_at
    for rule in queue.overflow:
        if _holds(rule, waited, position, snap, now):
            return Decision("overflow", rule.action, rule.target, rule)
    if queue.max_wait_time and waited >= queue.max_wait_time:
        return Decision("timeout", "max-wait-time", "")
    limit = no_agent_limit(queue, member, snap)
    if limit is not None and now >= limit:
        return Decision("timeout", "max-wait-time-with-no-agent", "")
    return None


def no_agent_limit(queue: Queue, member: Member, snap: QueueSnapshot) -> float | None:
    """When a member must leave a queue that has no agent logged in (mod_callcenter's
    max-wait-time-with-no-agent; a member joining after that time was already reached
    waits only max-wait-time-with-no-agent-time-reached)."""
    if not queue.max_wait_time_with_no_agent or snap.logged_in > 0 or snap.no_agent_since is None:
        return None
    reached_at = snap.no_agent_since + queue.max_wait_time_with_no_agent
    if member.joined_at >= reached_at:
        return member.joined_at + queue.max_wait_time_with_no_agent_time_reached
    return max(snap.no_agent_since, member.joined_at) + queue.max_wait_time_with_no_agent


def beyond_limit(position: int, limit: float) -> bool:
    """`queue_longer_than: N` by position: only the members ranked beyond the first N in
    the queue's order (priority with aging, then arrival) overflow, so the queue keeps N
    callers. With equal priorities those are the newest arrivals; a VIP who ranks ahead
    pushes the lowest-ranked caller out instead of leaving itself. (Comparing the queue's
    length for every member sent all of them away the moment the N+1st arrived.)"""
    return position > limit


def _holds(rule: OverflowRule, waited: float, position: int, snap: QueueSnapshot, now: float) -> bool:
    if rule.condition == "after":
        return waited >= rule.value
    if rule.condition == "no_agent":
        return snap.logged_in == 0 and (snap.no_agent_since is None or now - snap.no_agent_since >= rule.value)
    if rule.condition == "queue_longer_than":
        return beyond_limit(position, rule.value)
    if rule.condition == "estimated_wait_over":
        estimate = estimate_wait(position, snap)
        return estimate is None or estimate > rule.value
    raise ValueError(f"unknown overflow condition {rule.condition!r}")


def next_overflow_check(queue: Queue, member: Member, snap: QueueSnapshot) -> float | None:
    """The next moment a time-based rule could start to hold, for a timer (not a poll)."""
    times = [member.joined_at + r.value for r in queue.overflow if r.condition == "after"]
    if queue.max_wait_time:
        times.append(member.joined_at + queue.max_wait_time)
    if snap.logged_in == 0 and snap.no_agent_since is not None:
        limit = no_agent_limit(queue, member, snap)
        if limit is not None:
            times.append(limit)
        times.extend(snap.no_agent_since + r.value for r in queue.overflow if r.condition == "no_agent")
    return min(times) if times else None

"""One dispatch decision for one queue, as a pure function: order the waiting members,
pick the agents this worker may claim for its own members, and count what the overflow
rules look at.

A backend runs it as ONE atomic step against its state, so deciding and claiming is one
call: MemoryBackend.decide runs `plan_queue` under its lock; RedisBackend.decide runs
DECIDE_LUA (fsapp/routing/redis_backend.py), a line-by-line Lua port of this module, in one
EVALSHA (one network round trip per decision instead of one per read, claim, update and
publish). tests/routing/test_routing_decision.py runs the same decisions on both backends
and compares them, so the two cannot drift apart.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Collection

from fsapp.routing.model import OFFERABLE, AgentRecord, Member, Queue
from fsapp.routing.strategies import Candidate, QueueMemo, get_strategy, order_free, order_members


@dataclass
class QueueDecision:
    """What one decision found and did (the claims in `offers` are already taken)."""
    order: list[str] = field(default_factory=list)       # waiting member ids, best first
    offers: list[tuple[str, list[AgentRecord]]] = field(default_factory=list)   # (member, agents claimed)
    logged_in: int = 0                 # the queue's agents not Logged Out
    free: int = 0                      # offerable at decision time (before the claims); with
                                       # free_levels and ready_at, counted only if someone waits
    tiered: int = 0                    # agents with a tier in the queue
    last_status_change: float = 0.0    # latest status change among them (when logged_in == 0)
    levels: list[int] = field(default_factory=list)      # tier levels of the queue
    free_levels: list[int] = field(default_factory=list) # levels with an offerable agent
    ready_at: float | None = None      # next end of a wrap-up/delay of a not-busy available agent
    deferred: float | None = None      # next not_before of this worker's deferred members
    memo: QueueMemo | None = None      # round-robin's new memory, if it changed


def plan_queue(queue: Queue, candidates: list[Candidate], members: list[Member], mine: Collection[str],
               skip: Collection[str], now: float, memo: QueueMemo, levels: list[int]) -> QueueDecision:
    """The decision, without side effects. `candidates`: the queue's agents (at least every
    one not busy to capacity; counts come from the caller); `mine`: this worker's members
    it may claim for; `skip`: its members it must not (leaving, overflowing).

    Every worker orders all waiting members of the queue the same way (priority with aging);
    a member of another worker ahead of ours keeps the agent it would get, so fairness is
    global. A member no free agent can serve (skills, tier level) blocks nobody."""
    out = QueueDecision(levels=list(levels))
    ordered = order_members(queue, members, now)
    out.order = [m.id for m in ordered]
    deferred = [m.not_before for m in members
                if m.id in mine and m.state.value == "Waiting" and m.not_before > now]
    out.deferred = min(deferred) if deferred else None
    if not ordered:        # nobody waits: nothing to offer, and no rule asks for agent counts
        return out
    # one pass: who is free, which levels have someone free, the next end of a wrap-up
    free: list[Candidate] = []
    free_levels: set[int] = set()
    ready_at = None
    for c in candidates:
        a = c.agent
        if a.offerable(now):
            free.append(c)
            free_levels.add(c.level)
        elif a.status in OFFERABLE and a.ready_at > now and len(a.live_claims(now)) < a.capacity \
                and (ready_at is None or a.ready_at < ready_at):
            ready_at = a.ready_at
    out.free = len(free)
    out.free_levels = sorted(free_levels)
    out.ready_at = ready_at
    if not free:
        return out
    strategy = get_strategy(queue.strategy)
    taken: set[str] = set()
    budget = len(free)          # candidates are one per agent
    for member in ordered:
        if budget <= 0:
            break
        if member.id in skip:
            continue
        pool = [c for c in free if c.name not in taken] if taken else free
        if member.id not in mine:
            theirs = order_free(queue, member, pool, now, None, levels, limit=1)
            if theirs:
                taken.add(theirs[0].name)
                budget -= 1
            continue
        choice = order_free(queue, member, pool, now, (out.memo or memo) if strategy.remembers else None,
                            levels, limit=None if strategy.rings == "all" else 1)
        if not choice:
            continue
        want = strategy.ring_count(queue, now - member.joined_at, len(choice))
        picked = [c.agent for c in choice[:want]]
        taken.update(a.name for a in picked)
        budget -= len(picked)
        out.offers.append((member.id, picked))
        if strategy.remembers:
            out.memo = QueueMemo(choice[0].level, choice[0].position, choice[0].name)
    return out

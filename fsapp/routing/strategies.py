"""Agent-selection strategies: pure functions of (queue, member, candidates, now, memo)
returning the agents to offer, best first. No I/O, no clock, no randomness beyond a
seed derived from the member: the same inputs always give the same order.

Every strategy (like mod_callcenter's SQL) orders by tier level first, then by its own
rule, and ties are broken by agent name so the order is total. Which tier levels a
member may reach yet is decided before (`eligible_levels`), and last-agent affinity and
skills filtering wrap any strategy (`order_agents`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from fsapp.routing.model import AgentRecord, Member, Queue


@dataclass(frozen=True)
class Candidate:
    """A free agent as one queue sees it: the record plus its tier in that queue."""
    agent: AgentRecord
    level: int = 1
    position: int = 1
    # the agent's name, copied: read several times per candidate in every decision
    name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "name", self.agent.name)


@dataclass
class QueueMemo:
    """The little per-queue memory some strategies need (round-robin's last agent)."""
    rr_last_level: int = 0
    rr_last_position: int = 0
    rr_last_agent: str = ""


@dataclass(frozen=True)
class Strategy:
    """An agent ordering plus how the strategy rings: `rings` is "one" (the first agent of
    the order per offer), "all" (every free agent at once, the first to answer wins) or
    "progressively" (one, then one more every ring-progressively-delay seconds while the
    earlier ones keep ringing); `remembers` keeps the last agent offered per queue
    (round-robin's QueueMemo). Nothing outside this module tests a strategy's name."""
    name: str
    order: Callable[[Queue, Member, list[Candidate], float, QueueMemo], list[Candidate]]
    rings: str = "one"
    remembers: bool = False
    help: str = ""
    mod_callcenter: bool = True

    def ring_count(self, queue: Queue, waited: float, available: int) -> int:
        """How many of the ordered agents to claim and ring when an offer starts."""
        return available if self.rings == "all" else 1

    def widen_every(self, queue: Queue) -> float | None:
        """Seconds between adding one more ringing agent to an offer, or None."""
        return max(queue.ring_progressively_delay, 0.1) if self.rings == "progressively" else None

    def memo_for(self, queue: Queue, backend) -> QueueMemo | None:
        """The queue's memory (round-robin's last agent) when this strategy uses one."""
        return backend.get_memo(queue.name) if self.remembers else None

    def remember(self, queue: Queue, backend, offered: "Candidate") -> None:
        """Note the agent offered first, for the next order (round-robin)."""
        if self.remembers:
            backend.set_memo(queue.name, QueueMemo(offered.level, offered.position, offered.name))


def _by_level(c: Candidate):
    return (c.level,)


def _sorted(cands, key):
    return sorted(cands, key=lambda c: (c.level, *key(c), c.name))


def longest_idle(queue, member, cands, now, memo):
    # the key inline (idle_since without the calls): it runs for every free agent of
    # every decision, the simulator's hottest line
    return sorted(cands, key=lambda c: (c.level, max(c.agent.last_bridge_end, c.agent.last_status_change), c.name))


def _by_position(c: Candidate):
    return (c.level, c.position, c.name)


def ring_all(queue, member, cands, now, memo):
    return sorted(cands, key=_by_position)


def top_down(queue, member, cands, now, memo):
    return sorted(cands, key=_by_position)


def sequentially_by_agent_order(queue, member, cands, now, memo):
    return sorted(cands, key=_by_position)


def round_robin(queue, member, cands, now, memo):
    # Next position after the last one offered (within the same level ordering), wrapping.
    def key(c: Candidate):
        after_last = (c.level, c.position, c.name) > (memo.rr_last_level, memo.rr_last_position,
                                                       memo.rr_last_agent)
        return (0 if after_last else 1, c.level, c.position)
    return sorted(cands, key=lambda c: (*key(c), c.name))


def least_talk_time(queue, member, cands, now, memo):
    return _sorted(cands, lambda c: (c.agent.talk_time, c.agent.idle_since()))


def fewest_calls(queue, member, cands, now, memo):
    return _sorted(cands, lambda c: (c.agent.calls_answered, c.agent.idle_since()))


def random_order(queue, member, cands, now, memo):
    # Deterministic given the state: a hash of queue, member and agent orders each level,
    # so a member's retries see the same order, members see different ones, and the Redis
    # decision script computes the same order (redis.sha1hex) without a shared RNG.
    return sorted(cands, key=lambda c: (c.level, hashlib.sha1(f"{queue.name}|{member.id}|{c.name}".encode())
                                        .hexdigest(), c.name))


def skill_score(agent: AgentRecord, required: dict[str, int]) -> int | None:
    """Sum of the agent's levels in the required skills, or None if one is missing or
    below the minimum level."""
    total = 0
    for skill, minimum in required.items():
        level = agent.skills.get(skill)
        if level is None or level < minimum:
            return None
        total += level
    return total


def skills_based(queue, member, cands, now, memo):
    required = member.skills or queue.skills
    return _sorted(cands, lambda c: (-(skill_score(c.agent, required) or 0), c.agent.idle_since()))


STRATEGIES: dict[str, Strategy] = {s.name: s for s in [
    Strategy("longest-idle-agent", longest_idle, help="the agent idle longest (since the end of the last call or status change)"),
    Strategy("ring-all", ring_all, rings="all", help="ring every free agent at once; the first to answer gets the call"),
    Strategy("ring-progressively", ring_all, rings="progressively", help="ring one agent, add the next every ring_progressively_delay seconds, keep ringing the earlier ones"),
    Strategy("round-robin", round_robin, remembers=True, help="next agent by position after the one offered last in this queue"),
    Strategy("top-down", top_down, help="always from the first position down"),
    Strategy("agent-with-least-talk-time", least_talk_time, help="least total talk time"),
    Strategy("agent-with-fewest-calls", fewest_calls, help="fewest answered calls"),
    Strategy("sequentially-by-agent-order", sequentially_by_agent_order, help="by tier level, then position"),
    Strategy("random", random_order, help="random order within each level, seeded by the member so retries are stable"),
    Strategy("skills-based", skills_based, mod_callcenter=False, help="highest summed proficiency in the required skills, then longest idle"),
]}


# Strategies whose order is a plain sort key, independent of the member: the first agent
# is min() by it (the same agent sorted() would put first: the keys end with the name).
_KEYS = {
    "longest-idle-agent": lambda c: (c.level, max(c.agent.last_bridge_end, c.agent.last_status_change), c.name),
    "top-down": _by_position,
    "sequentially-by-agent-order": _by_position,
    "ring-progressively": _by_position,
    "agent-with-least-talk-time": lambda c: (c.level, c.agent.talk_time, c.agent.idle_since(), c.name),
    "agent-with-fewest-calls": lambda c: (c.level, c.agent.calls_answered, c.agent.idle_since(), c.name),
}


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(f"unknown strategy {name!r}; one of: {', '.join(STRATEGIES)}") from None


def eligible_levels(queue: Queue, all_levels: list[int], levels_with_free: set[int], waited: float) -> set[int]:
    """Tier levels a member who has waited `waited` seconds may be offered to
    (mod_callcenter's tier-rules). Without tier rules every level is eligible."""
    levels = sorted(set(all_levels))
    if not queue.tier_rules_apply or not levels:
        return set(levels)
    if queue.tier_rule_no_agent_no_wait:
        # A level with no free agent is skipped at once, not waited for.
        levels = [lv for lv in levels if lv in levels_with_free] or levels
    out = set()
    for index, level in enumerate(levels):
        if queue.tier_rule_wait_multiply_level:
            needed = index * queue.tier_rule_wait_second
        else:
            needed = queue.tier_rule_wait_second if index else 0.0
        if waited >= needed:
            out.add(level)
    return out


def next_level_at(queue: Queue, all_levels: list[int], levels_with_free: set[int], joined_at: float,
                  now: float) -> float | None:
    """When the member's next tier level opens (a timer for the dispatcher), or None."""
    if not queue.tier_rules_apply:
        return None
    waited = now - joined_at
    current = eligible_levels(queue, all_levels, levels_with_free, waited)
    if current >= set(all_levels):
        return None
    step = max(queue.tier_rule_wait_second, 0.001)
    k = int(waited // step) + 1
    return joined_at + k * step


def order_agents(queue: Queue, member: Member, candidates: list[Candidate], now: float,
                 memo: QueueMemo | None = None, all_levels: list[int] | None = None) -> list[Candidate]:
    """The full policy for one member: drop agents that cannot take the call (not
    offerable, lacking required skills, tier level not reached), order by the queue's
    strategy, then put the last agent first when affinity applies. Each agent appears
    at most once."""
    offerable = [c for c in candidates if c.agent.offerable(now)]
    return order_free(queue, member, offerable, now, memo,
                      all_levels if all_levels is not None else [c.level for c in candidates])


def order_free(queue: Queue, member: Member, free: list[Candidate], now: float,
               memo: QueueMemo | None, all_levels: list[int], limit: int | None = None) -> list[Candidate]:
    """order_agents for candidates already known to be offerable now (a decision has just
    checked them). With `limit`, only that many first agents are returned, found without
    sorting them all when the strategy orders by a plain key (the decision's hot path)."""
    memo = memo or QueueMemo()
    strategy = get_strategy(queue.strategy)
    seen: set[str] = set()
    pool: list[Candidate] = []
    required = member.skills or queue.skills
    member_id = member.id
    for c in free:
        agent = c.agent
        if member_id in agent.claims:
            continue
        if required and skill_score(agent, required) is None:
            continue
        if c.name not in seen:
            seen.add(c.name)
            pool.append(c)
    if queue.tier_rules_apply:      # without tier rules every level is eligible
        allowed = eligible_levels(queue, all_levels, {c.level for c in pool}, now - member.joined_at)
        pool = [c for c in pool if c.level in allowed]
    affinity = bool(queue.affinity_days and member.last_agent and
                    now - member.last_agent_at <= queue.affinity_days * 86400)
    if limit == 1 and not affinity and strategy.name in _KEYS and pool:
        return [min(pool, key=_KEYS[strategy.name])]
    ordered = strategy.order(queue, member, pool, now, memo)
    if affinity:
        for i, c in enumerate(ordered):
            if c.name == member.last_agent:
                ordered = [c] + ordered[:i] + ordered[i + 1:]
                break
    return ordered if limit is None else ordered[:limit]


def member_score(queue: Queue, member: Member, now: float) -> float:
    """Priority with aging: each priority step is worth `priority_weight` seconds of
    waiting, so a low-priority caller overtakes a higher one after waiting long enough
    and is never starved."""
    return member.priority * queue.priority_weight + max(0.0, now - member.joined_at) * queue.aging_per_second


def order_members(queue: Queue, members: list[Member], now: float) -> list[Member]:
    """Waiting members best first: score, then arrival, then id (a total order)."""
    from fsapp.routing.model import MemberState
    waiting = [m for m in members if m.state == MemberState.WAITING and m.not_before <= now]
    return sorted(waiting, key=lambda m: (-member_score(queue, m, now), m.joined_at, m.id))

"""Property tests: every strategy is a pure, deterministic, total order over the free,
eligible agents, never listing one agent twice; plus each strategy's own rule."""
import itertools

import pytest
from hypothesis import given, settings, strategies as st

from fsapp.routing.model import AgentRecord, AgentStatus, Claim, Member, MemberState, Queue
from fsapp.routing.strategies import (STRATEGIES, Candidate, QueueMemo, eligible_levels, member_score,
                                      next_level_at, order_agents, order_members)

NOW = 10_000.0

agent_st = st.builds(
    lambda i, status, ready, bridge, change, talk, calls, skill, claimed: AgentRecord(
        name=f"a{i}", status=status, ready_at=ready, last_bridge_end=bridge, last_status_change=change,
        talk_time=talk, calls_answered=calls, skills={"en": skill} if skill else {},
        claims={"other": Claim("other", "w", "talking", NOW + 5)} if claimed else {}),
    st.integers(0, 30),
    st.sampled_from(list(AgentStatus)),
    st.sampled_from([0.0, NOW - 1, NOW + 1]),
    st.floats(0, NOW, allow_nan=False),
    st.floats(0, NOW, allow_nan=False),
    st.floats(0, 5000, allow_nan=False),
    st.integers(0, 50),
    st.integers(0, 10),
    st.booleans(),
)
cands_st = st.lists(st.builds(Candidate, agent_st, st.integers(1, 3), st.integers(1, 5)), max_size=25,
                    unique_by=lambda c: c.name)  # a snapshot has one tier row per agent
member_st = st.builds(Member, id=st.text("abcdef0123", min_size=1, max_size=6), queue=st.just("q"),
                      joined_at=st.floats(NOW - 2000, NOW, allow_nan=False),
                      skills=st.sampled_from([{}, {"en": 3}, {"en": 8}]))


@pytest.mark.parametrize("name", sorted(STRATEGIES))
@settings(max_examples=60, deadline=None)
@given(cands=cands_st, member=member_st, rr=st.integers(0, 5))
def test_strategy_invariants(name, cands, member, rr):
    queue = Queue("q", strategy=name)
    memo = QueueMemo(1, rr, "")
    first = order_agents(queue, member, cands, NOW, memo)
    names = [c.name for c in first]
    assert len(names) == len(set(names)), "an agent offered twice"
    for c in first:
        assert c.agent.offerable(NOW), "offered an agent that is not free"
        assert member.id not in c.agent.claims
        if member.skills:
            assert c.agent.skills.get("en", 0) >= member.skills["en"]
    # every free, skilled agent is listed (no agent is left out)
    firsts = {c.name: c for c in cands}
    expected = {n for n, c in firsts.items() if c.agent.offerable(NOW)
                and (not member.skills or c.agent.skills.get("en", 0) >= member.skills["en"])}
    assert set(names) == expected
    # deterministic and independent of the input order
    again = order_agents(queue, member, list(reversed(list(firsts.values()))), NOW, memo)
    assert [c.name for c in again] == names
    # tier levels are never inverted
    assert [c.level for c in first] == sorted(c.level for c in first) or name == "round-robin"


def test_duplicate_rows_are_offered_once():
    dup = [Candidate(AgentRecord("a", status=AgentStatus.AVAILABLE), 1, 1),
           Candidate(AgentRecord("a", status=AgentStatus.AVAILABLE), 2, 1)]
    for name in STRATEGIES:
        assert [c.name for c in order_agents(Queue("q", strategy=name), Member("m", "q"), dup, NOW)] == ["a"]


def rec(name, **kw):
    return AgentRecord(name=name, status=AgentStatus.AVAILABLE, **kw)


def test_longest_idle_picks_oldest_end_of_call():
    cands = [Candidate(rec("a", last_bridge_end=50)), Candidate(rec("b", last_bridge_end=10)),
             Candidate(rec("c", last_bridge_end=30))]
    order = order_agents(Queue("q"), Member("m", "q"), cands, NOW)
    assert [c.name for c in order] == ["b", "c", "a"]


def test_least_talk_time_and_fewest_calls():
    cands = [Candidate(rec("a", talk_time=5, calls_answered=9)), Candidate(rec("b", talk_time=9, calls_answered=1))]
    assert order_agents(Queue("q", strategy="agent-with-least-talk-time"), Member("m", "q"), cands, NOW)[0].name == "a"
    assert order_agents(Queue("q", strategy="agent-with-fewest-calls"), Member("m", "q"), cands, NOW)[0].name == "b"


def test_round_robin_continues_after_last_and_wraps():
    cands = [Candidate(rec(n), 1, p) for p, n in enumerate("abcd", start=1)]
    q = Queue("q", strategy="round-robin")
    assert [c.name for c in order_agents(q, Member("m", "q"), cands, NOW, QueueMemo(1, 2, "b"))] == list("cdab")
    assert [c.name for c in order_agents(q, Member("m", "q"), cands, NOW, QueueMemo(1, 4, "d"))] == list("abcd")


def test_top_down_and_levels():
    cands = [Candidate(rec("x"), 2, 1), Candidate(rec("b"), 1, 2), Candidate(rec("a"), 1, 1)]
    q = Queue("q", strategy="top-down")
    assert [c.name for c in order_agents(q, Member("m", "q"), cands, NOW)] == ["a", "b", "x"]


def test_random_is_stable_per_member_and_varies_between_members():
    cands = [Candidate(rec(f"a{i}")) for i in range(12)]
    q = Queue("q", strategy="random")
    orders = {tuple(c.name for c in order_agents(q, Member(f"m{i}", "q"), cands, NOW)) for i in range(10)}
    assert len(orders) > 1
    m = Member("m1", "q")
    assert order_agents(q, m, cands, NOW) == order_agents(q, m, cands, NOW)


def test_skills_based_best_proficiency_then_longest_idle():
    cands = [Candidate(rec("novice", skills={"cantonese": 3, "billing": 3}, last_bridge_end=1)),
             Candidate(rec("expert", skills={"cantonese": 9, "billing": 7}, last_bridge_end=90)),
             Candidate(rec("expert2", skills={"cantonese": 9, "billing": 7}, last_bridge_end=80)),
             Candidate(rec("none", skills={"billing": 9}))]
    q = Queue("q", strategy="skills-based")
    m = Member("m", "q", skills={"cantonese": 2, "billing": 1})
    assert [c.name for c in order_agents(q, m, cands, NOW)] == ["expert2", "expert", "novice"]


def test_affinity_puts_last_agent_first_within_window():
    cands = [Candidate(rec("a", last_bridge_end=1)), Candidate(rec("b", last_bridge_end=99))]
    q = Queue("q", affinity_days=7)
    fresh = Member("m", "q", last_agent="b", last_agent_at=NOW - 86400)
    stale = Member("m", "q", last_agent="b", last_agent_at=NOW - 8 * 86400)
    assert [c.name for c in order_agents(q, fresh, cands, NOW)] == ["b", "a"]
    assert [c.name for c in order_agents(q, stale, cands, NOW)] == ["a", "b"]


def test_tier_rules_open_levels_with_time():
    q = Queue("q", tier_rules_apply=True, tier_rule_wait_second=30, tier_rule_wait_multiply_level=True)
    assert eligible_levels(q, [1, 2, 3], {1, 2, 3}, 0) == {1}
    assert eligible_levels(q, [1, 2, 3], {1, 2, 3}, 30) == {1, 2}
    assert eligible_levels(q, [1, 2, 3], {1, 2, 3}, 60) == {1, 2, 3}
    flat = Queue("q", tier_rules_apply=True, tier_rule_wait_second=30, tier_rule_wait_multiply_level=False)
    assert eligible_levels(flat, [1, 2, 3], {1, 2, 3}, 30) == {1, 2, 3}
    skip = Queue("q", tier_rules_apply=True, tier_rule_wait_second=30, tier_rule_no_agent_no_wait=True)
    assert eligible_levels(skip, [1, 2, 3], {2, 3}, 0) == {2}
    assert next_level_at(q, [1, 2, 3], {1, 2, 3}, 100.0, 110.0) == 130.0
    assert next_level_at(q, [1, 2, 3], {1, 2, 3}, 100.0, 170.0) is None
    cands = [Candidate(rec("l1"), 1, 1), Candidate(rec("l2"), 2, 1)]
    busy_l1 = [Candidate(rec("l1", ready_at=NOW + 100), 1, 1), Candidate(rec("l2"), 2, 1)]
    m = Member("m", "q", joined_at=NOW - 10)
    assert [c.name for c in order_agents(q, m, cands, NOW)] == ["l1"]
    assert order_agents(q, m, busy_l1, NOW) == []          # level 2 not yet open
    assert [c.name for c in order_agents(q, m, busy_l1, NOW + 25)] == ["l2"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.floats(0, 1000, allow_nan=False)), min_size=1, max_size=20))
def test_member_order_priority_with_aging_never_starves(specs):
    q = Queue("q", priority_weight=60, aging_per_second=1)
    members = [Member(f"m{i}", "q", priority=p, joined_at=j) for i, (p, j) in enumerate(specs)]
    ordered = order_members(q, members, 2000.0)
    assert sorted(m.id for m in ordered) == sorted(m.id for m in members)
    scores = [member_score(q, m, 2000.0) for m in ordered]
    assert scores == sorted(scores, reverse=True)
    # aging bound: a member that joined more than 60*Δpriority s earlier is ahead of a higher priority one
    pos = {m.id: i for i, m in enumerate(ordered)}
    for a, b in itertools.permutations(members, 2):
        if b.priority > a.priority and b.joined_at - a.joined_at > 60 * (b.priority - a.priority):
            assert pos[a.id] < pos[b.id]


def test_order_members_skips_non_waiting():
    q = Queue("q")
    ms = [Member("a", "q", joined_at=1), Member("b", "q", joined_at=2, state=MemberState.TRYING)]
    assert [m.id for m in order_members(q, ms, 10)] == ["a"]


def test_no_strategy_name_is_tested_outside_strategies_py():
    """Strategies own their ringing (issue 13): how many agents ring, widening, the
    round-robin memory are Strategy attributes, so no other routing module compares a
    queue's strategy with a name (the emulator's own mod_callcenter model, fsapp/sim, is
    independent of fsapp.routing by design)."""
    import ast
    from pathlib import Path

    import fsapp.routing
    from fsapp.routing.strategies import STRATEGIES
    offenders = []
    for path in sorted(Path(fsapp.routing.__file__).parent.glob("*.py")):
        if path.name == "strategies.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Constant) and sub.value in STRATEGIES:
                        offenders.append(f"{path.name}:{node.lineno}: {sub.value!r}")
    assert offenders == []


def test_strategies_say_how_they_ring():
    from fsapp.routing.model import Queue
    from fsapp.routing.strategies import STRATEGIES
    q = Queue("q", ring_progressively_delay=7)
    assert {n for n, s in STRATEGIES.items() if s.rings != "one"} == {"ring-all", "ring-progressively"}
    assert STRATEGIES["ring-all"].ring_count(q, 0.0, 5) == 5
    assert STRATEGIES["ring-progressively"].ring_count(q, 0.0, 5) == 1
    assert STRATEGIES["ring-progressively"].widen_every(q) == 7
    assert STRATEGIES["top-down"].widen_every(q) is None
    assert [n for n, s in STRATEGIES.items() if s.remembers] == ["round-robin"]

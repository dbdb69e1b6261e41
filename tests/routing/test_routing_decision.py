"""The dispatch decision is one backend call, and both backends decide identically: the
Redis Lua script (DECIDE_LUA) against the memory backend's plan_queue, on the same
randomly generated states (every strategy, skills, tier rules, priorities with aging,
affinity, capacities, live and lapsed claims, wrap-ups, deferred members, other workers'
members), two decisions in a row so the first one's claims and round-robin memory count."""
import random

import pytest

from fsapp.routing.backend import MemoryBackend
from fsapp.routing.model import AgentConfig, AgentStatus, Member, MemberState, OfferResult, Queue, Tier
from fsapp.routing.strategies import STRATEGIES, QueueMemo

NOW = 100_000.5
ME, OTHER = "me", "other"
SEEDS = 150


def scenario(seed: int):
    """(queue, agents [(config, status, changes)], tiers, members, claims) from a seed.
    Times have at most 3 decimals: Redis stores an agent's times as %.3f."""
    rng = random.Random(seed)
    strategy = rng.choice(sorted(STRATEGIES))
    queue = Queue("q", strategy=strategy, priority_weight=rng.choice([0.0, 60.0]),
                  aging_per_second=rng.choice([0.0, 1.0, 2.5]),
                  skills=rng.choice([{}, {}, {}, {"cantonese": 3}]),
                  tier_rules_apply=rng.random() < 0.3, tier_rule_wait_second=rng.choice([10.0, 60.0]),
                  tier_rule_wait_multiply_level=rng.random() < 0.5,
                  tier_rule_no_agent_no_wait=rng.random() < 0.5,
                  affinity_days=rng.choice([0.0, 1.0]))
    agents, tiers = [], []
    for i in range(rng.choice([0, rng.randint(2, 12), rng.randint(2, 12)])):
        name = f"a{i}"
        skills = {s: rng.randint(1, 9) for s in ("cantonese", "billing") if rng.random() < 0.6}
        cfg = AgentConfig(name, contact=f"user/{name}", skills=skills, capacity=rng.choice([1, 1, 2]),
                          wrap_up_time=rng.choice([0.0, 30.0]))
        status = rng.choice([AgentStatus.AVAILABLE] * 4 + [AgentStatus.AVAILABLE_ON_DEMAND, AgentStatus.ON_BREAK,
                                                          AgentStatus.LOGGED_OUT])
        agents.append((cfg, status, NOW - rng.randint(0, 5000) + 0.25 * rng.randint(0, 3),
                       rng.choice([0.0, 0.0, NOW - 40, NOW + 12.5]), rng.randint(0, 3)))
        if rng.random() < 0.9:
            tiers.append(Tier("q", name, level=rng.choice([1, 1, 1, 2, 3]), position=rng.randint(1, 5)))
    members = []
    for i in range(rng.choice([0, rng.randint(1, 8), rng.randint(1, 8)])):
        last = rng.choice(["", f"a{rng.randint(0, 12)}"])
        members.append((Member(f"m{i}", "q", caller_id=f"1380000{i}", joined_at=NOW - rng.randint(0, 200) - 0.125,
                               priority=rng.choice([0, 0, 5]),
                               skills=rng.choice([{}, {}, {}, {"billing": 2}, {"cantonese": 1, "billing": 1}]),
                               last_agent=last, last_agent_at=NOW - 100 if last else 0.0,
                               not_before=rng.choice([0.0, 0.0, 0.0, NOW + 30])),
                        rng.choice([ME, ME, ME, OTHER, "skip"])))
    claims = []
    for cfg, *_ in agents:
        if rng.random() < 0.25:       # a call elsewhere; sometimes a lapsed lease
            claims.append((cfg.name, f"x-{cfg.name}", rng.choice([60.0, -5.0])))
    return queue, agents, tiers, members, claims


def load(backend, queue, agents, tiers, members, claims):
    for cfg, status, changed, ready_at, answered in agents:
        backend.put_agent(cfg, changed)
        backend.set_status(cfg.name, status, changed)
        if ready_at or answered:     # a finished call: counters and wrap-up as release leaves them
            backend.restore_claim(cfg.name, "old", OTHER, "talking", 600, NOW - 500)
            backend.release(cfg.name, "old", OTHER, OfferResult.COMPLETED, max(ready_at - cfg.wrap_up_time, 1.0),
                            talk_time=answered * 30.5)
    for t in tiers:
        backend.add_tier(t)
    for agent, member_id, lease in claims:
        backend.restore_claim(agent, member_id, OTHER, "talking", lease, NOW)
    for m, owner in members:
        backend.add_member(Member(**{**m.__dict__, "owner": ME if owner == "skip" else owner}))


def decide(backend, queue, members):
    mine = {m.id for m, owner in members if owner == ME}
    skip = {m.id for m, owner in members if owner == "skip"}
    return backend.decide(queue, mine, skip, ME, 30.0, NOW)


def summary(decision):
    return {"order": decision.order, "offers": [(m, [a.name for a in agents]) for m, agents in decision.offers],
            "logged_in": decision.logged_in, "free": decision.free, "tiered": decision.tiered,
            "last": decision.last_status_change if not decision.logged_in else None,
            "levels": decision.levels, "free_levels": decision.free_levels, "ready_at": decision.ready_at,
            "deferred": decision.deferred, "memo": decision.memo}


def state(backend, agents, members):
    return ({a.name: sorted((m, c.owner, c.phase) for m, c in a.claims.items() if c.expires > NOW)
             for a in backend.agents()},
            {m.id: (backend.get_member(m.id).state, backend.get_member(m.id).serving_agent) for m, _ in members},
            backend.get_memo("q"))


@pytest.mark.parametrize("seed", range(SEEDS))
def test_memory_and_redis_decide_identically(seed, redis_backend):
    queue, agents, tiers, members, claims = scenario(seed)
    memory = MemoryBackend()
    for backend in (memory, redis_backend):
        load(backend, queue, agents, tiers, members, claims)
    for round_ in range(2):
        got = {name: summary(decide(b, queue, members)) for name, b in (("memory", memory), ("redis", redis_backend))}
        assert got["memory"] == got["redis"], (queue.strategy, round_)
        assert state(memory, agents, members) == state(redis_backend, agents, members)


def test_the_scenarios_exercise_what_they_claim_to():
    """The generated states do contain offers for every strategy, several agents rung at
    once, and members held back for another worker's caller (so the comparison above
    compares decisions, not empty results)."""
    strategies, ring_all, theirs_first = set(), False, False
    for seed in range(SEEDS):
        queue, agents, tiers, members, claims = scenario(seed)
        backend = MemoryBackend()
        load(backend, queue, agents, tiers, members, claims)
        d = decide(backend, queue, members)
        if d.offers:
            strategies.add(queue.strategy)
            ring_all |= any(len(agents) > 1 for _, agents in d.offers)
            owners = dict((m.id, o) for m, o in members)
            theirs_first |= bool(d.order) and owners[d.order[0]] == OTHER
    assert ring_all and theirs_first
    assert strategies == set(STRATEGIES), strategies


def test_a_decision_is_one_redis_call(redis_backend):
    """Order, pick and claim for three members: one command reaches Redis (EVALSHA)."""
    queue = Queue("q", strategy="longest-idle-agent")
    for i in range(5):
        redis_backend.put_agent(AgentConfig(f"a{i}", status=AgentStatus.AVAILABLE), NOW - 100 + i)
        redis_backend.add_tier(Tier("q", f"a{i}"))
    for i in range(3):
        redis_backend.add_member(Member(f"m{i}", "q", joined_at=NOW - 10 + i, owner=ME))
    redis_backend.decide(queue, set(), set(), ME, 30.0, NOW)      # the script is loaded once
    monitor = redis_backend.r.connection_pool.get_connection("MONITOR")
    try:
        monitor.send_command("MONITOR")
        assert monitor.read_response() in (b"OK", "OK")
        d = redis_backend.decide(queue, {"m0", "m1", "m2"}, set(), ME, 30.0, NOW)
        redis_backend.r.echo(redis_backend.p + "end")               # the end marker
        ours = []      # the shared Redis serves others too: only commands on our keys count
        while True:
            line = monitor.read_response()
            line = line.decode() if isinstance(line, bytes) else line
            if '"ECHO"' in line and redis_backend.p + "end" in line:
                break
            if redis_backend.p in line and "lua]" not in line:
                ours.append(line)
    finally:
        monitor.disconnect()
    assert len(ours) == 1 and '"EVALSHA"' in ours[0], ours
    assert [(m, [a.name for a in agents]) for m, agents in d.offers] == [("m0", ["a0"]), ("m1", ["a1"]), ("m2", ["a2"])]
    assert all(redis_backend.get_member(f"m{i}").state == MemberState.TRYING for i in range(3))
    assert redis_backend.get_memo("q") == QueueMemo()


def test_member_who_overflows_in_the_same_pass_releases_the_agent_decided_for_it(backend):
    """The decision claims before the overflow rules run on its counts; a member whose rule
    holds gives the agent back at once (no penalty for the agent)."""
    from fsapp.routing.config import RoutingConfig
    from fsapp.routing.dispatcher import Dispatcher
    from fsapp.routing.model import OverflowRule
    from fsapp.routing.policy import Decision
    q = Queue("q", overflow=[OverflowRule("after", 60, "flow", "mailbox")])
    backend.put_agent(AgentConfig("a1", status=AgentStatus.AVAILABLE), NOW - 50)
    backend.add_tier(Tier("q", "a1"))
    d = Dispatcher(backend, RoutingConfig(queues={"q": q}), ME, clock=lambda: NOW)
    ticket = d.join(Member("m1", "q", joined_at=NOW - 61))
    d.dispatch_once()
    got = ticket.wait(0)
    assert isinstance(got, Decision) and got.target == "mailbox"
    assert backend.get_agent("a1").live_claims(NOW) == [] and backend.get_agent("a1").offerable(NOW)

"""Routing benchmark: 5,000 agents, 200 queues, in memory and on Redis.

    .venv/bin/python bench/routing.py [--redis redis://127.0.0.1:6390/0] [--agents 5000] [--queues 200]

Measures, on each backend:
  * decision time: one member joins a queue, the dispatcher orders the queue's free
    agents by its strategy and claims one atomically (then the agent is released so
    the state stays the same for the next round); decisions per second.
  * offer latency: all of a queue's agents are busy, a member waits; an agent becomes
    available (its release publishes an event) and we time until the waiting member
    holds that agent's claim, with the dispatcher loop running as in production.
and, in the same run, a straightforward baseline in the style of mod_callcenter: the
same selection as an ORDER BY query on SQLite plus an UPDATE to take the agent, and its
100 ms polling loop, for a ratio (the decision ratio for the memory backend only: both
in-process; Redis decisions have no like-for-like baseline here).
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import random  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent  # noqa: E402

from fsapp.routing.backend import MemoryBackend  # noqa: E402
from fsapp.routing.config import RoutingConfig  # noqa: E402
from fsapp.routing.dispatcher import Assignment, Dispatcher  # noqa: E402
from fsapp.routing.model import AgentConfig, AgentStatus, Member, OfferResult, Queue, Tier  # noqa: E402

QUEUES_PER_AGENT = 2


def build(backend, n_agents: int, n_queues: int, seed: int = 7) -> RoutingConfig:
    rng = random.Random(seed)
    cfg = RoutingConfig(queues={f"q{i}": Queue(f"q{i}", strategy="longest-idle-agent")
                                for i in range(n_queues)})
    now = time.time()
    for i in range(n_agents):
        name = f"a{i}"
        backend.put_agent(AgentConfig(name, contact=f"user/{name}", wrap_up_time=0.0,
                                      status=AgentStatus.AVAILABLE), now - rng.uniform(0, 3600))
        for k in range(QUEUES_PER_AGENT):
            q = (i + k * (n_queues // 2 + 1)) % n_queues
            t = Tier(f"q{q}", name, level=1 + (k % 2), position=i)
            backend.add_tier(t)
            cfg.tiers.append(t)
    return cfg


def bench_decisions(backend, cfg, rounds: int) -> list[float]:
    d = Dispatcher(backend, cfg, "bench", lease=30.0)
    names = sorted(cfg.queues)
    times = []
    rng = random.Random(1)
    for i in range(rounds):
        q = rng.choice(names)
        member = Member(f"m{i}", q, joined_at=time.time())
        ticket = d.join(member)
        t0 = time.perf_counter()
        d._dispatch_queue(cfg.queues[q], time.time())
        times.append(time.perf_counter() - t0)
        got = ticket.wait(0)
        assert isinstance(got, Assignment), f"no agent for {q}"
        agent = got.agents[0].name
        backend.release(agent, member.id, "bench", OfferResult.CANCELLED, time.time())
        d.leave(member.id)
    return times


def bench_latency(backend, cfg, rounds: int) -> list[float]:
    """Agent becomes available -> the waiting member holds its claim (dispatcher running)."""
    queue = "q0"
    agents = [t.agent for t in cfg.tiers if t.queue == queue]
    for a in agents:
        backend.set_status(a, AgentStatus.ON_BREAK, time.time())
    d = Dispatcher(backend, cfg, "bench-lat", lease=30.0).start()
    gevent.sleep(0.2)
    latencies = []
    try:
        for i in range(rounds):
            ticket = d.join(Member(f"lat{i}", queue, joined_at=time.time()))
            gevent.sleep(0.005)                 # the member is waiting, nobody free
            agent = agents[i % len(agents)]
            t0 = time.perf_counter()
            backend.set_status(agent, AgentStatus.AVAILABLE, time.time())
            got = ticket.wait(5.0)
            latencies.append(time.perf_counter() - t0)
            assert isinstance(got, Assignment) and got.agents[0].name == agent
            backend.release(agent, f"lat{i}", "bench-lat", OfferResult.CANCELLED, time.time())
            backend.set_status(agent, AgentStatus.ON_BREAK, time.time())
            d.leave(f"lat{i}")
    finally:
        d.stop()
        for a in agents:
            backend.set_status(a, AgentStatus.AVAILABLE, time.time())
    return latencies


def baseline_sql(n_agents: int, n_queues: int, rounds: int) -> list[float]:
    """mod_callcenter-style: one SQL query orders the candidates, one UPDATE takes the agent."""
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.executescript("""
        CREATE TABLE agents (name TEXT PRIMARY KEY, status TEXT, state TEXT, ready_time REAL,
                             last_bridge_end REAL, busy INTEGER DEFAULT 0);
        CREATE TABLE tiers (queue TEXT, agent TEXT, level INTEGER, position INTEGER);
        CREATE INDEX tiers_queue ON tiers(queue);
    """)
    rng = random.Random(7)
    now = time.time()
    db.executemany("INSERT INTO agents VALUES (?, 'Available', 'Waiting', 0, ?, 0)",
                   [(f"a{i}", now - rng.uniform(0, 3600)) for i in range(n_agents)])
    rows = []
    for i in range(n_agents):
        for k in range(QUEUES_PER_AGENT):
            q = (i + k * (n_queues // 2 + 1)) % n_queues
            rows.append((f"q{q}", f"a{i}", 1 + (k % 2), i))
    db.executemany("INSERT INTO tiers VALUES (?, ?, ?, ?)", rows)
    times = []
    for _ in range(rounds):
        q = f"q{rng.randrange(n_queues)}"
        t0 = time.perf_counter()
        row = db.execute("""
            SELECT agents.name FROM agents JOIN tiers ON tiers.agent = agents.name
            WHERE tiers.queue = ? AND agents.status IN ('Available', 'Available (On Demand)')
              AND agents.state = 'Waiting' AND agents.ready_time <= ? AND agents.busy = 0
            ORDER BY tiers.level, agents.last_bridge_end LIMIT 1""", (q, time.time())).fetchone()
        db.execute("UPDATE agents SET busy = 1, state = 'Receiving' WHERE name = ? AND busy = 0", (row[0],))
        times.append(time.perf_counter() - t0)
        db.execute("UPDATE agents SET busy = 0, state = 'Waiting' WHERE name = ?", (row[0],))
    return times


def baseline_poll_latency(rounds: int, poll_s: float = 0.1) -> list[float]:
    """mod_callcenter's dispatch: a loop runs the member/agent query every 100 ms. Time
    from an agent becoming available (UPDATE) to the poll that picks it."""
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    db.executescript("""
        CREATE TABLE agents (name TEXT PRIMARY KEY, status TEXT, last_bridge_end REAL);
        CREATE TABLE members (uuid TEXT, queue TEXT, joined REAL, state TEXT);""")
    db.executemany("INSERT INTO agents VALUES (?, 'On Break', 0)", [(f"a{i}",) for i in range(50)])
    picked: dict[str, float] = {}

    def poller():
        while True:
            row = db.execute("""SELECT members.uuid, agents.name FROM members, agents
                                WHERE members.state = 'Waiting' AND agents.status = 'Available'
                                ORDER BY members.joined, agents.last_bridge_end LIMIT 1""").fetchone()
            if row:
                picked[row[0]] = time.perf_counter()
                db.execute("UPDATE members SET state = 'Trying' WHERE uuid = ?", (row[0],))
                db.execute("UPDATE agents SET status = 'On Break' WHERE name = ?", (row[1],))
            gevent.sleep(poll_s)

    loop = gevent.spawn(poller)
    rng = random.Random(3)
    latencies = []
    for i in range(rounds):
        db.execute("INSERT INTO members VALUES (?, 'q0', ?, 'Waiting')", (f"m{i}", time.time()))
        gevent.sleep(rng.uniform(0, poll_s))      # agents free up at random moments
        t0 = time.perf_counter()
        db.execute("UPDATE agents SET status = 'Available' WHERE name = ?", (f"a{i % 50}",))
        while f"m{i}" not in picked:
            gevent.sleep(0.001)
        latencies.append(picked[f"m{i}"] - t0)
    loop.kill()
    return latencies


def fmt(times: list[float], rate: bool = True) -> str:
    ms = sorted(t * 1000 for t in times)
    text = f"median {statistics.median(ms):.3f} ms, p95 {ms[int(len(ms) * 0.95) - 1]:.3f} ms"
    return text + (f", {len(ms) / (sum(ms) / 1000):,.0f} decisions/s" if rate else "")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=5000)
    ap.add_argument("--queues", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--latency-rounds", type=int, default=200)
    ap.add_argument("--poll-rounds", type=int, default=50)
    ap.add_argument("--redis", default=None, help="Redis URL (default: $FSAPP_TEST_REDIS_URL; none = memory only)")
    args = ap.parse_args(argv)
    import os
    redis_url = args.redis or os.environ.get("FSAPP_TEST_REDIS_URL")
    print(f"routing bench: {args.agents} agents, {args.queues} queues, "
          f"{args.agents * QUEUES_PER_AGENT // args.queues} agents per queue")
    base = baseline_sql(args.agents, args.queues, args.rounds)
    base_median = statistics.median(base)
    print(f"  baseline SQL select+claim (mod_callcenter style): {fmt(base)}")
    poll = baseline_poll_latency(args.poll_rounds)
    poll_median = statistics.median(poll)
    print(f"  baseline agent available -> offered (100 ms poll loop): {fmt(poll, rate=False)}")
    backends = [("memory", MemoryBackend())]
    if redis_url:
        from fsapp.routing.redis_backend import RedisBackend
        backends.append(("redis", RedisBackend.from_url(redis_url, prefix=f"bench:{uuid.uuid4().hex[:8]}:")))
    for label, backend in backends:
        t0 = time.perf_counter()
        cfg = build(backend, args.agents, args.queues)
        print(f"[{label}] setup {time.perf_counter() - t0:.1f} s")
        dec = bench_decisions(backend, cfg, args.rounds)
        # Like with like only: the baseline is in-process SQLite, so only the in-process
        # backend gets a ratio; Redis adds a TCP round trip per step that SQLite does not.
        ratio = (f"; ratio to the in-process SQL baseline {statistics.median(dec) / base_median:.2f}x"
                 if label == "memory" else "; no ratio (the SQL baseline is in-process, Redis is over TCP)")
        print(f"[{label}] decision (order {args.agents * QUEUES_PER_AGENT // args.queues} agents + atomic claim): "
              f"{fmt(dec)}{ratio}")
        lat = bench_latency(backend, cfg, args.latency_rounds)
        print(f"[{label}] agent available -> offered: {fmt(lat, rate=False)} (event-driven); "
              f"baseline/fsapp {poll_median / statistics.median(lat):.0f}x")
        if label == "redis":
            backend.delete_all()
            backend.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

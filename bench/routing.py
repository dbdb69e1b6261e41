"""Routing benchmark: 5,000 agents, 200 queues; fsapp's decision on both backends against
mod_callcenter's own selection on SQLite, in CPU time.

    .venv/bin/python bench/routing.py [--agents 5000] [--queues 200] [--rounds 1000] [--repeat 3]

Sides, each run `--repeat` times in alternating order (A B C, C B A, ...), each run printing
p50/p99 per decision; the figures are min / median / max over the runs:

  decision   one member waits in a queue of 50 free agents (each agent in two queues, tier
             levels 1 and 2); one decision orders the waiting members, picks the agent by
             the queue's strategy (longest-idle) and claims it. fsapp: Dispatcher's one
             backend call (`decide`): memory, and Redis (one EVALSHA). mod_callcenter: its
             real dispatch SQL (below) on SQLite.
  free -> offered   every agent of the queue busy, a member waits; an agent becomes
             Available; until the member holds that agent. fsapp: the event-driven
             Dispatcher loop as in production. mod_callcenter: its 100 ms dispatch loop.

CPU time, so a loaded machine does not decide the result: the bench process's CPU
(time.process_time) plus, for Redis, the CPU time of a private redis-server this bench
starts and stops (its threads' schedstat; the shared server serves others). Wall-clock
figures are printed beside, for reference.

The mod_callcenter side follows mod_callcenter.c (FreeSWITCH): its tables (members,
agents, tiers, as the module creates them, no extra index) in a SQLite file as the module
keeps by default; the agent dispatch thread's member query (score = now - joined_epoch +
base_score + skill_score, states Waiting/Abandoned/ring-all Trying, ORDER BY score DESC)
every 100 ms; per member the agents query of longest-idle-agent (agents LEFT JOIN tiers,
status Available/On Break/Available (On Demand), ORDER BY level, agents.last_offered_call,
position); the agents callback's checks on each row (tier state Ready/No Answer, agent
state Waiting, wrap-up over, ready_time, not On Break, tier rules); and its claim: UPDATE
members (serving agent, Trying) WHERE still Waiting, the SELECT count(*) that checks the
race was won, UPDATE agents state Receiving, UPDATE tiers Offering / Standby.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gevent  # noqa: E402

from fsapp.routing.backend import MemoryBackend  # noqa: E402
from fsapp.routing.config import RoutingConfig  # noqa: E402
from fsapp.routing.dispatcher import Assignment, Dispatcher  # noqa: E402
from fsapp.routing.model import AgentConfig, AgentStatus, Member, OfferResult, Queue, Tier  # noqa: E402

QUEUES_PER_AGENT = 2
OWNER = "bench"


def tiers_of(n_agents: int, n_queues: int):
    for i in range(n_agents):
        for k in range(QUEUES_PER_AGENT):
            yield f"q{(i + k * (n_queues // 2 + 1)) % n_queues}", f"a{i}", 1 + (k % 2), i


def build(backend, n_agents: int, n_queues: int, now: float) -> RoutingConfig:
    rng = random.Random(7)
    cfg = RoutingConfig(queues={f"q{i}": Queue(f"q{i}", strategy="longest-idle-agent") for i in range(n_queues)})
    for i in range(n_agents):
        backend.put_agent(AgentConfig(f"a{i}", contact=f"user/a{i}", wrap_up_time=0.0,
                                      status=AgentStatus.AVAILABLE), now - rng.uniform(0, 3600))
    for queue, agent, level, position in tiers_of(n_agents, n_queues):
        t = Tier(queue, agent, level=level, position=position)
        backend.add_tier(t)
        cfg.tiers.append(t)
    return cfg


# ---- CPU accounting ---------------------------------------------------------------------------
class ServerCPU:
    """CPU time the private redis-server spent since the last call: the scheduler's own
    account of its threads' time on a CPU (/proc/PID/task/*/schedstat, nanoseconds), so a
    server preempted by the neighbours is not charged for the wait."""

    def __init__(self, pid: int):
        self.tasks = Path(f"/proc/{pid}/task")
        self.last = self._total()

    def _total(self) -> float:
        total = 0
        for task in self.tasks.iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass
        return total / 1e9

    def take(self) -> float:
        now = self._total()
        spent, self.last = now - self.last, now
        return spent


class Clock:
    """CPU seconds of one measured step: this process, plus the Redis server's if any."""

    def __init__(self, server: ServerCPU | None):
        self.server = server

    def start(self):
        if self.server:
            self.server.take()
        return time.process_time(), time.perf_counter()

    def stop(self, started) -> tuple[float, float]:
        cpu = time.process_time() - started[0]
        wall = time.perf_counter() - started[1]
        if self.server:
            cpu += self.server.take()
        return cpu, wall


# ---- fsapp ----------------------------------------------------------------------------------
def fsapp_decisions(backend, cfg, rounds: int, clock: Clock, seed: int) -> tuple[list[float], list[float]]:
    names = sorted(cfg.queues)
    rng = random.Random(seed)
    cpu, wall = [], []
    for i in range(rounds):
        q = cfg.queues[rng.choice(names)]
        member = Member(f"m{seed}-{i}", q.name, joined_at=time.time(), owner=OWNER)
        backend.add_member(member)
        started = clock.start()
        decision = backend.decide(q, {member.id}, set(), OWNER, 30.0, time.time())
        c, w = clock.stop(started)
        cpu.append(c)
        wall.append(w)
        (_, agents), = decision.offers
        backend.release(agents[0].name, member.id, OWNER, OfferResult.CANCELLED, time.time())
        backend.remove_member(member.id)
    return cpu, wall


def fsapp_free_to_offered(backend, cfg, rounds: int, clock: Clock, seed: int) -> tuple[list[float], list[float]]:
    """Agent becomes available -> the waiting member holds its claim (Dispatcher running)."""
    queue = "q0"
    agents = [t.agent for t in cfg.tiers if t.queue == queue]
    for a in agents:
        backend.set_status(a, AgentStatus.ON_BREAK, time.time())
    d = Dispatcher(backend, cfg, f"{OWNER}-lat", lease=30.0).start()
    gevent.sleep(0.2)
    cpu, wall = [], []
    try:
        for i in range(rounds):
            mid = f"lat{seed}-{i}"
            ticket = d.join(Member(mid, queue, joined_at=time.time()))
            gevent.sleep(0.005)                 # the member is waiting, nobody free
            agent = agents[i % len(agents)]
            started = clock.start()
            backend.set_status(agent, AgentStatus.AVAILABLE, time.time())
            got = ticket.wait(5.0)
            c, w = clock.stop(started)
            assert isinstance(got, Assignment) and got.agents[0].name == agent, got
            cpu.append(c)
            wall.append(w)
            backend.release(agent, mid, f"{OWNER}-lat", OfferResult.CANCELLED, time.time())
            backend.set_status(agent, AgentStatus.ON_BREAK, time.time())
            d.leave(mid)
    finally:
        d.stop()
        for a in agents:
            backend.set_status(a, AgentStatus.AVAILABLE, time.time())
    return cpu, wall


# ---- mod_callcenter on SQLite -------------------------------------------------------------------
MOD_CALLCENTER_SCHEMA = """
CREATE TABLE members (queue VARCHAR(255), system VARCHAR(255), uuid VARCHAR(255) NOT NULL DEFAULT '',
  session_uuid VARCHAR(255) NOT NULL DEFAULT '', cid_number VARCHAR(255), cid_name VARCHAR(255),
  system_epoch INTEGER NOT NULL DEFAULT 0, joined_epoch INTEGER NOT NULL DEFAULT 0,
  rejoined_epoch INTEGER NOT NULL DEFAULT 0, bridge_epoch INTEGER NOT NULL DEFAULT 0,
  abandoned_epoch INTEGER NOT NULL DEFAULT 0, base_score INTEGER NOT NULL DEFAULT 0,
  skill_score INTEGER NOT NULL DEFAULT 0, serving_agent VARCHAR(255), serving_system VARCHAR(255),
  state VARCHAR(255));
CREATE TABLE agents (name VARCHAR(255), system VARCHAR(255), uuid VARCHAR(255), type VARCHAR(255),
  contact VARCHAR(255), status VARCHAR(255), state VARCHAR(255),
  max_no_answer INTEGER NOT NULL DEFAULT 0, wrap_up_time INTEGER NOT NULL DEFAULT 0,
  reject_delay_time INTEGER NOT NULL DEFAULT 0, busy_delay_time INTEGER NOT NULL DEFAULT 0,
  no_answer_delay_time INTEGER NOT NULL DEFAULT 0, last_bridge_start INTEGER NOT NULL DEFAULT 0,
  last_bridge_end INTEGER NOT NULL DEFAULT 0, last_offered_call INTEGER NOT NULL DEFAULT 0,
  last_status_change INTEGER NOT NULL DEFAULT 0, no_answer_count INTEGER NOT NULL DEFAULT 0,
  calls_answered INTEGER NOT NULL DEFAULT 0, talk_time INTEGER NOT NULL DEFAULT 0,
  ready_time INTEGER NOT NULL DEFAULT 0);
CREATE TABLE tiers (queue VARCHAR(255), agent VARCHAR(255), state VARCHAR(255),
  level INTEGER NOT NULL DEFAULT 1, position INTEGER NOT NULL DEFAULT 1);
"""

MEMBERS_SQL = ("SELECT queue, uuid, session_uuid, cid_number, cid_name, joined_epoch, "
               "(? - joined_epoch) + base_score + skill_score AS score, state, abandoned_epoch FROM members "
               "WHERE state = 'Waiting' OR state = 'Abandoned' OR (serving_agent = 'ring-all' AND state = 'Trying') "
               "ORDER BY score DESC")
AGENTS_SQL = ("SELECT system, name, status, contact, no_answer_count, max_no_answer, reject_delay_time, "
              "busy_delay_time, no_answer_delay_time, tiers.state, agents.last_bridge_end, agents.wrap_up_time, "
              "agents.state, agents.ready_time, tiers.position, tiers.level, agents.type, agents.uuid "
              "FROM agents LEFT JOIN tiers ON (agents.name = tiers.agent) WHERE tiers.queue = ? "
              "AND (agents.status = 'Available' OR agents.status = 'On Break' OR agents.status = 'Available (On Demand)') "
              "ORDER BY level, agents.last_offered_call, position")


class ModCallcenter:
    """mod_callcenter's dispatch, its SQL and its per-row checks (see the module docstring)."""

    def __init__(self, path: str, n_agents: int, n_queues: int, now: int):
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # the pragmas FreeSWITCH's core db opens its SQLite files with (no fsync per UPDATE)
        self.db.executescript("PRAGMA synchronous=OFF; PRAGMA count_changes=OFF; PRAGMA cache_size=8000; "
                              "PRAGMA temp_store=MEMORY;")
        self.db.executescript(MOD_CALLCENTER_SCHEMA)
        rng = random.Random(7)
        self.db.executemany(
            "INSERT INTO agents (name, system, type, contact, status, state, last_offered_call, "
            "last_status_change) VALUES (?, 'single_box', 'Callback', ?, 'Available', 'Waiting', ?, ?)",
            [(f"a{i}", f"user/a{i}", int(now - rng.uniform(0, 3600)), now) for i in range(n_agents)])
        self.db.executemany("INSERT INTO tiers (queue, agent, state, level, position) VALUES (?, ?, 'Ready', ?, ?)",
                            list(tiers_of(n_agents, n_queues)))

    def join(self, uuid: str, queue: str, now: int) -> None:
        self.db.execute("INSERT INTO members (queue, system, uuid, session_uuid, system_epoch, joined_epoch, "
                        "base_score, skill_score, cid_number, cid_name, serving_agent, serving_system, state) "
                        "VALUES (?, 'single_box', ?, ?, ?, ?, 0, 0, '', '', '', '', 'Waiting')",
                        (queue, uuid, uuid, now, now))

    def dispatch_pass(self, now: int) -> list[tuple[str, str]]:
        """One pass of the agent dispatch thread: every waiting member, best score first."""
        offered = []
        for queue, uuid, _s, _n, _c, joined, _score, state, _ab in self.db.execute(MEMBERS_SQL, (now,)).fetchall():
            if state != "Waiting":
                continue
            agent = self._agents_callback(queue, uuid, int(joined), now)
            if agent:
                offered.append((uuid, agent))
        return offered

    def _agents_callback(self, queue: str, uuid: str, joined: int, now: int) -> str | None:
        tier, tier_agent_available = 0, 0
        tier_rules_apply, wait_second = False, 300
        for row in self.db.execute(AGENTS_SQL, (queue,)).fetchall():
            (system, name, status, _contact, _nac, _mna, _rdt, _bdt, _nadt, tier_state, last_bridge_end,
             wrap_up_time, agent_state, ready_time, _position, level, _type, _uuid) = row
            if tier_rules_apply and level > tier:          # as mod_callcenter: wait per tier level
                if now - joined >= level * wait_second:
                    tier, tier_agent_available = level, 0
                else:
                    return None
            tier_agent_available += 1
            if tier_state not in ("No Answer", "Ready") or agent_state != "Waiting" \
                    or not last_bridge_end < now - wrap_up_time or not ready_time <= now or status == "On Break":
                continue
            if system != "single_box":
                continue
            self.db.execute("UPDATE members SET serving_agent = ?, serving_system = 'single_box', state = 'Trying' "
                            "WHERE state = 'Waiting' AND uuid = ? AND system = 'single_box'", (name, uuid))
            won, = self.db.execute("SELECT count(*) FROM members WHERE serving_agent = ? AND "
                                   "serving_system = 'single_box' AND uuid = ? AND system = 'single_box'",
                                   (name, uuid)).fetchone()
            if not won:
                return None
            self.db.execute("UPDATE agents SET state = 'Receiving' WHERE name = ?", (name,))
            self.db.execute("UPDATE tiers SET state = 'Offering' WHERE agent = ? AND queue = ?", (name, queue))
            self.db.execute("UPDATE tiers SET state = 'Standby' WHERE agent = ? AND NOT queue = ? AND state = 'Ready'",
                            (name, queue))
            self.db.execute("UPDATE agents SET last_offered_call = ? WHERE name = ?", (now, name))
            return name
        return None

    def reset(self, uuid: str, agent: str) -> None:
        """The offer ends (not measured): the agent is Waiting again, the member gone."""
        self.db.execute("DELETE FROM members WHERE uuid = ?", (uuid,))
        self.db.execute("UPDATE agents SET state = 'Waiting' WHERE name = ?", (agent,))
        self.db.execute("UPDATE tiers SET state = 'Ready' WHERE agent = ?", (agent,))


def mod_callcenter_decisions(mc: ModCallcenter, n_queues: int, rounds: int, clock: Clock, seed: int):
    rng = random.Random(seed)
    cpu, wall = [], []
    for i in range(rounds):
        uuid = f"m{seed}-{i}"
        mc.join(uuid, f"q{rng.randrange(n_queues)}", int(time.time()))
        started = clock.start()
        (_, agent), = mc.dispatch_pass(int(time.time()))
        c, w = clock.stop(started)
        cpu.append(c)
        wall.append(w)
        mc.reset(uuid, agent)
    return cpu, wall


def mod_callcenter_free_to_offered(mc: ModCallcenter, agents: list[str], rounds: int, seed: int,
                                   loop_s: float = 0.1):
    """Its dispatch thread: a pass every 100 ms (switch_yield(100000)). An agent of q0 becomes
    Available at a random moment; until the pass that offers it. Wall time: the loop's
    period is the latency, by design. Also returns the CPU of each pass."""
    mc.db.execute("UPDATE agents SET status = 'On Break' WHERE name IN (%s)" % ",".join("?" * len(agents)), agents)
    picked: dict[str, float] = {}
    pass_cpu: list[float] = []

    def dispatch_thread():
        while True:
            c0 = time.process_time()
            for uuid, _agent in mc.dispatch_pass(int(time.time())):
                picked[uuid] = time.perf_counter()
            pass_cpu.append(time.process_time() - c0)
            gevent.sleep(loop_s)

    loop = gevent.spawn(dispatch_thread)
    rng = random.Random(seed)
    latencies = []
    try:
        for i in range(rounds):
            uuid = f"lat{seed}-{i}"
            mc.join(uuid, "q0", int(time.time()))
            gevent.sleep(rng.uniform(0, loop_s))      # agents free up at random moments
            agent = agents[i % len(agents)]
            t0 = time.perf_counter()
            mc.db.execute("UPDATE agents SET status = 'Available' WHERE name = ?", (agent,))
            while uuid not in picked:
                gevent.sleep(0.001)
            latencies.append(picked[uuid] - t0)
            mc.reset(uuid, agent)
            mc.db.execute("UPDATE agents SET status = 'On Break' WHERE name = ?", (agent,))
    finally:
        loop.kill()
        mc.db.execute("UPDATE agents SET status = 'Available'")
    return latencies, pass_cpu


# ---- running and printing ---------------------------------------------------------------------------
def pct(values: list[float], p: float) -> float:
    ms = sorted(values)
    return ms[min(len(ms) - 1, max(0, int(round(p / 100 * len(ms))) - 1))] * 1000


def spread(values: list[float]) -> str:
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"


def report(label: str, runs: list[tuple[list[float], list[float]]]) -> None:
    cpu50 = [pct(c, 50) for c, _ in runs]
    cpu99 = [pct(c, 99) for c, _ in runs]
    wall50 = [pct(w, 50) for _, w in runs]
    wall99 = [pct(w, 99) for _, w in runs]
    print(f"  {label:<44} CPU ms p50 {spread(cpu50)}  p99 {spread(cpu99)}   "
          f"(wall p50 {statistics.median(wall50):.3f}, p99 {statistics.median(wall99):.3f})")


def private_redis(workdir: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir], stdout=subprocess.DEVNULL)
    import redis
    client = redis.Redis(port=port)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return proc, f"redis://127.0.0.1:{port}/0", client


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=5000)
    ap.add_argument("--queues", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=1000, help="decisions per run")
    ap.add_argument("--latency-rounds", type=int, default=200, help="agent free -> offered per run (fsapp)")
    ap.add_argument("--poll-rounds", type=int, default=30, help="the same for mod_callcenter's 100 ms loop")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    if args.repeat < 3:
        ap.error("--repeat must be >= 3 (min / median / max)")
    per_queue = args.agents * QUEUES_PER_AGENT // args.queues
    print(f"routing bench: {args.agents} agents, {args.queues} queues, {per_queue} agents per queue "
          f"(tier levels 1 and 2), longest-idle-agent; {args.repeat} runs, sides alternating; "
          f"figures min / median / max over the runs")
    workdir = tempfile.mkdtemp(prefix="fsapp-bench-routing-")
    proc, url, admin = private_redis(workdir)
    try:
        from fsapp.routing.redis_backend import RedisBackend
        now = time.time()
        memory = MemoryBackend()
        cfg = build(memory, args.agents, args.queues, now)
        redis_be = RedisBackend.from_url(url, prefix="bench:")
        t0 = time.perf_counter()
        build(redis_be, args.agents, args.queues, now)
        print(f"  (Redis setup {time.perf_counter() - t0:.1f} s, private redis-server at {url})")
        mc = ModCallcenter(os.path.join(workdir, "callcenter.db"), args.agents, args.queues, int(now))
        server = ServerCPU(proc.pid)
        plain, with_server = Clock(None), Clock(server)
        sides = {
            "fsapp memory": lambda seed: fsapp_decisions(memory, cfg, args.rounds, plain, seed),
            "fsapp redis (one EVALSHA)": lambda seed: fsapp_decisions(redis_be, cfg, args.rounds, with_server, seed),
            "mod_callcenter SQLite (its SQL)": lambda seed: mod_callcenter_decisions(mc, args.queues, args.rounds,
                                                                                     plain, seed),
        }
        runs: dict[str, list] = {name: [] for name in sides}
        names = list(sides)
        for r in range(args.repeat):
            for name in (names if r % 2 == 0 else names[::-1]):
                runs[name].append(sides[name](r))
        print("decision (order members, pick, claim):")
        for name in names:
            report(name, runs[name])
        lat = {"fsapp memory": [], "fsapp redis": []}
        poll, poll_cpu = [], []
        for r in range(args.repeat):
            order = [("memory", memory, plain), ("redis", redis_be, with_server)]
            for label, backend, clock in (order if r % 2 == 0 else order[::-1]):
                lat[f"fsapp {label}"].append(fsapp_free_to_offered(backend, cfg, args.latency_rounds, clock, r))
            wall, cpu = mod_callcenter_free_to_offered(mc, [t.agent for t in cfg.tiers if t.queue == "q0"],
                                                       args.poll_rounds, r)
            poll.append(wall)
            poll_cpu.append(cpu)
        print("agent free -> offered:")
        for name, values in lat.items():
            report(name + " (event-driven)", values)
        print(f"  {'mod_callcenter 100 ms loop':<44} wall ms p50 {spread([pct(w, 50) for w in poll])}  "
              f"p99 {spread([pct(w, 99) for w in poll])}; CPU per pass p50 {spread([pct(c, 50) for c in poll_cpu])}")
        redis_be.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Report benchmark: a month of records of a call centre in PostgreSQL, then the time of
`fsapp report` for a day (hourly) from the records, beside a naive aggregation of the same
day row by row in Python (fetch the day's queue events, fold them per call, count per
queue and hour); then `fsapp report rollup` (the 15-minute and daily summaries) and the
day and month reports per queue, agent and node read from the summaries, with the whole
month closed and with its last day still open (read from the records), beside the same
month read from the records alone.

    .venv/bin/python bench/reports.py --odbc "$FSAPP_TEST_PG_ODBC" [--agents 1000]
        [--calls-per-day 100000] [--days 30] [--nodes 10] [--repeat 3] [--raw-repeat 1]
        [--database NAME] [--keep] [--reuse] [--today-only]

The defaults are the issue's full scale: 1,000 agents, 100,000 calls a day (3 million a
month) and 10 node visits a call (30 million rows). The records are generated inside
PostgreSQL (generate_series, setseed; INSERT ... SELECT with the indexes built after)
into a throwaway database (--database, default fsapp_bench_reports_<pid>), dropped at the
end unless --keep; --reuse reports again on the records a --keep run left; --today-only
stops after the day reports read from the records (no rollup: minutes instead of ten).
Each figure is printed as wall-clock seconds and as CPU seconds: the bench's own process
plus the database backends serving it (read from /proc; PostgreSQL's parallel query
workers are turned off for the bench database so that all of a query's work is in its
backend). Each figure repeated, the sides alternating; min/median/max printed.
"""
import argparse
import datetime as dt
import os
import re
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyodbc  # noqa: E402

from fsapp.report import Range, Rules, run_report  # noqa: E402
from fsapp.report.rollup import rollup  # noqa: E402
from fsapp.report.sql import LEG_SPAN  # noqa: E402
from fsapp.store import Store  # noqa: E402

MONTH = dt.datetime(2026, 11, 1)


RECORD_TABLES = ("fsapp_queue_events", "fsapp_offers", "fsapp_node_visits", "fsapp_agent_states")


def generate(store: Store, agents: int, per_day: int, days: int, nodes: int, queues: int) -> dict:
    """The records, made by PostgreSQL itself (generate_series, INSERT ... SELECT): no row
    leaves the server. The record tables' indexes and unique constraints are dropped first
    and built again at the end, as a bulk load does (cheaper than 40 million index inserts)."""
    total = per_day * days
    names = ", ".join(f"'{t}'" for t in RECORD_TABLES)
    constraints = store.execute(
        f"SELECT conrelid::regclass::text AS tab, conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        f"WHERE contype = 'u' AND conrelid::regclass::text IN ({names})")
    indexes = store.execute(f"SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ({names}) "
                            f"AND indexname LIKE 'ix%'")
    steps = [f"ALTER TABLE {c['tab']} DROP CONSTRAINT {c['conname']}" for c in constraints]
    steps += [f"DROP INDEX {i['indexname']}" for i in indexes]
    steps += [
        "SELECT setseed(0.42)",
        f"""CREATE TABLE bench_calls AS SELECT i AS n, 'c' || i AS call_uuid,
              TIMESTAMP '{MONTH:%Y-%m-%d}' + (i / {per_day}) * INTERVAL '1 day'
                + (28800 + random() * 43200) * INTERVAL '1 second' AS t0,
              random() AS r, (random() * 60)::int AS wait_s, (60 + random() * 400)::int AS talk_s,
              'q' || (i % {queues}) AS queue, 'a' || (i % {agents}) AS agent,
              '138' || lpad(((random() * 1e7)::bigint)::text, 8, '0') AS caller
            FROM generate_series(0, {total - 1}) i""",
        """INSERT INTO fsapp_queue_events (idem_key, call_uuid, queue_name, event, caller_number, event_at, created_at)
           SELECT call_uuid || ':enter', call_uuid, queue, 'enter', caller, t0, t0 FROM bench_calls""",
        """INSERT INTO fsapp_queue_events (idem_key, call_uuid, queue_name, event, agent_id, caller_number, wait_ms,
                                          event_at, created_at)
           SELECT call_uuid || ':answered', call_uuid, queue, 'answered', agent, caller, wait_s * 1000,
                  t0 + wait_s * INTERVAL '1 second', t0 FROM bench_calls WHERE r < 0.9""",
        """INSERT INTO fsapp_queue_events (idem_key, call_uuid, queue_name, event, agent_id, caller_number, wait_ms,
                                          talk_ms, hold_ms, wrap_up_ms, event_at, created_at)
           SELECT call_uuid || ':completed', call_uuid, queue, 'completed', agent, caller, wait_s * 1000,
                  talk_s * 1000, 0, 10000, t0 + (wait_s + talk_s) * INTERVAL '1 second', t0
           FROM bench_calls WHERE r < 0.9""",
        """INSERT INTO fsapp_queue_events (idem_key, call_uuid, queue_name, event, caller_number, wait_ms, event_at,
                                          created_at)
           SELECT call_uuid || ':abandoned', call_uuid, queue, 'abandoned', caller, wait_s * 1000,
                  t0 + wait_s * INTERVAL '1 second', t0 FROM bench_calls WHERE r >= 0.9""",
        """INSERT INTO fsapp_offers (idem_key, call_uuid, queue_name, agent_id, ring_at, ended_at, result, created_at)
           SELECT call_uuid || ':offer', call_uuid, queue, agent, t0 + GREATEST(wait_s - 3, 0) * INTERVAL '1 second',
                  t0 + wait_s * INTERVAL '1 second', CASE WHEN r < 0.9 THEN 'answered' ELSE 'cancelled' END, t0
           FROM bench_calls WHERE wait_s >= 3""",
        f"""INSERT INTO fsapp_node_visits (idem_key, call_uuid, flow, node, entered_at, left_at, outcome, no_inputs,
                                          invalid_inputs, revisit, flow_entry, created_at)
           SELECT call_uuid || ':visit:' || k, call_uuid, 'hotline', 'n' || k,
                  t0 - (({nodes} - k + 1) * 5) * INTERVAL '1 second', t0 - (({nodes} - k) * 5) * INTERVAL '1 second',
                  CASE WHEN k = {nodes} AND r > 0.97 THEN 'caller_hangup' ELSE 'next' END,
                  CASE WHEN r > 0.8 THEN 1 ELSE 0 END, 0, 0, CASE WHEN k = 1 THEN 1 ELSE 0 END, t0
           FROM bench_calls CROSS JOIN generate_series(1, {nodes}) k""",
        f"""INSERT INTO fsapp_agent_states (idem_key, agent_id, status, changed_at, created_at)
           SELECT 'agent:a' || a || ':' || d || ':' || s, 'a' || a,
                  CASE WHEN s = 0 THEN 'Available' ELSE 'Logged Out' END,
                  TIMESTAMP '{MONTH:%Y-%m-%d}' + d * INTERVAL '1 day' + (CASE WHEN s = 0 THEN 8 ELSE 20 END) * INTERVAL '1 hour',
                  TIMESTAMP '{MONTH:%Y-%m-%d}'
           FROM generate_series(0, {agents - 1}) a, generate_series(0, {days - 1}) d, generate_series(0, 1) s""",
        "DROP TABLE bench_calls",
    ]
    steps += [f"ALTER TABLE {c['tab']} ADD CONSTRAINT {c['conname']} {c['def']}" for c in constraints]
    steps += [i["indexdef"] for i in indexes]
    steps.append("ANALYZE")
    for sql in steps:
        store.execute(sql, timeout=7200)
    return {t: store.execute(f"SELECT COUNT(*) AS n FROM {t}", timeout=600)[0]["n"] for t in RECORD_TABLES}


def naive_day(store: Store, day: dt.datetime, rules: Rules) -> dict:
    """The same day's queue figures (offered, answered, SL, ASA, AHT per queue and hour),
    row by row in Python: what one writes without the database doing the work."""
    rows = store.execute("SELECT call_uuid, queue_name, event, wait_ms, talk_ms, hold_ms, wrap_up_ms, event_at "
                         "FROM fsapp_queue_events WHERE event_at >= ? AND event_at < ?",
                         [day - LEG_SPAN, day + dt.timedelta(days=1) + LEG_SPAN], timeout=600)
    legs: dict = {}
    for r in rows:
        leg = legs.setdefault((r["call_uuid"], r["queue_name"]), {"first": r["event_at"]})
        leg["first"] = min(leg["first"], r["event_at"])
        leg[r["event"]] = r
    out: dict = {}
    for (_, queue), leg in legs.items():
        if not (day <= leg["first"] < day + dt.timedelta(days=1)) or "enter" not in leg:
            continue
        s = out.setdefault((leg["first"].hour, queue), {"offered": 0, "answered": 0, "in_sl": 0, "wait": 0,
                                                         "abandoned": 0, "handled": 0, "handle": 0})
        s["offered"] += 1
        if "answered" in leg:
            s["answered"] += 1
            s["wait"] += leg["answered"]["wait_ms"]
            s["in_sl"] += leg["answered"]["wait_ms"] <= rules.sl_seconds * 1000
        if "abandoned" in leg:
            s["abandoned"] += 1
        if "completed" in leg:
            c = leg["completed"]
            s["handled"] += 1
            s["handle"] += c["talk_ms"] + (c["hold_ms"] or 0) + (c["wrap_up_ms"] or 0)
    return out


def stats(xs: list[float]) -> str:
    return f"{min(xs):8.2f} {statistics.median(xs):8.2f} {max(xs):8.2f}"


class ServerCpu:
    """CPU seconds of this process plus every client backend of the bench database (not
    autovacuum: its work on the rows a rollup rewrote lands in whatever runs next)."""
    def __init__(self, admin, name: str):
        self.admin, self.name, self.tick = admin, name, os.sysconf("SC_CLK_TCK")

    def __call__(self) -> float:
        total = time.process_time()
        for (pid,) in self.admin.cursor().execute("SELECT pid FROM pg_stat_activity WHERE datname = ? "
                                                  "AND backend_type = 'client backend'",
                                                  self.name).fetchall():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / self.tick       # utime + stime
        return total


def measure(sides: dict, repeat: dict, cpu) -> None:
    wall: dict[str, list[float]] = {k: [] for k in sides}
    used: dict[str, list[float]] = {k: [] for k in sides}
    for round_no in range(max(repeat.values())):
        for label, fn in sides.items():          # the sides alternate within each round
            if round_no >= repeat[label]:
                continue
            c, t = cpu(), time.perf_counter()
            fn()
            wall[label].append(time.perf_counter() - t)
            used[label].append(cpu() - c)
    print(f"{'':44} {'wall s min/median/max':>26}   {'CPU s min/median/max':>26}")
    for label in sides:
        print(f"{label:44} {stats(wall[label])}   {stats(used[label])}   (n={len(wall[label])})")


def database(admin, odbc: str, name: str, reuse: bool) -> tuple[str, bool]:
    """The bench database's ODBC string, and whether it already holds records (--reuse)."""
    exists = admin.cursor().execute("SELECT 1 FROM pg_database WHERE datname = ?", name).fetchone() is not None
    if exists and not reuse:
        sys.exit(f"database {name} exists: drop it, or give --reuse to report on its records")
    if not exists:
        admin.cursor().execute(f"CREATE DATABASE {name}")
        # all of a query's work in its backend (counted by ServerCpu); bulk index builds in memory
        admin.cursor().execute(f"ALTER DATABASE {name} SET max_parallel_workers_per_gather = 0")
        admin.cursor().execute(f"ALTER DATABASE {name} SET maintenance_work_mem = '512MB'")
    return re.sub(r"(?i)(Database=)[^;]*", lambda m: m.group(1) + name, odbc), exists


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--odbc", default=os.environ.get("FSAPP_TEST_PG_ODBC"), help="PostgreSQL ODBC string (admin)")
    ap.add_argument("--database", default=f"fsapp_bench_reports_{os.getpid()}", help="the bench database's name")
    ap.add_argument("--reuse", action="store_true", help="report on the records already in --database")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--calls-per-day", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--queues", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--raw-repeat", type=int, default=1, help="runs of the month reports from the records alone")
    ap.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    ap.add_argument("--today-only", action="store_true", help="only the day reports from the records (no rollup)")
    args = ap.parse_args()
    if not args.odbc:
        sys.exit("give --odbc (a PostgreSQL ODBC connection string) or set FSAPP_TEST_PG_ODBC")
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", args.database):
        sys.exit("--database: lower-case letters, digits and _")
    name = args.database
    admin = pyodbc.connect(args.odbc, autocommit=True, timeout=10)
    odbc, reused = database(admin, args.odbc, name, args.reuse)
    store = Store({"main": odbc}, spool_dir=Path("/tmp") / f"{name}-spool", start=False, query_timeout=7200)
    try:
        store.migrate()
        if reused:
            # a rerun on the same records starts from no summaries, as the first run did
            for table in ("fsapp_queue_intervals", "fsapp_agent_intervals", "fsapp_node_intervals",
                          "fsapp_queue_days", "fsapp_agent_days", "fsapp_node_days", "fsapp_report_rollups"):
                store.execute(f"DELETE FROM {table}", timeout=3600)
            counts = {t: store.execute(f"SELECT COUNT(*) AS n FROM {t}", timeout=600)[0]["n"] for t in RECORD_TABLES}
            print(f"reusing {name}: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
        else:
            began = time.perf_counter()
            counts = generate(store, args.agents, args.calls_per_day, args.days, args.nodes, args.queues)
            print(f"generated in {time.perf_counter() - began:.0f} s: {args.agents} agents, {args.calls_per_day} "
                  f"calls a day, {args.days} days: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
        run(store, ServerCpu(admin, name), args)
    finally:
        store.close()
        if not args.keep:
            admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")
        admin.close()


def run(store: Store, cpu, args) -> None:
    rules = Rules()
    month_end = MONTH + dt.timedelta(days=args.days)
    last = month_end - dt.timedelta(days=1)
    day = MONTH + dt.timedelta(days=args.days // 2)
    day_range = Range.parse("day", f"{day:%Y-%m-%d}")
    month_range = Range(MONTH, month_end, "range")

    def report(dimension: str, rng: Range, by: str, summaries: bool = True):
        return lambda: run_report(store, dimension, rng, by, rules, summaries=summaries, timeout=7200)

    print("\n# today: nothing rolled up, a day from the records")
    # the generated calls arrive 08:00-20:00; 24 hours from noon have as many legs, but the
    # legs' window (8 h either side, sql.LEG_SPAN) then holds two days of calls: what a day
    # of a centre open around the clock reads (more than it: 1.67 days)
    noon = Range(day + dt.timedelta(hours=12), day + dt.timedelta(hours=36), "range")
    sides = {
        "day per queue and hour, records": report("queue", day_range, "60"),
        "24 h from noon per queue and hour, records": report("queue", noon, "60"),
        "naive day per queue and hour, row by row": lambda: naive_day(store, day, rules),
        "day per agent and hour, records": report("agent", day_range, "60"),
        "day per node, records": report("node", day_range, "total"),
    }
    measure(sides, {k: args.repeat for k in sides}, cpu)
    if args.today_only:
        return

    c, t = cpu(), time.perf_counter()
    done = rollup(store, rules, until=last, timeout=7200)
    print(f"\nrollup of the first {done.days} days: {time.perf_counter() - t:.1f} s wall, {cpu() - c:.1f} s CPU")
    print("# the current month: every day rolled up but the last, which is read from the records")
    sides = {
        "month per queue and day, last day open": report("queue", month_range, "day"),
        "month per agent and day, last day open": report("agent", month_range, "day"),
    }
    measure(sides, {k: args.repeat for k in sides}, cpu)

    c, t = cpu(), time.perf_counter()
    rollup(store, rules, until=month_end, timeout=7200)
    print(f"\nrollup of the last day: {time.perf_counter() - t:.1f} s wall, {cpu() - c:.1f} s CPU")
    print("# a closed month: daily sums (by day), 15-minute sums (by hour)")
    sides = {
        "rollup of one day again (--from)": lambda: rollup(store, rules, since=last, until=month_end, timeout=7200),
        "day per queue and hour, summaries": report("queue", day_range, "60"),
        "day per agent and hour, summaries": report("agent", day_range, "60"),
        "month per queue and day, summaries": report("queue", month_range, "day"),
        "month per agent and day, summaries": report("agent", month_range, "day"),
        "month per node, summaries": report("node", month_range, "total"),
        "month per queue and day, records": report("queue", month_range, "day", False),
        "month per node, records": report("node", month_range, "total", False),
    }
    measure(sides, {k: args.raw_repeat if k.endswith("records") else args.repeat for k in sides}, cpu)
    same = []
    for dimension, rng, by in (("queue", month_range, "day"), ("agent", day_range, "60"), ("node", day_range, "60")):
        summed, raw = report(dimension, rng, by)(), report(dimension, rng, by, False)()
        same.append(summed.rows == raw.rows and summed.total == raw.total)
    print("same figures from the summaries and from the records (month per queue, day per agent, day per node):",
          same)


if __name__ == "__main__":
    main()

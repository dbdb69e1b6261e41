"""Report benchmark: a month of records of a call centre in PostgreSQL, then the time of
`fsapp report` for a day (hourly) and for the month (daily), beside a naive aggregation
of the same day row by row in Python (fetch the day's queue events, fold them per call,
count per queue and hour); then `fsapp report rollup` (the 15-minute summaries) and the
month reports read from the summaries, with the whole month closed and with its last day
still open (read from the records), beside the same month read from the records alone.

    .venv/bin/python bench/reports.py --odbc "$FSAPP_TEST_PG_ODBC" [--agents 1000]
        [--calls-per-day 100000] [--days 30] [--nodes 10] [--repeat 3] [--raw-repeat 1] [--keep]

The issue's full scale is 1,000 agents, 100,000 calls a day (3 million a month) and 10
node visits a call (30 million rows); on a shared machine run a fraction of it and say
which. The records are generated inside PostgreSQL (generate_series, setseed) into a
throwaway database fsapp_bench_reports_<pid>, dropped at the end unless --keep.
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
from fsapp.store import Store  # noqa: E402

MONTH = dt.datetime(2026, 11, 1)


def generate(store: Store, agents: int, per_day: int, days: int, nodes: int, queues: int) -> dict:
    total = per_day * days
    steps = [
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
        "ANALYZE",
    ]
    for sql in steps:
        store.execute(sql, timeout=3600)
    counts = {t: store.execute(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"]
              for t in ("fsapp_queue_events", "fsapp_offers", "fsapp_node_visits", "fsapp_agent_states")}
    return counts


def naive_day(store: Store, day: dt.datetime, rules: Rules) -> dict:
    """The same day's queue figures (offered, answered, SL, ASA, AHT per queue and hour),
    row by row in Python: what one writes without the database doing the work."""
    rows = store.execute("SELECT call_uuid, queue_name, event, wait_ms, talk_ms, hold_ms, wrap_up_ms, event_at "
                         "FROM fsapp_queue_events WHERE event_at >= ? AND event_at < ?",
                         [day - dt.timedelta(days=1), day + dt.timedelta(days=2)], timeout=600)
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
    """CPU seconds of this process plus every backend connected to the bench database."""
    def __init__(self, admin, name: str):
        self.admin, self.name, self.tick = admin, name, os.sysconf("SC_CLK_TCK")

    def __call__(self) -> float:
        total = time.process_time()
        for (pid,) in self.admin.cursor().execute("SELECT pid FROM pg_stat_activity WHERE datname = ?",
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--odbc", default=os.environ.get("FSAPP_TEST_PG_ODBC"), help="PostgreSQL ODBC string (admin)")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--calls-per-day", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--nodes", type=int, default=10)
    ap.add_argument("--queues", type=int, default=20)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--raw-repeat", type=int, default=1, help="runs of the month reports from the records alone")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if not args.odbc:
        sys.exit("give --odbc (a PostgreSQL ODBC connection string) or set FSAPP_TEST_PG_ODBC")
    name = f"fsapp_bench_reports_{os.getpid()}"
    admin = pyodbc.connect(args.odbc, autocommit=True, timeout=10)
    admin.cursor().execute(f"CREATE DATABASE {name}")
    admin.cursor().execute(f"ALTER DATABASE {name} SET max_parallel_workers_per_gather = 0")
    odbc = re.sub(r"(?i)(Database=)[^;]*", lambda m: m.group(1) + name, args.odbc)
    store = Store({"main": odbc}, spool_dir=Path("/tmp") / f"{name}-spool", start=False, query_timeout=3600)
    try:
        store.migrate()
        began = time.perf_counter()
        counts = generate(store, args.agents, args.calls_per_day, args.days, args.nodes, args.queues)
        print(f"generated in {time.perf_counter() - began:.0f} s: {args.agents} agents, {args.calls_per_day} calls a "
              f"day, {args.days} days: " + ", ".join(f"{t} {n}" for t, n in counts.items()))
        rules = Rules()
        day = MONTH + dt.timedelta(days=args.days // 2)
        day_range = Range.parse("day", f"{day:%Y-%m-%d}")
        month_range = Range(MONTH, MONTH + dt.timedelta(days=args.days), "range")
        cpu = ServerCpu(admin, name)
        sides = {
            "day report, per queue and hour": lambda: run_report(store, "queue", day_range, "60", rules),
            "naive day, row by row in Python": lambda: naive_day(store, day, rules),
            "day report, per agent and hour": lambda: run_report(store, "agent", day_range, "60", rules),
            "day report, per node": lambda: run_report(store, "node", day_range, "total", rules),
        }
        measure(sides, {k: args.repeat for k in sides}, cpu)

        month_end = MONTH + dt.timedelta(days=args.days)
        c, t = cpu(), time.perf_counter()
        done = rollup(store, rules, until=month_end - dt.timedelta(days=1))
        print(f"rollup of the first {done.days} days: {time.perf_counter() - t:.1f} s wall, {cpu() - c:.1f} s CPU")
        # the current month: every day rolled up but the last, which is read from the records
        last_open = {"month per queue and day, last day open": lambda: run_report(store, "queue", month_range, "day",
                                                                                  rules)}
        measure(last_open, {k: args.repeat for k in last_open}, cpu)
        c, t = cpu(), time.perf_counter()
        rollup(store, rules, until=month_end)
        print(f"rollup of the last day: {time.perf_counter() - t:.1f} s wall, {cpu() - c:.1f} s CPU")
        redo_from = month_end - dt.timedelta(days=1)
        sides = {
            "rollup of one day again (--from)": lambda: rollup(store, rules, since=redo_from, until=month_end),
            "month per queue and day, summaries": lambda: run_report(store, "queue", month_range, "day", rules),
            "month per queue and day, records": lambda: run_report(store, "queue", month_range, "day", rules,
                                                                   summaries=False),
            "month per node, summaries": lambda: run_report(store, "node", month_range, "total", rules),
            "month per node, records": lambda: run_report(store, "node", month_range, "total", rules,
                                                          summaries=False),
            "month per agent and day, summaries": lambda: run_report(store, "agent", month_range, "day", rules),
        }
        measure(sides, {k: args.raw_repeat if k.endswith("records") else args.repeat for k in sides}, cpu)
        summed = run_report(store, "queue", month_range, "day", rules)
        raw = run_report(store, "queue", month_range, "day", rules, summaries=False)
        print("same figures from the summaries and from the records:", summed.rows == raw.rows)
    finally:
        store.close()
        if not args.keep:
            admin.cursor().execute(f"DROP DATABASE {name}")
        admin.close()


if __name__ == "__main__":
    main()

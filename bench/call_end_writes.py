"""What a call's end costs the worker in the store: its call record and its 18 node visits
(the hotline's status lookup path) in one `store.write_many`, many calls ending at once.

    source /tmp/fsapp-services/env
    .venv/bin/python bench/call_end_writes.py --calls 1000 --repeat 3 [--db sqlite postgresql mysql]

Two sides, the same rows through the same Store and group committer, alternating in
order (A B B A ...): `multi`, consecutive rows of a table as one multi-row INSERT (what
fsapp/store/inserts.py does), and `each`, one INSERT per row (what it did before: the
same module with `_insert_runs` replaced by `_insert_each`). CPU time of this process
(the hub and the store's worker thread, which runs the driver and, for SQLite, the
database itself) per call; PostgreSQL's and MariaDB's own server CPU is not counted.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import datetime as dt  # noqa: E402
import logging  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent  # noqa: E402

from databases import KINDS, database  # noqa: E402
from fsapp.store import Store, inserts  # noqa: E402

logging.getLogger("fsapp").setLevel(logging.ERROR)
VISITS = 18
SIDES = {"multi": inserts._insert_runs, "each": inserts._insert_each}


def call_rows(run: str, call: int) -> list[tuple[str, dict, str]]:
    """A call record and 18 node visits with the columns fsapp/flow writes them with."""
    uuid = f"{run}-{call:05d}"
    start = dt.datetime(2026, 12, 8, 9, 0, 0, 250000)
    record = {"call_uuid": uuid, "caller_number": "13800138000", "destination": "12345",
              "flow": "hotline_12345", "flow_version": "3f2a9c1d", "started_at": start,
              "answered_at": start, "ended_at": start + dt.timedelta(seconds=40), "duration_ms": 40000,
              "hangup_cause": "NORMAL_CLEARING", "outcome": "status_after", "queue_name": None,
              "agent_id": None, "language": "zh-CN", "end_reason": "caller hung up",
              "node_path": ">".join(f"hotline_12345.node_{n}" for n in range(VISITS))}
    visits = []
    for n in range(VISITS):
        left = start + dt.timedelta(seconds=n + 1)
        visits.append(("node_visit", {
            "call_uuid": uuid, "flow": "hotline_12345", "node": f"node_{n}", "flow_version": "3f2a9c1d",
            "entered_at": start + dt.timedelta(seconds=n), "digits": str(n % 10) if n % 3 else None,
            "no_inputs": 0, "invalid_inputs": 0, "revisit": 0, "flow_entry": int(n == 0),
            "left_at": left, "outcome": "next", "created_at": left}, f"{uuid}:visit:{n + 1}"))
    return [("call_record", record, f"{uuid}:call"), *visits]


def one_run(store: Store, side: str, run: str, calls: int) -> float:
    inserts._insert_runs = SIDES[side]
    rows = [call_rows(run, i) for i in range(calls)]
    cpu = time.process_time()
    ends = [gevent.spawn(store.write_many, r) for r in rows]
    gevent.joinall(ends, raise_error=True)
    spent = time.process_time() - cpu
    assert all(e.value == ["written"] * (VISITS + 1) for e in ends), "a row was not written"
    return spent / calls * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", nargs="+", default=["sqlite"], choices=KINDS)
    args = parser.parse_args()
    if args.repeat < 3:
        parser.error("--repeat must be >= 3")
    original = inserts._insert_runs
    for kind in args.db:
        with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as odbc:
            store = Store({"main": odbc}, spool_dir=Path(tmp) / "spool", start=False)
            store.migrate()
            store.write_many(call_rows("warm-up", 0))
            figures: dict[str, list[float]] = {side: [] for side in SIDES}
            order = ["each", "multi"]
            for i in range(args.repeat):
                for side in (order if i % 2 == 0 else order[::-1]):
                    figures[side].append(one_run(store, side, f"{kind}-{side}-{i}-{time.time_ns()}", args.calls))
            inserts._insert_runs = original
            store.close()
        for side, values in figures.items():
            print(f"{kind:10s} {side:5s} CPU ms per call ({args.calls} calls ending at once, {args.repeat} runs): "
                  f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} (min / median / max)")
        ratios = sorted(m / e for m, e in zip(figures["multi"], figures["each"]))
        print(f"{kind:10s} multi / each, per round: {' '.join(f'{r:.2f}' for r in ratios)}")


if __name__ == "__main__":
    main()

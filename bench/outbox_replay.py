"""What durable replay progress costs: replaying spooled rows (read, CRC, insert, and the
fsync'd progress offset after each row) against inserting the same rows directly through
the same Store (the same database work, no spool).

    source /tmp/fsapp-services/env; .venv/bin/python bench/outbox_replay.py [ROWS] [REPEATS]

SQLite (a file in a temporary directory) and, if FSAPP_TEST_PG_ODBC is set, PostgreSQL.
The two sides alternate; each figure is repeated and printed as min/median/max of the
per-row time, wall clock (fsync is I/O, which CPU time does not see) and CPU time.
Not a test: timings on a shared machine vary.
"""
from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pyodbc  # noqa: E402

from fsapp.store import Store  # noqa: E402
from fsapp.store.outbox import Record  # noqa: E402
from fsapp.store.rows import prepare_row  # noqa: E402

logging.getLogger("fsapp").setLevel(logging.ERROR)


def rows(tag, n):
    out = []
    for i in range(n):
        _, row = prepare_row("survey_answer", {"survey": "bench", "question": "q1", "answer": str(i % 5 + 1),
                                               "call_uuid": f"{tag}-{i}"}, f"{tag}-{i}")
        out.append(Record("survey_answer", f"{tag}-{i}", row, time.time()))
    return out


def timed(fn, n):
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n


def bench(label, odbc, n, repeats, work):
    store = Store({"main": odbc}, spool_dir=work / f"spool-{label}", start=False)
    store.migrate()
    figures = {"direct": [], "replayed": []}
    for r in range(repeats):
        direct = rows(f"d{r}", n)
        spooled = rows(f"s{r}", n)
        for rec in spooled:
            store.outbox.append(rec.kind, rec.key, rec.row)
        store.outbox.seal()
        sides = [("direct", lambda: [store._apply(rec) for rec in direct]),
                 ("replayed", lambda: store.outbox.replay(store._apply))]
        for name, fn in (sides if r % 2 == 0 else sides[::-1]):
            figures[name].append(timed(fn, n))
    store.close()
    for name, runs in figures.items():
        wall = sorted(w * 1e3 for w, _ in runs)
        cpu = sorted(c * 1e3 for _, c in runs)
        print(f"{label:10s} {name:8s} per row: wall {wall[0]:.3f}/{statistics.median(wall):.3f}/{wall[-1]:.3f} ms"
              f"  cpu {cpu[0]:.3f}/{statistics.median(cpu):.3f}/{cpu[-1]:.3f} ms  (min/median/max of {len(runs)})")


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench("sqlite", f"Driver={{SQLite3}};Database={work / 'b.db'}", n, repeats, work)
        if os.environ.get("FSAPP_TEST_PG_ODBC"):
            admin = pyodbc.connect(os.environ["FSAPP_TEST_PG_ODBC"], autocommit=True)
            name = f"fsapp_bench_{os.getpid()}"
            admin.cursor().execute(f"CREATE DATABASE {name}")
            try:
                bench("postgresql", os.environ["FSAPP_TEST_PG_ODBC"].replace("Database=fsapp_test", f"Database={name}"),
                      n, repeats, work)
            finally:
                admin.cursor().execute(f"DROP DATABASE {name} WITH (FORCE)")


if __name__ == "__main__":
    main()

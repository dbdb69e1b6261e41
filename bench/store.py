"""Store overheads, as ratios against a baseline measured in the same process.

    source /tmp/fsapp-services/env; .venv/bin/python bench/store.py [N]

Prints, per database: the cost of a query through the thread pool + pool + breaker
against the same pyodbc call made directly (baseline), and writes through the outbox:
direct vs spooled (fsync'd) per row. Not a test: timings on a shared 2-core machine vary.
"""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pyodbc  # noqa: E402

import logging  # noqa: E402

from fsapp.store import Store  # noqa: E402

logging.getLogger("fsapp").setLevel(logging.ERROR)

DEAD = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=9;Database=x;Uid=x;Pwd=x"


def per_op(fn, n):
    start = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - start) / n


def bench(label, odbc, n, work):
    store = Store({"main": odbc}, spool_dir=work / f"spool-{label}", start=False)
    store.migrate()
    raw = pyodbc.connect(odbc, autocommit=True)
    base = per_op(lambda i: raw.cursor().execute("SELECT serial FROM fsapp_tickets WHERE serial = ?",
                                                 "00000018").fetchall(), n)
    pooled = per_op(lambda i: store.query("fsapp.ticket_status", {"serial": "00000018"}), n)
    row = {"survey": "bench", "question": "q1", "answer": "5"}
    written = per_op(lambda i: store.write("survey_answer", row, key=f"w-{label}-{i}"), n)
    down = Store({"main": DEAD}, spool_dir=work / f"spool-down-{label}", start=False, breaker_cooldown=600)
    spooled = per_op(lambda i: down.write("survey_answer", row, key=f"s-{label}-{i}"), n)
    print(f"{label:10s} query direct {base * 1e3:7.3f} ms  via store {pooled * 1e3:7.3f} ms  "
          f"ratio {pooled / base:5.2f} | write direct {written * 1e3:7.3f} ms  spooled {spooled * 1e3:7.3f} ms  "
          f"ratio {spooled / written:5.2f}")
    raw.close()
    store.close()
    down.close()


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        bench("sqlite", f"Driver={{SQLite3}};Database={work / 'b.db'}", n, work)
        for label, env in (("postgresql", "FSAPP_TEST_PG_ODBC"), ("mariadb", "FSAPP_TEST_MARIADB_ODBC")):
            if os.environ.get(env):
                admin = pyodbc.connect(os.environ[env], autocommit=True)
                name = f"fsapp_bench_{os.getpid()}"
                admin.cursor().execute(f"CREATE DATABASE {name}")
                try:
                    bench(label, os.environ[env].replace("Database=fsapp_test", f"Database={name}"), n, work)
                finally:
                    force = " WITH (FORCE)" if label == "postgresql" else ""
                    admin.cursor().execute(f"DROP DATABASE {name}{force}")


if __name__ == "__main__":
    main()

"""What fsapp.store adds to a query and to a write, against the same statement run with
pyodbc directly, on SQLite, PostgreSQL and MariaDB.

    source /tmp/fsapp-services/env
    .venv/bin/python bench/store.py --ops 300 --repeat 5 [--db sqlite postgresql mysql]

Each pair does the same work in the same process, alternating in order (bench/fair.py),
CPU time of the process (the hub and the store's worker thread) per operation:

* query: `store.query("fsapp.ticket_status", ...)` (its thread-pool hop, the pool, the
  breaker, the deadline, the row conversion) against `cursor.execute` of that named
  query's own SQL and parameters on a pyodbc connection of the bench, rows fetched.
* write: `store.write("survey_answer", ...)` (row checks, the group committer, the hop,
  insert-if-absent and its commit) against the same insert-if-absent SQL executed
  directly in autocommit.
* spooled: `store.write` with the database down (a server that refuses the connection,
  the breaker open after the first): the row goes to the outbox with an fsync. Shown on
  its own, as there is no direct counterpart.

The servers' own CPU (PostgreSQL, MariaDB) is not counted.
"""
from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import pyodbc  # noqa: E402

from databases import KINDS, database  # noqa: E402
from fair import alternate, ratios, spread  # noqa: E402

from fsapp.store import Store  # noqa: E402
from fsapp.store.rows import prepare_row  # noqa: E402

logging.getLogger("fsapp").setLevel(logging.CRITICAL)
DEAD = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=9;Database=x;Uid=x;Pwd=x"
ANSWER = {"survey": "bench", "question": "q1", "answer": "5", "call_uuid": "c-1"}


def bench(kind: str, odbc: str, ops: int, repeat: int, work: Path) -> None:
    store = Store({"main": odbc}, spool_dir=work / f"spool-{kind}", start=False)
    store.migrate()
    down = Store({"main": DEAD}, spool_dir=work / f"spool-down-{kind}", start=False, breaker_cooldown=600)
    raw = pyodbc.connect(odbc, autocommit=True)
    serial = store.next_ticket_serial()
    store.write("ticket", {"serial": serial, "kind": "complaint", "summary": "bench"}, key="bench:ticket")

    named = store.named_query("fsapp.ticket_status")
    args = named.bind({"serial": serial})
    table, _row = prepare_row("survey_answer", ANSWER, "k")
    columns = ["idem_key", *prepare_row("survey_answer", ANSWER, "k")[1]]
    insert_sql = store.dialect().insert_ignore(table.name, columns)
    counter = iter(range(10**9))

    def queries_direct():
        for _ in range(ops):
            raw.cursor().execute(named.sql, args).fetchall()

    def queries_via_store():
        for _ in range(ops):
            store.query("fsapp.ticket_status", {"serial": serial})

    def writes_direct():
        for _ in range(ops):
            _table, row = prepare_row("survey_answer", ANSWER, "k")
            raw.cursor().execute(insert_sql, [f"d-{next(counter)}", *row.values()])

    def writes_via_store():
        for _ in range(ops):
            assert store.write("survey_answer", ANSWER, key=f"s-{next(counter)}") == "written"

    def writes_spooled():
        for _ in range(ops):
            assert down.write("survey_answer", ANSWER, key=f"o-{next(counter)}") == "spooled"

    for what, sides in (("query", {"direct": queries_direct, "store": queries_via_store}),
                        ("write", {"direct": writes_direct, "store": writes_via_store})):
        cpu = alternate(sides, repeat)
        print(f"{kind:10s} {what:7s} CPU ms per op: direct {spread(cpu['direct'], 1e3 / ops, '{:.3f}')}  "
              f"store {spread(cpu['store'], 1e3 / ops, '{:.3f}')}  store/direct per round "
              f"{' '.join(f'{r:.2f}' for r in sorted(ratios(cpu['store'], cpu['direct'])))}")
    spooled = alternate({"spooled": writes_spooled}, repeat)["spooled"]
    print(f"{kind:10s} spooled CPU ms per op: {spread(spooled, 1e3 / ops, '{:.3f}')} (database down, outbox, fsync)")
    raw.close()
    store.close()
    down.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ops", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", nargs="+", default=list(KINDS), choices=KINDS)
    args = parser.parse_args()
    if args.repeat < 3:
        parser.error("--repeat must be >= 3")
    for kind in args.db:
        with tempfile.TemporaryDirectory() as tmp, database(kind, Path(tmp)) as odbc:
            bench(kind, odbc, args.ops, args.repeat, Path(tmp))


if __name__ == "__main__":
    main()

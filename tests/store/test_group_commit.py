"""Group commit (fsapp/store/group_commit.py): write_many calls that arrive together share
one transaction, on SQLite, PostgreSQL and MariaDB, and each still gets its own answer.

Commits are counted by the store's committer and, where the database shows it, by the
database itself: SQLite's file change counter (bytes 24-27 of the file's header, bumped
by every write transaction in the default rollback-journal mode) and, on PostgreSQL, a
trigger that notes the transaction each insert ran in (txid_current(): the top-level
transaction; not a row's xmin, which psqlodbc's per-statement savepoints make one per
statement)."""
import gevent
import pytest

from fsapp.store.connections import sqlite_path

CALLS = 20
# A PostgreSQL driver pointed at a port nobody listens on: "the database is down".
DEAD = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=9;Database=x;Uid=x;Pwd=x"


def count(store, table):
    return store.execute(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]


def ticket(serial):
    return {"serial": serial, "kind": "complaint", "category": "noise", "summary": "夜间施工噪音扰民",
            "caller_number": "13800138000", "handling_unit": "城管局"}


def answer(i):
    return {"survey": "after_call", "question": "q1", "answer": str(i % 5 + 1), "call_uuid": f"c{i}"}


def call_rows(call: str, visits: int = 3) -> list[tuple[str, dict, str]]:
    return [("node_visit", {"call_uuid": call, "flow": "hotline", "node": f"n{n}", "digits": str(n)},
             f"{call}:visit:{n}") for n in range(visits)]


def sqlite_commits(odbc: str) -> int:
    with open(sqlite_path(odbc), "rb") as fh:
        return int.from_bytes(fh.read(28)[24:28], "big")


def all_at_once(store, writes: list[list]) -> list[list[str]]:
    """Each write_many in its own greenlet (a call ending), all started together."""
    callers = [gevent.spawn(store.write_many, rows) for rows in writes]
    gevent.joinall(callers, timeout=60, raise_error=True)
    return [c.value for c in callers]


def test_calls_ending_together_share_one_commit(db, make_store, pg_notes):
    """20 calls end at once: their 60 rows go in fewer commits than calls (one, as the
    20 queue before the committer first runs), and each call hears about its own rows."""
    store = make_store({"main": db.odbc}, start=False)
    if db.kind == "postgresql":
        pg_notes(store)
    store.write_many(call_rows("warm-up", 1))       # the connection is open, the file exists
    batches = store.committer.batches
    before = sqlite_commits(db.odbc) if db.kind == "sqlite" else None

    statuses = all_at_once(store, [call_rows(f"call{i}") for i in range(CALLS)])

    assert statuses == [["written"] * 3] * CALLS
    assert count(store, "fsapp_node_visits") == 1 + 3 * CALLS
    assert store.committer.batches - batches == 1
    if db.kind == "sqlite":
        assert sqlite_commits(db.odbc) - before == 1
    if db.kind == "postgresql":
        xacts = store.execute("SELECT COUNT(*) AS n, COUNT(DISTINCT xid) AS x FROM probe_notes")[0]
        assert xacts == {"n": 1 + 3 * CALLS, "x": 1 + 1}          # the warm-up's and the batch's


def test_a_row_refused_in_a_shared_batch_is_spooled_alone(db, make_store):
    """One call's ticket reuses a serial (another unique constraint refuses it; PostgreSQL
    aborts the shared transaction on it): that row is spooled, every other row of every
    call in the batch, that call's own included, is written."""
    store = make_store({"main": db.odbc}, start=False)
    serial = store.next_ticket_serial()
    assert store.write("ticket", ticket(serial), key="first:ticket") == "written"
    batches = store.committer.batches
    writes = [call_rows("a", 2),
              [*call_rows("b", 1), ("ticket", ticket(serial), "b:ticket"), *call_rows("b2", 1)],
              call_rows("c", 1)]

    statuses = all_at_once(store, writes)

    assert statuses == [["written", "written"], ["written", "spooled", "written"], ["written"]]
    assert store.committer.batches - batches == 1                  # they did share a batch
    assert count(store, "fsapp_node_visits") == 5 and count(store, "fsapp_tickets") == 1
    assert store.outbox.status()["pending"] == 1
    keys = {r["idem_key"] for r in store.execute("SELECT idem_key FROM fsapp_node_visits")}
    assert keys == {"a:visit:0", "a:visit:1", "b:visit:0", "b2:visit:0", "c:visit:0"}


def test_calls_ending_together_with_the_database_down_are_all_spooled(make_store, tmp_path):
    store = make_store({"main": {"odbc": DEAD, "connect_timeout": 2}}, migrate=False, breaker_failures=1,
                       breaker_cooldown=60, spool=tmp_path / "spool", start=False)
    writes = [[("survey_answer", answer(i), f"call-{i}:q{q}") for q in range(2)] for i in range(5)]
    assert all_at_once(store, writes) == [["spooled"] * 2] * 5
    assert store.outbox.status()["pending"] == 10
    assert store.committer.batches == 1                               # one try, one fsync'd append


def test_a_caller_killed_while_its_batch_is_written_loses_nothing(sqlite_odbc, make_store):
    """A call hung up (its greenlet killed) while waiting for its write: the committer,
    not the caller, sees the batch through."""
    store = make_store({"main": sqlite_odbc}, start=False)
    caller = gevent.spawn(store.write_many, call_rows("gone"))
    gevent.sleep(0)                                   # it queued its rows and waits
    assert store.committer.pending() == 1
    caller.kill()
    store.committer.finish(timeout=60)
    assert count(store, "fsapp_node_visits") == 3


@pytest.mark.parametrize("queued", [1, 7])
def test_a_batch_is_never_larger_than_its_cap_but_takes_at_least_one_write(sqlite_odbc, make_store, queued):
    store = make_store({"main": sqlite_odbc}, start=False)
    store.committer.max_batch_rows = 5
    statuses = all_at_once(store, [call_rows(f"call{i}", 3) for i in range(queued)]
                           + [call_rows("big", 8)])      # more rows than the cap: a batch of its own
    assert statuses == [["written"] * 3] * queued + [["written"] * 8]
    assert store.committer.batches == queued + 1      # 3 + 3 > 5: one call per batch

"""fsapp's own tables on SQLite, PostgreSQL and MariaDB: the same assertions on each."""
import datetime as dt
from pathlib import Path

import gevent
import pytest

from fsapp.store import QueryError, QueryTimeout, StoreConfigError, UnknownQuery, is_valid_serial
from fsapp.store.migrations import LATEST, MIGRATIONS

ROOT = Path(__file__).resolve().parents[2]
QUERIES = ROOT / "queries"


def ticket(serial, **kw):
    row = {"serial": serial, "kind": "complaint", "category": "noise", "summary": "夜间施工噪音扰民",
           "caller_number": "13800138000", "language": "zh-CN", "menu_path": "main>2>3",
           "recording_path": "/var/rec/a.wav", "handling_unit": "城管局"}
    row.update(kw)
    return row


def count(store, table):
    return store.execute(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]


def test_migrate_init_and_version(db, make_store):
    store = make_store({"main": db.odbc}, migrate=False)
    assert store.schema_version() is None
    assert store.migrate() == [m.version for m in MIGRATIONS]   # 1, 2, ...: from empty to LATEST
    assert store.schema_version() == LATEST
    assert store.migrate() == []
    with pytest.raises(StoreConfigError, match="already has fsapp tables"):
        store.migrate(require_empty=True)
    assert store.dialect().name == db.kind


def test_every_kind_round_trips_with_types(db, make_store):
    store = make_store({"main": db.odbc}, queries_dir=QUERIES)
    serial = store.next_ticket_serial()
    reminder = dt.datetime(2026, 11, 30, 9, 0, 0, 123456)
    assert store.write("ticket", ticket(serial, reminder_at=reminder, agent_id="1001"), key="c1:ticket") == "written"
    assert store.write("recording", {"path": "/var/rec/a.wav", "purpose": "complaint", "duration_ms": 15230,
                                     "ticket_serial": serial, "call_uuid": "c1"}, key="c1:rec") == "written"
    assert store.write("survey_answer", {"survey": "after_call", "question": "q1", "answer": "5",
                                         "agent_id": "1001", "call_uuid": "c1"}, key="c1:q1") == "written"
    assert store.write("call_record", {"call_uuid": "c1", "caller_number": "13800138000",
                                       "destination": "12345", "started_at": dt.datetime(2026, 11, 28, 8, 0),
                                       "ended_at": dt.datetime(2026, 11, 28, 8, 3, 5), "duration_ms": 185000,
                                       "hangup_cause": "NORMAL_CLEARING", "flow": "hotline"},
                       key="c1:cdr") == "written"
    assert store.write("queue_event", {"call_uuid": "c1", "queue_name": "complaints", "event": "answered",
                                       "agent_id": "1001", "wait_ms": 4200}, key="c1:qe1") == "written"
    assert store.write("node_visit", {"call_uuid": "c1", "flow": "hotline", "node": "main_menu",
                                      "digits": "2"}, key="c1:n1") == "written"
    # The same key again is a no-op: that is what makes outbox replay exactly-once.
    assert store.write("ticket", ticket(serial), key="c1:ticket") == "duplicate"
    for table in ("fsapp_tickets", "fsapp_recordings", "fsapp_survey_answers", "fsapp_call_records",
                  "fsapp_queue_events", "fsapp_node_visits"):
        assert count(store, table) == 1, table

    row = store.execute("SELECT * FROM fsapp_tickets")[0]
    assert row["serial"] == serial and is_valid_serial(serial)
    assert row["summary"] == "夜间施工噪音扰民" and row["handling_unit"] == "城管局"
    assert row["status"] == "accepted"
    assert row["reminder_at"] == reminder.replace(microsecond=123000)
    assert isinstance(row["accepted_at"], dt.datetime)
    status = store.query_one("hotline.ticket_status", {"serial": serial})
    assert status == {"serial": serial, "status": "accepted", "handling_unit": "城管局", "result": None,
                      "accepted_at": row["accepted_at"], "closed_at": None}
    assert store.query_one("hotline.ticket_status", {"serial": "00000026"}) is None
    answers = store.query("fsapp.survey_results", {"survey": "after_call"})
    assert answers == [{"question": "q1", "answer": "5", "answers": 1}]


def test_overdue_tickets_for_supervisors(db, make_store):
    store = make_store({"main": db.odbc}, queries_dir=QUERIES)
    now = dt.datetime(2026, 11, 28, 12, 0)
    s = [store.next_ticket_serial() for _ in range(5)]
    store.write("ticket", ticket(s[0], reminder_at=now - dt.timedelta(hours=1)), key="k0")        # overdue
    store.write("ticket", ticket(s[1], reminder_at=now + dt.timedelta(hours=1)), key="k1")        # not yet
    store.write("ticket", ticket(s[2], reminder_at=now - dt.timedelta(days=2), status="closed",
                                 result="已处理", closed_at=now - dt.timedelta(days=1)), key="k2")  # closed
    store.write("ticket", ticket(s[3], kind="work_order", category="water_pressure",
                                 due_at=now - dt.timedelta(minutes=5), status="in_progress"), key="k3")  # due passed
    store.write("ticket", ticket(s[4]), key="k4")                                                  # no reminder
    overdue = store.query("fsapp.overdue_tickets", {"as_of": now})
    assert [r["serial"] for r in overdue] == [s[0], s[3]]
    assert overdue[1]["status"] == "in_progress" and overdue[1]["kind"] == "work_order"
    # Without as_of the query uses the current time: everything above is in 2026-11.
    assert {r["serial"] for r in store.query("fsapp.overdue_tickets", {"as_of": "2026-11-28T12:00:00"})} == {s[0], s[3]}


INJECTIONS = [
    "13800138000' OR '1'='1",
    "1'; DROP TABLE fsapp_tickets; --",
    "00000018 OR 1=1",
    "' UNION SELECT serial, status, handling_unit, result, accepted_at, closed_at FROM fsapp_tickets --",
    "*#*#1\\'",
]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_caller_input_crafted_as_sql_injection_is_only_ever_data(db, make_store, evil):
    store = make_store({"main": db.odbc}, queries_dir=QUERIES)
    serial = store.next_ticket_serial()
    store.write("ticket", ticket(serial), key="real")
    # DTMF / caller id values go in as bound parameters: no rows match, nothing breaks.
    assert store.query("hotline.ticket_status", {"serial": evil}) == []
    assert store.query("hotline.open_tickets_of_caller", {"caller_number": evil}) == []
    # And stored verbatim when written.
    store.write("survey_answer", {"survey": "s", "question": "q", "answer": evil[:40], "caller_number": evil[:40]},
                key=f"evil-{serial}")
    row = store.execute("SELECT answer, caller_number FROM fsapp_survey_answers")[0]
    assert row == {"answer": evil[:40], "caller_number": evil[:40]}
    assert count(store, "fsapp_tickets") == 1


def test_bad_rows_and_names_fail_loudly(db, make_store):
    store = make_store({"main": db.odbc}, queries_dir=QUERIES)
    with pytest.raises(ValueError, match="unknown column.*colour.*fsapp_tickets has: serial"):
        store.write("ticket", {**ticket(store.next_ticket_serial()), "colour": "red"}, key="x")
    with pytest.raises(ValueError, match="unknown write kind 'tickets'"):
        store.write("tickets", {}, key="x")
    with pytest.raises(ValueError, match="not a valid serial"):
        store.write("ticket", ticket("12345678"), key="x")
    with pytest.raises(ValueError, match="column survey is required"):
        store.write("survey_answer", {"question": "q"}, key="x")
    with pytest.raises(UnknownQuery, match="queries"):
        store.query("hotline.no_such_query")
    with pytest.raises(StoreConfigError, match="connection 'billing', which is not configured"):
        store.query("utility.district", {"account_no": "1"})
    with pytest.raises(QueryError):
        store.execute("SELECT no_such_column FROM fsapp_tickets")
    # A rejected statement says nothing about the server: the breaker stays closed.
    assert store.breakers["main"].state == "closed"
    assert store.query("hotline.ticket_status", {"serial": "00000018"}) == []


def test_serials_unique_across_workers(db, make_store, tmp_path):
    a = make_store({"main": db.odbc}, serial_block=7, spool=tmp_path / "wa")
    b = make_store({"main": db.odbc}, serial_block=7, migrate=False, spool=tmp_path / "wb")
    jobs = [gevent.spawn(s.next_ticket_serial) for _ in range(30) for s in (a, b)]
    gevent.joinall(jobs, timeout=60, raise_error=True)
    serials = [j.value for j in jobs]
    assert len(set(serials)) == 60 and all(is_valid_serial(s) for s in serials)


@pytest.mark.parametrize("db", [pytest.param("postgresql", marks=pytest.mark.postgres),
                                pytest.param("mysql", marks=pytest.mark.mariadb)], indirect=True)
def test_query_timeout_then_connection_still_usable(db, make_store):
    store = make_store({"main": db.odbc}, migrate=False)
    slow = "SELECT pg_sleep(5)" if db.kind == "postgresql" else "SELECT SLEEP(5)"
    with pytest.raises(QueryTimeout):
        store.execute(slow, timeout=1)
    assert store.execute("SELECT 1 AS one") == [{"one": 1}]
    assert store.breakers["main"].state == "closed"   # one timeout is below the threshold


@pytest.mark.postgres
def test_pool_exhaustion_is_a_timeout_not_a_hang(pg_database, make_store):
    # The caller's deadline is query timeout + connect timeout + a little: 0.5 + 1 + 0.25 s here.
    store = make_store({"main": {"odbc": pg_database, "pool_size": 1, "connect_timeout": 1}}, migrate=False)
    import pyodbc
    holder = pyodbc.connect(pg_database, autocommit=True, timeout=10)
    holder.cursor().execute("SELECT pg_advisory_lock(4243)").fetchall()
    try:
        # the slow query holds the only connection until the test lets go of the lock
        slow = gevent.spawn(store.execute, "SELECT pg_advisory_lock(4243)", timeout=120)
        with gevent.Timeout(120, AssertionError("the slow query never reached the lock")):
            while not holder.cursor().execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' "
                                              "AND NOT granted AND objid = 4243 AND database = "
                                              "(SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0]:
                gevent.sleep(0.02)
        with pytest.raises(QueryTimeout, match="all 1 pooled connections busy"):
            store.execute("SELECT 1", timeout=0.5)
    finally:
        holder.cursor().execute("SELECT pg_advisory_unlock(4243)").fetchall()
        holder.close()
    slow.join(120)
    assert slow.successful()
    assert store.execute("SELECT 1 AS one") == [{"one": 1}]


def test_long_text_with_chinese_round_trips_intact(db, make_store):
    # MariaDB Connector/ODBC returned values past ~256 bytes misaligned under pyodbc's
    # default UTF-16 decoding ('mailbox_record' came back as 'm椀氀戀漀砀...').
    store = make_store({"main": db.odbc}, queries_dir=QUERIES)
    serial = store.next_ticket_serial()
    path = ">".join(["welcome", "offer_english", "language", "mandarin", "notice_check", "hours",
                     "staffed", "main_menu", "mailbox", "mailbox_intro", "mailbox_serial",
                     "mailbox_record", "mailbox_ticket"] * 2) + ">市长信箱"
    summary = "夜间施工噪音扰民，" * 20
    assert store.write("ticket", ticket(serial, menu_path=path[:200], summary=summary[:200]),
                       key="long:ticket") == "written"
    row = store.execute("SELECT menu_path, summary FROM fsapp_tickets")[0]
    assert row == {"menu_path": path[:200], "summary": summary[:200]}


def visit(n, **kw):
    return ("node_visit", {"call_uuid": "c1", "flow": "hotline", "node": f"n{n}", "digits": str(n), **kw},
            f"c1:visit:{n}")


def test_write_many_is_one_commit_and_says_what_each_row_became(db, make_store):
    """A call's node visits in one write_many: each row written, or duplicate when its key
    is there already; a row another unique constraint refuses (a ticket serial used under
    another key) is spooled alone and the rest are written, on every database (PostgreSQL
    aborts the whole transaction on the refused row: the batch is redone row by row)."""
    store = make_store({"main": db.odbc}, start=False)
    assert store.write_many([visit(1), visit(2), visit(3)]) == ["written"] * 3
    assert store.write_many([visit(3), visit(4)]) == ["duplicate", "written"]
    assert store.write_many([]) == []
    serial = store.next_ticket_serial()
    assert store.write("ticket", ticket(serial), key="c1:ticket") == "written"
    statuses = store.write_many([visit(5), ("ticket", ticket(serial), "c2:ticket"), visit(6)])
    assert statuses == ["written", "spooled", "written"]
    assert count(store, "fsapp_node_visits") == 6 and count(store, "fsapp_tickets") == 1
    assert store.outbox.status()["pending"] == 1
    rows = store.execute("SELECT node, digits FROM fsapp_node_visits ORDER BY node")
    assert [(r["node"], r["digits"]) for r in rows] == [(f"n{n}", str(n)) for n in range(1, 7)]
    # a bad row is a bug to fix: refused before anything is written
    with pytest.raises(ValueError, match="unknown column"):
        store.write_many([visit(7), visit(8, colour="red")])
    assert count(store, "fsapp_node_visits") == 6

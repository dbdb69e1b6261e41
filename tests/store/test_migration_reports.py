"""Migration 2 (the reports' records) upgrades a database that has migration 1 and rows in
it, on SQLite, PostgreSQL and MariaDB; the new kinds and columns round-trip."""
import datetime as dt

from fsapp.store import migrations
from fsapp.store.rows import now

DEAD = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=9;Database=x;Uid=x;Pwd=x"   # nothing listens


def migrate_to_1(store):
    dialect = store.dialect()
    statements = migrations.bootstrap_statements(dialect) + migrations.MIGRATIONS[0].statements(dialect)
    for sql in statements:
        store.execute(sql)
    store.execute("INSERT INTO fsapp_schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                  (1, migrations.MIGRATIONS[0].description[:200], now()))


def test_upgrade_from_1_keeps_rows_and_adds_the_report_records(db, make_store):
    store = make_store({"main": db.odbc}, migrate=False)
    migrate_to_1(store)
    assert store.schema_version() == 1
    old = dt.datetime(2026, 12, 1, 9, 0, 5)
    store.execute("INSERT INTO fsapp_queue_events (idem_key, call_uuid, queue_name, event, wait_ms, event_at, "
                  "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", ("k1", "c1", "hotline", "answered", 5000, old, old))
    assert store.migrate() == [m.version for m in migrations.MIGRATIONS if m.version > 1]   # 2 and on
    assert store.schema_version() == migrations.LATEST
    row = store.execute("SELECT event, wait_ms, talk_ms, wrap_up_ms FROM fsapp_queue_events")[0]
    assert row == {"event": "answered", "wait_ms": 5000, "talk_ms": None, "wrap_up_ms": None}

    at = dt.datetime(2026, 12, 1, 9, 0, 10, 250000)
    assert store.write("queue_event", {"call_uuid": "c1", "queue_name": "hotline", "event": "completed",
                                       "agent_id": "1001", "wait_ms": 5000, "talk_ms": 61500, "hold_ms": 0,
                                       "wrap_up_ms": 10000, "caller_number": "13800138000", "event_at": at},
                       key="c1:completed") == "written"
    assert store.write("offer", {"call_uuid": "c1", "queue_name": "hotline", "agent_id": "1001",
                                 "ring_at": at, "ended_at": at + dt.timedelta(seconds=3), "result": "answered"},
                       key="leg1:offer") == "written"
    assert store.write("agent_state", {"agent_id": "1001", "status": "On Break", "reason": "lunch",
                                       "changed_at": at}, key="agent:1001:1") == "written"
    assert store.write("node_visit", {"call_uuid": "c1", "flow": "hotline", "node": "menu", "flow_version": "3",
                                      "no_inputs": 1, "invalid_inputs": 2}, key="c1:visit:1") == "written"
    done = store.execute("SELECT talk_ms, wrap_up_ms, caller_number, event_at FROM fsapp_queue_events "
                         "WHERE event = 'completed'")[0]
    assert done == {"talk_ms": 61500, "wrap_up_ms": 10000, "caller_number": "13800138000", "event_at": at}
    offer = store.execute("SELECT agent_id, result, ring_at FROM fsapp_offers")[0]
    assert offer == {"agent_id": "1001", "result": "answered", "ring_at": at}
    state = store.execute("SELECT agent_id, status, reason FROM fsapp_agent_states")[0]
    assert state == {"agent_id": "1001", "status": "On Break", "reason": "lunch"}
    visit = store.execute("SELECT no_inputs, invalid_inputs, flow_version FROM fsapp_node_visits")[0]
    assert visit == {"no_inputs": 1, "invalid_inputs": 2, "flow_version": "3"}


def test_migration_2_ddl_for_every_dialect_names_each_added_column_once():
    from fsapp.store.dialects import DIALECTS
    for dialect in DIALECTS.values():
        sql = migrations.MIGRATIONS[1].statements(dialect)
        alters = [s for s in sql if s.startswith("ALTER TABLE")]
        assert len(alters) == len({s.split(" ADD ")[1] for s in alters}) == 10, dialect.name
        assert any("CREATE TABLE fsapp_offers" in s for s in sql)


def test_report_records_spool_while_the_database_is_down_and_replay_once(db, make_store, tmp_path):
    at = dt.datetime(2026, 12, 7, 9, 0, 10)
    rows = [("offer", {"call_uuid": "c1", "queue_name": "hotline", "agent_id": "1001", "ring_at": at,
                       "ended_at": at, "result": "answered"}, "leg1:offer"),
            ("agent_state", {"agent_id": "1001", "status": "Available", "changed_at": at}, "agent:1001:1"),
            ("queue_event", {"call_uuid": "c1", "queue_name": "hotline", "event": "completed", "agent_id": "1001",
                             "talk_ms": 61000, "wrap_up_ms": 10000, "event_at": at}, "c1:completed")]
    spool = tmp_path / "spool"
    down = make_store({"main": DEAD}, migrate=False, breaker_failures=1, breaker_cooldown=60, spool=spool)
    assert [down.write(kind, row, key) for kind, row, key in rows] == ["spooled"] * 3
    down.close()
    up = make_store({"main": db.odbc}, spool=spool, start=False)
    assert up.replay_outbox().replayed == 3
    assert up.replay_outbox().replayed == 0
    assert up.execute("SELECT talk_ms FROM fsapp_queue_events")[0]["talk_ms"] == 61000
    assert [r["n"] for r in up.execute("SELECT COUNT(*) AS n FROM fsapp_offers UNION ALL "
                                       "SELECT COUNT(*) AS n FROM fsapp_agent_states")] == [1, 1]

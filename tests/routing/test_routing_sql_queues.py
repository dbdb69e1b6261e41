"""Queues from a SQL table (routing.yaml `queues_query`), through the real store on SQLite."""
import pyodbc
import pytest

from fsapp import config as config_mod
from fsapp.calendar import SourceError
from fsapp.routing.config import add_sql_queues, loads_routing
from fsapp.routing.state import open_state
from tests.fsapp_toml import write_fsapp_toml

QUERY = """-- name: queues
-- Queues maintained by the call-center's own admin tool.
SELECT name, strategy, max_wait_time, moh_sound FROM acd_queues ORDER BY name;
"""


@pytest.fixture
def sql_setup(sqlite_odbc, tmp_path):
    db = pyodbc.connect(sqlite_odbc, autocommit=True)
    db.execute("CREATE TABLE acd_queues (name TEXT, strategy TEXT, max_wait_time INTEGER, moh_sound TEXT)")
    db.execute("INSERT INTO acd_queues VALUES ('water_billing', 'round-robin', 300, NULL)")
    db.execute("INSERT INTO acd_queues VALUES ('water_repairs', NULL, NULL, 'local_stream://moh2')")
    db.close()
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "acd.sql").write_text(QUERY)
    (tmp_path / "routing.yaml").write_text("""
queues_query: acd.queues
queues:
  hotline: {}
agents:
  "1001": {contact: user/1001, status: Available}
tiers:
  - {queue: water_billing, agent: "1001"}
""")
    write_fsapp_toml(tmp_path, {
        "routing": {"config": tmp_path / "routing.yaml"},
        "store": {"queries": tmp_path / "queries", "spool": tmp_path / "spool",
                  "connections": {"main": {"odbc": sqlite_odbc}}}})
    return tmp_path


def test_queues_come_from_the_table(sql_setup):
    cfg = config_mod.load(sql_setup / "fsapp.toml", env={})
    routing, backend = open_state(cfg)
    assert sorted(routing.queues) == ["hotline", "water_billing", "water_repairs"]
    billing = routing.queue("water_billing")
    assert (billing.strategy, billing.max_wait_time) == ("round-robin", 300.0)
    repairs = routing.queue("water_repairs")
    assert (repairs.strategy, repairs.moh_sound) == ("longest-idle-agent", "local_stream://moh2")
    assert [t.agent for t in backend.tiers(queue="water_billing")] == ["1001"]


def test_bad_rows_name_the_query_and_row():
    cfg = loads_routing("queues_query: acd.queues\nqueues:\n  hotline: {}\n", "r.yaml")
    with pytest.raises(SourceError, match=r"query acd.queues:2: unknown strategy 'fast'"):
        add_sql_queues(cfg, [{"name": "a"}, {"name": "b", "strategy": "fast"}], "query acd.queues")
    with pytest.raises(SourceError, match="also defined in r.yaml"):
        add_sql_queues(cfg, [{"name": "hotline"}], "query acd.queues")
    with pytest.raises(SourceError, match="needs a 'name' column"):
        add_sql_queues(cfg, [{"strategy": "random"}], "query acd.queues")
    orphan = loads_routing("queues_query: q\nagents:\n  a: {contact: user/a}\ntiers:\n  - {queue: nowhere, agent: a}\n",
                           "r.yaml")
    with pytest.raises(SourceError, match="unknown queue 'nowhere'"):
        add_sql_queues(orphan, [], "query q")

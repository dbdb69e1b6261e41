"""Consecutive rows of one table with the same columns go as one multi-row INSERT
(fsapp/store/inserts.py), on SQLite, PostgreSQL and MariaDB: every row lands in its own
columns, a row already there still answers "duplicate", and a run longer than one
statement's parameters takes several statements."""
import pytest

from fsapp.store import inserts
from fsapp.store.schema import WRITE_KINDS



def count(store, table):
    return store.execute(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"]


def call_rows(call: str, visits: int) -> list[tuple[str, dict, str]]:
    return [visit(call, n) for n in range(visits)]


def visit(call: str, n: int, **extra) -> tuple[str, dict, str]:
    return ("node_visit", {"call_uuid": call, "flow": "hotline", "node": f"n{n}", "digits": str(n), **extra},
            f"{call}:visit:{n}")


def test_runs_are_cut_where_the_table_or_the_columns_change():
    table = WRITE_KINDS["node_visit"]
    other = WRITE_KINDS["ticket"]
    a, b = {"x": 1, "y": 2}, {"y": 2, "x": 1}          # the same keys in another order
    items = [(table, a, "1"), (table, a, "2"), (other, a, "3"), (table, a, "4"), (table, b, "5")]
    assert [[key for _t, _r, key in run] for run in inserts._runs(items)] == [["1", "2"], ["3"], ["4"], ["5"]]


@pytest.mark.postgres
def test_a_calls_visits_are_one_statement(pg_database, make_store, pg_notes):
    """Counted by PostgreSQL itself: a statement-level trigger on the visits' table."""
    pg_store = make_store({"main": pg_database}, start=False)
    pg_notes(pg_store, each="STATEMENT")
    rows = [*call_rows("a", 18), ("ticket", {"serial": "00000018", "kind": "mailbox", "category": "x",
                                             "summary": "s"}, "a:ticket"), *call_rows("b", 2)]
    assert pg_store.write_many(rows) == ["written"] * 21
    assert count(pg_store, "fsapp_node_visits") == 20
    assert count(pg_store, "probe_notes") == 2          # a's 18 visits, then b's 2


def test_every_value_lands_in_its_own_column(db, make_store):
    store = make_store({"main": db.odbc}, start=False)
    rows = [visit("c", n) for n in range(5)]
    reordered = ("node_visit", {"digits": "77", "node": "last", "flow": "hotline", "call_uuid": "c"}, "c:visit:9")
    assert store.write_many([*rows, reordered]) == ["written"] * 6
    got = store.execute("SELECT idem_key, call_uuid, flow, node, digits FROM fsapp_node_visits ORDER BY idem_key")
    assert got == [{"idem_key": f"c:visit:{n}", "call_uuid": "c", "flow": "hotline", "node": f"n{n}",
                    "digits": str(n)} for n in range(5)] + [
        {"idem_key": "c:visit:9", "call_uuid": "c", "flow": "hotline", "node": "last", "digits": "77"}]


def test_rows_already_there_answer_duplicate_and_the_others_go_in(db, make_store):
    """A replay of a batch that partly made it: the multi-row INSERT inserts fewer rows than
    it carries, so the transaction goes again row by row and each row gets its answer."""
    store = make_store({"main": db.odbc}, start=False)
    assert store.write_many([visit("r", 1), visit("r", 3)]) == ["written", "written"]
    statuses = store.write_many([visit("r", n) for n in range(5)])
    assert statuses == ["written", "duplicate", "written", "duplicate", "written"]
    assert count(store, "fsapp_node_visits") == 5


def test_a_run_longer_than_one_statement_takes_several(db, make_store, monkeypatch):
    monkeypatch.setattr(inserts, "MAX_PARAMS_PER_STATEMENT", 20)       # 4 visits of 5 values each
    store = make_store({"main": db.odbc}, start=False)
    assert store.write_many([visit("long", n) for n in range(11)]) == ["written"] * 11
    nodes = {r["node"] for r in store.execute("SELECT node FROM fsapp_node_visits")}
    assert nodes == {f"n{n}" for n in range(11)}

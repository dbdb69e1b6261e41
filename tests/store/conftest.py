"""Store test fixtures. `db` (tests/conftest.py) is parametrised over SQLite, PostgreSQL
and MariaDB, each a fresh throwaway database, so every store test runs the same
assertions against all three."""
import subprocess
from pathlib import Path

import pyodbc
import pytest

from fsapp.store import Store

pyodbc.pooling = False


@pytest.fixture
def make_store(tmp_path):
    """Build Stores that are closed after the test; migrate=True creates fsapp's tables."""
    stores = []

    def make(connections, *, migrate=True, queries_dir=None, spool=None, **kw):
        kw.setdefault("query_timeout", 10.0)
        store = Store(connections, queries_dir=queries_dir,
                      spool_dir=spool or tmp_path / f"spool{len(stores)}", **kw)
        stores.append(store)
        if migrate:
            store.migrate()
        return store
    yield make
    for store in stores:
        store.close()


def note_pg_inserts(store, each: str = "ROW") -> None:
    """A PostgreSQL trigger on fsapp_node_visits that adds a row to probe_notes, holding the
    transaction it ran in (txid_current(): the top-level one; not a row's xmin, which
    psqlodbc's per-statement savepoints make one per statement), for each inserted row
    (each="ROW") or for each INSERT statement (each="STATEMENT"): what the database itself
    saw, for tests that count transactions or statements."""
    assert each in ("ROW", "STATEMENT")
    store.execute_script(f"""
        CREATE TABLE probe_notes (xid BIGINT);
        CREATE FUNCTION probe_note() RETURNS trigger LANGUAGE plpgsql AS
          'BEGIN INSERT INTO probe_notes VALUES (txid_current()); RETURN NULL; END';
        CREATE TRIGGER probe_visits AFTER INSERT ON fsapp_node_visits
          FOR EACH {each} EXECUTE FUNCTION probe_note()""")


@pytest.fixture
def pg_notes():
    return note_pg_inserts


@pytest.fixture
def services(request):
    """scripts/services.sh stop|start NAME, for the outage tests (the only ones that may).
    They must carry the pg_outage marker: it keeps them out of test runs that share the
    server (and out of the parallel pass of `make test`)."""
    if request.node.get_closest_marker("pg_outage") is None:
        pytest.fail(f"{request.node.nodeid} stops a shared service: mark it pytest.mark.pg_outage")
    root = Path(__file__).resolve().parents[2]

    def run(*args):
        subprocess.run([str(root / "scripts" / "services.sh"), *args], check=True, timeout=120)
    return run

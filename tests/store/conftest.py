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

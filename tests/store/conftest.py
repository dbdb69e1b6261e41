"""Store test fixtures: one fresh, isolated database per test on each real server.

`db` is parametrised over SQLite (file in tmp_path), PostgreSQL and MariaDB (a new
database named fsapp_t_<random> on the servers from scripts/services.sh, dropped
afterwards), so each store test runs the same assertions against all three and
repeated runs on the same servers never see each other's rows.
"""
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pyodbc
import pytest

from fsapp.store import Store

pyodbc.pooling = False


@dataclass
class Db:
    kind: str          # sqlite | postgresql | mysql
    odbc: str


@pytest.fixture(params=[
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mariadb),
])
def db(request, sqlite_odbc) -> Db:
    if request.param == "sqlite":
        return Db("sqlite", sqlite_odbc)
    if request.param == "postgresql":
        return Db("postgresql", request.getfixturevalue("pg_database"))
    return Db("mysql", request.getfixturevalue("mariadb_database"))


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
def services():
    """scripts/services.sh stop|start NAME, for the outage tests (the only ones that may)."""
    root = Path(__file__).resolve().parents[2]

    def run(*args):
        subprocess.run([str(root / "scripts" / "services.sh"), *args], check=True, timeout=120)
    return run

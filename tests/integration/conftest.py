"""Fixtures of the end-to-end tests: a throwaway PostgreSQL database per test, with fsapp's
tables, and control of the PostgreSQL server itself for the outage tests.

The outage tests stop and restart the real server of scripts/services.sh (the server the
FSAPP_TEST_PG_ODBC string points at), so they carry the `pg_outage` marker: in one pytest
process tests run one after another, and each outage lasts a few seconds; a second pytest
session sharing the server at the same time should deselect them (-m "not pg_outage").
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pyodbc
import pytest

from fsapp.store import Store

from .itline import server_port

pyodbc.pooling = False
ROOT = Path(__file__).resolve().parents[2]


def pytest_configure(config):
    config.addinivalue_line("markers", "pg_outage: stops and restarts the PostgreSQL server of "
                                       "scripts/services.sh; never run concurrently with other "
                                       "PostgreSQL users (deselect with -m 'not pg_outage')")


@pytest.fixture
def it_database(pg_database, tmp_path) -> str:
    """ODBC string of a throwaway PostgreSQL database holding fsapp's tables."""
    with Store({"main": pg_database}, spool_dir=tmp_path / "setup-spool", start=False) as store:
        store.migrate()
    return pg_database


class PostgresServer:
    """Stop/start the PostgreSQL server of scripts/services.sh that `odbc` points at."""

    def __init__(self, odbc: str):
        self.odbc = odbc
        self.port = server_port(odbc)
        self.stopped = False

    def _services(self, verb: str) -> None:
        env = {**os.environ, "FSAPP_PG_PORT": str(self.port)}   # start must listen where we connect
        subprocess.run([str(ROOT / "scripts" / "services.sh"), verb, "postgres"], env=env, check=True,
                       timeout=120, stdout=subprocess.DEVNULL)

    def stop(self) -> None:
        self.stopped = True
        self._services("stop")

    def start(self) -> None:
        self._services("start")
        self.stopped = False


@pytest.fixture
def postgres_server(it_database, pg_odbc):
    """The outage tests' handle on the server. Depends on it_database so that the server is
    running again (this teardown) before that fixture drops the database."""
    match = re.search(r"(?i)(?:^|;)\s*Server=([^;]*)", pg_odbc)
    host = match.group(1).strip() if match else ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        pytest.fail(f"the outage tests stop PostgreSQL through scripts/services.sh; "
                    f"FSAPP_TEST_PG_ODBC points at {host!r}, not a local server it started")
    server = PostgresServer(pg_odbc)
    yield server
    if server.stopped:             # a test that failed between stop() and its own finally
        server.start()

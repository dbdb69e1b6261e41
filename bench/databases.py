"""The databases the store benchmarks run on: SQLite in a file of the run's own, and
PostgreSQL and MariaDB on the servers of FSAPP_TEST_PG_ODBC / FSAPP_TEST_MARIADB_ODBC
(`source /tmp/fsapp-services/env`), each in a database made for the run and dropped after."""
from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import pyodbc

KINDS = ("sqlite", "postgresql", "mysql")
SERVER_VARIABLES = {"postgresql": "FSAPP_TEST_PG_ODBC", "mysql": "FSAPP_TEST_MARIADB_ODBC"}


@contextlib.contextmanager
def database(kind: str, work: Path):
    """Yield the ODBC connection string of a fresh database of this kind."""
    if kind == "sqlite":
        yield f"Driver={{SQLite3}};Database={work / 'bench.db'}"
        return
    admin_odbc = os.environ.get(SERVER_VARIABLES[kind])
    if not admin_odbc:
        raise SystemExit(f"{kind}: set {SERVER_VARIABLES[kind]} (source /tmp/fsapp-services/env)")
    name = f"fsapp_bench_{os.getpid()}"
    admin = pyodbc.connect(admin_odbc, autocommit=True, timeout=10)
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        yield re.sub(r"(?i)(Database=)[^;]*", lambda m: m.group(1) + name, admin_odbc)
    finally:
        force = " WITH (FORCE)" if kind == "postgresql" else ""
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.close()

"""Named connection settings: [store.connections.NAME] -> ConnectionSpec.

    [store.connections.billing]
    odbc = "DSN=cis;Uid=ivr;Pwd=${BILLING_DB_PASSWORD}"   # secrets from the environment
    pool_size = 4
    query_timeout = 3
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .dialects import get_dialect
from .errors import StoreConfigError

CONNECTION_KEYS = {"odbc", "pool_size", "query_timeout", "connect_timeout", "dialect"}


@dataclass
class ConnectionSpec:
    name: str
    odbc: str
    pool_size: int = 5
    query_timeout: float | None = None
    connect_timeout: float | None = None
    dialect: str | None = None


def expand_env(text: str, where: str, env: dict | None = None) -> str:
    """Replace ${VAR} with the environment's value: secrets stay out of config files."""
    env = os.environ if env is None else env

    def sub(m: re.Match) -> str:
        if m.group(1) not in env:
            raise StoreConfigError(f"{where}: environment variable {m.group(1)} is not set "
                                   f"(the connection string refers to ${{{m.group(1)}}})")
        return env[m.group(1)]
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", sub, text)


def parse_connection(name: str, value: Any, env: dict | None = None) -> ConnectionSpec:
    where = f"[store.connections.{name}]"
    if isinstance(value, str):
        value = {"odbc": value}
    if not isinstance(value, dict):
        raise StoreConfigError(f"{where}: expected an ODBC connection string or a table with odbc = '...'")
    unknown = set(value) - CONNECTION_KEYS
    if unknown:
        raise StoreConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                               f"known: {', '.join(sorted(CONNECTION_KEYS))}")
    if not isinstance(value.get("odbc"), str) or not value["odbc"].strip():
        raise StoreConfigError(f"{where}: odbc = '...' is required (an ODBC connection string, "
                               f"e.g. Driver={{PostgreSQL Unicode}};Server=...; or DSN=name)")
    spec = ConnectionSpec(name, expand_env(value["odbc"], where, env))
    for key, typ in (("pool_size", int), ("query_timeout", float), ("connect_timeout", float)):
        if key in value:
            try:
                setattr(spec, key, typ(value[key]))
            except (TypeError, ValueError):
                raise StoreConfigError(f"{where}: {key} must be a number, got {value[key]!r}") from None
    if spec.pool_size < 1:
        raise StoreConfigError(f"{where}: pool_size must be >= 1")
    if "dialect" in value:
        spec.dialect = get_dialect(str(value["dialect"])).name
    return spec


def sqlite_path(odbc: str) -> Path | None:
    """The database file an SQLite connection string names (None for :memory: or none)."""
    m = re.search(r"(?i)(?:^|;)\s*database\s*=\s*([^;]+)", odbc)
    if m and m.group(1).strip() not in (":memory:", ""):
        return Path(m.group(1).strip()).expanduser()
    return None


def sqlite_prepare(odbc: str) -> str:
    """SQLite: create the database's directory, and wait on locks instead of failing at once.

    SQLite creates a missing file on first connect; the Store notes which files did not
    exist (Store.new_sqlite_files) so that a mistyped path is said, not silently served."""
    path = sqlite_path(odbc)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    if not re.search(r"(?i)(?:^|;)\s*timeout\s*=", odbc):
        odbc = odbc.rstrip(";") + ";Timeout=10000"   # busy timeout, ms (sqliteodbc)
    return odbc

"""Fixtures of the reference-flow tests: one fresh database per test on SQLite,
PostgreSQL and MariaDB (the servers of scripts/services.sh), holding fsapp's tables, the
example billing database (examples/billing) and the announcements table
(ivr_flows/sql/notices.<dialect>.sql), and a Store over it."""
from __future__ import annotations

from pathlib import Path

import pyodbc
import pytest

from fsapp.calendar import load_calendars
from fsapp.flow.interpreter import Services
from fsapp.say import render
from fsapp.store import Store

from .harness import DAY, ROOT, build_sounds

pyodbc.pooling = False


def prepare_database(store: Store, kind: str) -> None:
    """fsapp's tables, the example billing database and the notices table, in one database."""
    store.migrate()
    for script in (ROOT / "examples" / "billing" / f"schema.{kind}.sql",
                   ROOT / "examples" / "billing" / f"seed.{kind}.sql",
                   ROOT / "ivr_flows" / "sql" / f"notices.{kind}.sql"):
        store.execute_script(script.read_text(encoding="utf-8"))


def open_store(odbc: str, spool: Path, **kw) -> Store:
    kw.setdefault("query_timeout", 10.0)
    kw.setdefault("connect_timeout", 5.0)
    return Store({"main": odbc, "billing": odbc}, queries_dir=ROOT / "queries", spool_dir=spool, **kw)


@pytest.fixture
def store(db, tmp_path):
    s = open_store(db.odbc, tmp_path / "spool")
    prepare_database(s, db.kind)
    yield s
    s.close()


@pytest.fixture(scope="session")
def catalog():
    return build_sounds()


@pytest.fixture(scope="session")
def calendars():
    return load_calendars(ROOT / "calendars.yaml")


@pytest.fixture
def make_services(catalog, calendars, tmp_path):
    """Services for one Line: real catalog, say engine, calendars; the clock fixed at `at`."""
    def make(store, at=DAY, router=None) -> Services:
        return Services(catalog=catalog, say=render, store=store, router=router, calendars=calendars,
                        recordings=tmp_path / "recordings", clock=lambda: at)
    return make

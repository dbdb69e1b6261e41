"""Report fixtures: a fresh store (SQLite, PostgreSQL, MariaDB through `db`) holding the
fixed record set of docs/reports.md (docs/examples/report-records.sql)."""
from pathlib import Path

import pyodbc
import pytest

from fsapp.store import Store

pyodbc.pooling = False
RECORDS = Path(__file__).resolve().parents[2] / "docs" / "examples" / "report-records.sql"


@pytest.fixture
def records_store(db, tmp_path):
    store = Store({"main": db.odbc}, spool_dir=tmp_path / "spool", start=False)
    store.migrate()
    store.execute_script(RECORDS.read_text(encoding="utf-8"))
    yield store
    store.close()

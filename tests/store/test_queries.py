"""Parsing named-query files: namespacing, qmark-only, clear errors with file:line."""
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from fsapp.store.errors import QueryError, StoreConfigError, UnknownQuery
from fsapp.store.queries import QueryCatalog, count_placeholders, parse_file

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_names_are_namespaced_by_file_and_headers_parsed(tmp_path):
    path = write(tmp_path, "hotline.sql", """
-- name: ticket_status
-- connection: billing
-- params: serial, as_of:date=today, n:int=5
-- types: amount=money
-- Status by serial.
SELECT a FROM t WHERE s = ? AND d < ? AND n = ?;
""")
    q = parse_file(path)["hotline.ticket_status"]
    assert q.connection == "billing"
    assert [p.name for p in q.params] == ["serial", "as_of", "n"]
    assert q.types == {"amount": "money"}
    assert q.description == "Status by serial."
    assert q.sql.endswith("n = ?")
    assert q.bind({"serial": "00000018"}) == ["00000018", dt.date.today(), 5]
    assert q.bind({"serial": 18, "as_of": "2026-01-02", "n": "7"}) == ["18", dt.date(2026, 1, 2), 7]
    # SQLite sums DECIMAL text as float; `money` gives the cents back exactly.
    assert q.convert_row({"amount": 133.54999999999998}) == {"amount": Decimal("133.55")}
    assert q.convert_row({"amount": "10.1"}) == {"amount": Decimal("10.10")}


@pytest.mark.parametrize("body, message", [
    ("-- name: q\n-- params: a\nSELECT 1 FROM t WHERE a = ? AND b = ?", "2 ? placeholder(s) but -- params: names 1"),
    ("-- name: q\nSELECT 1 FROM t WHERE a = %s", "qmark"),
    ("-- name: q\nSELECT 1 FROM t WHERE a = :a", "qmark"),
    ("-- name: q\nSELECT 1 FROM t WHERE a = '{x}' AND b = {x}", "qmark"),
    ("-- name: q\nSELECT 1; DROP TABLE t", "more than one statement"),
    ("-- name: q\n-- conection: x\nSELECT 1", "unknown header 'conection'"),
    ("-- name: q\n-- params: a:float\nSELECT ?", "unknown type 'float'"),
    ("-- name: q\n-- types: a=money2\nSELECT 1", "bad type"),
    ("-- name: q\n", "has no SQL"),
    ("SELECT 1", "SQL before the first '-- name:'"),
    ("-- name: q\nSELECT 1\n-- name: q\nSELECT 2", "defined twice"),
    ("-- name: bad-name\nSELECT 1", "must be an identifier"),
])
def test_bad_files_name_file_and_line(tmp_path, body, message):
    path = write(tmp_path, "x.sql", body)
    with pytest.raises(StoreConfigError) as err:
        parse_file(path)
    assert message in str(err.value)
    assert f"{path}:" in str(err.value)


def test_placeholders_in_literals_comments_and_casts_are_not_counted():
    assert count_placeholders("SELECT '?', \"?\", x::date FROM t -- ?\nWHERE a = ? /* ? */") == 1
    assert count_placeholders("SELECT 'it''s ?' WHERE a = ?") == 1


def test_pg_casts_are_not_named_placeholders(tmp_path):
    path = write(tmp_path, "x.sql", "-- name: q\n-- params: d\nSELECT ?::date, '10:30' AS t")
    assert parse_file(path)["x.q"].sql.startswith("SELECT ?::date")


def test_bind_rejects_unknown_missing_and_badly_typed(tmp_path):
    q = parse_file(write(tmp_path, "x.sql", "-- name: q\n-- params: a, d:date\nSELECT ? , ?"))["x.q"]
    with pytest.raises(QueryError, match="missing parameter 'a'"):
        q.bind({"d": "2026-01-01"})
    with pytest.raises(QueryError, match="unknown parameter.*zz.*it takes: a, d"):
        q.bind({"a": 1, "d": "2026-01-01", "zz": 2})
    with pytest.raises(QueryError, match="not a valid date"):
        q.bind({"a": 1, "d": "tomorrow"})


def test_unknown_query_names_the_queries_dir(tmp_path):
    write(tmp_path, "hotline.sql", "-- name: ticket_status\n-- params: s\nSELECT ?")
    catalog = QueryCatalog(tmp_path)
    with pytest.raises(UnknownQuery) as err:
        catalog.get("ticket_status")
    assert str(tmp_path) in str(err.value)
    assert "did you mean" in str(err.value) and "hotline.ticket_status" in str(err.value)


def test_missing_queries_dir_is_a_clear_error(tmp_path):
    with pytest.raises(StoreConfigError, match="does not exist"):
        QueryCatalog(tmp_path / "nope")


def test_repository_query_files_parse():
    catalog = QueryCatalog(ROOT / "queries")      # fsapp.* come with the package
    names = catalog.names()
    for expected in ("fsapp.overdue_tickets", "fsapp.ticket_status", "hotline.ticket_status",
                     "utility.accounts_by_caller", "utility.account", "utility.balance",
                     "utility.last_payment", "utility.last_meter_reading", "utility.district"):
        assert expected in names
    assert catalog.get("utility.balance").connection == "billing"

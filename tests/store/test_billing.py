"""The utility's legacy billing database, reached only through queries/utility.sql."""
import datetime as dt
import importlib.util
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BILLING = ROOT / "examples" / "billing"
AS_OF = dt.date(2026, 11, 28)


def load_generator():
    spec = importlib.util.spec_from_file_location("billing_generate", BILLING / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_files_are_up_to_date():
    for path, text in load_generator().render().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python examples/billing/generate.py"


def billing_store(db, make_store, tmp_path):
    store = make_store({"main": f"Driver={{SQLite3}};Database={tmp_path / 'own.db'}", "billing": db.odbc},
                       queries_dir=ROOT / "queries", migrate=False)
    for kind in ("schema", "seed"):
        store.execute_script((BILLING / f"{kind}.{db.kind}.sql").read_text(encoding="utf-8"), "billing")
    return store


def test_utility_queries(db, make_store, tmp_path):
    store = billing_store(db, make_store, tmp_path)

    accounts = store.query("utility.accounts_by_caller", {"caller": "13800138000"})
    assert [a["account_no"] for a in accounts] == ["100200300401", "100200300402", "100200300403"]
    assert accounts[2]["customer_name"] == "李娜"          # found through TEL_NO2; closed 404 left out
    assert store.query("utility.accounts_by_caller", {"caller": "13999999999"}) == []

    assert store.query_one("utility.account", {"account_no": "100200300404"})["status"] == "C"
    acct = store.query_one("utility.account", {"account_no": "100200300402"})
    assert acct["account_type"] == "02" and acct["opened_on"] == dt.date(2017, 11, 20)
    assert store.query_one("utility.account", {"account_no": "999999999999"}) is None

    overdue = store.query_one("utility.balance", {"account_no": "100200300501", "as_of": AS_OF})
    assert overdue == {"account_no": "100200300501", "prepaid_balance": Decimal("0.00"),
                       "amount_due": Decimal("390.72"), "due_date": dt.date(2026, 9, 20),
                       "overdue_amount": Decimal("390.72"), "balance": Decimal("-390.72"), "open_bills": 3}
    shop = store.query_one("utility.balance", {"account_no": "100200300402", "as_of": AS_OF})
    assert (shop["amount_due"], shop["overdue_amount"], shop["due_date"]) == \
        (Decimal("612.41"), Decimal("314.31"), dt.date(2026, 11, 20))
    partial = store.query_one("utility.balance", {"account_no": "100200300403", "as_of": AS_OF})
    assert partial["amount_due"] == Decimal("25.00") and partial["balance"] == Decimal("-12.70")
    paid = store.query_one("utility.balance", {"account_no": "100200300701", "as_of": AS_OF})
    assert paid["amount_due"] == Decimal("0.00") and paid["due_date"] is None and paid["balance"] == Decimal("35.80")
    for row in (overdue, shop, partial, paid):
        assert all(isinstance(row[k], Decimal) for k in ("amount_due", "overdue_amount", "balance"))

    assert store.query_one("utility.last_payment", {"account_no": "100200300401"}) == {
        "paid_at": dt.datetime(2026, 11, 15, 20, 5, 47), "amount": Decimal("84.60"), "channel": "ZF"}
    assert store.query_one("utility.last_payment", {"account_no": "999999999999"}) is None

    reading = store.query_one("utility.last_meter_reading", {"account_no": "100200300501"})
    assert reading == {"meter_no": "WM2012093001", "read_on": dt.date(2026, 10, 5), "reading": Decimal("3399.0"),
                       "usage_qty": Decimal("31.0"), "reading_type": "E"}

    assert store.query_one("utility.district", {"account_no": "100200300601"}) == {
        "district_code": "D004", "district_name": "北岸工业区", "district_name_en": "Beian Industrial Park"}

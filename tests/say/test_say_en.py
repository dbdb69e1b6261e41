"""en-US say rules, table-driven; expectations are the spoken English (catalog texts)."""
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from fsapp import say
from fsapp.sounds import Catalog

CATALOG = Catalog.load(Path(__file__).resolve().parents[2] / "sounds" / "catalog.yaml")


def spoken(kind, value, **opts):
    return CATALOG.spoken(say.render("en-US", kind, value, **opts), "en-US")


@pytest.mark.parametrize("value, text", [
    (0, "zero"), (7, "seven"), (10, "ten"), (11, "eleven"), (19, "nineteen"), (20, "twenty"),
    (21, "twenty one"), (99, "ninety nine"), (100, "one hundred"), (101, "one hundred one"),
    (110, "one hundred ten"), (999, "nine hundred ninety nine"), (1000, "one thousand"),
    (1001, "one thousand one"), (10000, "ten thousand"), (10010, "ten thousand ten"),
    (100000, "one hundred thousand"), (1000000, "one million"),
    (100000000, "one hundred million"), (1234567, "one million two hundred thirty four thousand five hundred sixty seven"),
    (1000000000000, "one trillion"), (2000000001, "two billion one"),
    (-5, "minus five"), ("0.5", "zero point five"), ("0.05", "zero point zero five"),
    ("1.10", "one point one zero"), (Decimal("-12.05"), "minus twelve point zero five"), (2.5, "two point five"),
])
def test_number(value, text):
    assert spoken("number", value) == text


@pytest.mark.parametrize("value, opts, text", [
    ("123.45", {}, "one hundred twenty three yuan and forty five fen"),
    ("1", {}, "one yuan"), ("0.01", {}, "one fen"), ("0", {}, "zero yuan"), ("100.05", {}, "one hundred yuan and five fen"),
    ("123.45", {"currency": "USD"}, "one hundred twenty three dollars and forty five cents"),
    ("1.01", {"currency": "USD"}, "one dollar and one cent"), ("0.99", {"currency": "USD"}, "ninety nine cents"),
    ("0", {"currency": "USD"}, "zero dollars"), ("-2.5", {"currency": "USD"}, "minus two dollars and fifty cents"),
    ("10.005", {"currency": "USD"}, "ten dollars and one cent"),
])
def test_money(value, opts, text):
    assert spoken("money", value, **opts) == text


@pytest.mark.parametrize("value, text", [("911", "nine one one"), ("*0#", "star zero pound"),
                                         ("555-0100", "five five five zero one zero zero")])
def test_digits(value, text):
    assert spoken("digits", value) == text


@pytest.mark.parametrize("value, opts, text", [
    ("2026-11-28", {}, "Saturday November twenty eighth twenty twenty six"),
    (dt.date(2026, 1, 1), {}, "Thursday January first twenty twenty six"),
    ("2005-03-02", {"weekday": False}, "March second two thousand five"),
    ("1905-07-04", {"weekday": False}, "July fourth nineteen oh five"),
    ("1900-12-31", {"weekday": False}, "December thirty first nineteen hundred"),
    ("2010-05-13", {"weekday": False}, "May thirteenth twenty ten"),
    ("2026-06-20", {"year": False, "weekday": False}, "June twentieth"),
])
def test_date(value, opts, text):
    assert spoken("date", value, **opts) == text


@pytest.mark.parametrize("value, opts, text", [
    ("15:05", {}, "three oh five P M"), ("15:00", {}, "three P M"), ("00:00", {}, "twelve A M"),
    ("12:30", {}, "twelve thirty P M"), ("09:45", {}, "nine forty five A M"),
    ("15:05", {"clock": 24}, "fifteen oh five"), ("15:00", {"clock": 24}, "fifteen hundred"),
    ("00:07", {"clock": 24}, "zero oh seven"),
])
def test_time(value, opts, text):
    assert spoken("time", value, **opts) == text


@pytest.mark.parametrize("value, text", [
    (0, "zeroth"), (1, "first"), (2, "second"), (3, "third"), (11, "eleventh"), (12, "twelfth"),
    (20, "twentieth"), (21, "twenty first"), (100, "one hundredth"), (101, "one hundred first"),
    (1000, "one thousandth"), (1000000, "one millionth"), (123, "one hundred twenty third"),
])
def test_ordinal(value, text):
    assert spoken("ordinal", value) == text

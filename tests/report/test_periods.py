"""Report periods, buckets and comparisons (pure)."""
import datetime as dt

import pytest

from fsapp.report.periods import PeriodError, Range
from fsapp.report.rules import RuleError, Rules

T = dt.datetime


def test_ranges():
    assert Range.parse("day", "2026-12-07") == Range(T(2026, 12, 7), T(2026, 12, 8), "day")
    assert Range.parse("week", "2026-12-10") == Range(T(2026, 12, 7), T(2026, 12, 14), "week")   # Monday on
    assert Range.parse("month", "2026-12") == Range(T(2026, 12, 1), T(2027, 1, 1), "month")
    assert Range.parse("year", "2026") == Range(T(2026, 1, 1), T(2027, 1, 1), "year")
    assert Range.parse("range", "2026-12-01..2026-12-15") == Range(T(2026, 12, 1), T(2026, 12, 16), "range")
    assert Range.parse("day", None, today=dt.date(2026, 3, 1)).start == T(2026, 3, 1)


@pytest.mark.parametrize("period, when, message", [
    ("day", "07/12/2026", "not a date; write YYYY-MM-DD"),
    ("month", "2026-13", "a month is YYYY-MM"),
    ("year", "26", "a year is YYYY"),
    ("range", "2026-12-01", "FIRST..LAST"),
    ("range", "2026-12-05..2026-12-01", "before the first"),
    ("fortnight", "", "one of day, week"),
])
def test_bad_periods_say_what_to_write(period, when, message):
    with pytest.raises(PeriodError, match=message):
        Range.parse(period, when)


def test_buckets():
    day = Range.parse("day", "2026-12-07")
    assert len(day.buckets("15")) == 96 and len(day.buckets("60")) == 24
    assert day.buckets("30")[1].label == "2026-12-07 00:30"
    assert day.fixed_step("15") == 900 and day.fixed_step("day") == 86400
    year = Range.parse("year", "2028")
    months = year.buckets("month")
    assert len(months) == 12 and months[1].end == T(2028, 3, 1) and year.fixed_step("month") is None
    weeks = Range.parse("month", "2026-12").buckets("week")          # Dec 1 is a Tuesday
    assert weeks[0] == type(weeks[0])(T(2026, 12, 1), T(2026, 12, 7)) and weeks[-1].end == T(2027, 1, 1)
    assert Range.parse("month", "2026-12").fixed_step("week") is None
    with pytest.raises(PeriodError, match="--by '45'"):
        day.buckets("45")


def test_comparisons():
    monday = Range.parse("day", "2026-12-07")
    assert monday.compared("week").start == T(2026, 11, 30)                 # this Monday vs last Monday
    assert monday.compared("previous").start == T(2026, 12, 6)
    month = Range.parse("month", "2026-03")
    assert month.compared("year") == Range(T(2025, 3, 1), T(2025, 4, 1), "month")   # same month last year
    assert month.compared("previous") == Range(T(2026, 2, 1), T(2026, 3, 1), "month")
    leap = Range.parse("day", "2028-02-29")
    assert leap.compared("year").start == T(2027, 2, 28)


def test_rules():
    assert Rules.parse_target("80/20") == (80.0, 20)
    with pytest.raises(RuleError, match="PERCENT/SECONDS"):
        Rules.parse_target("80%")
    with pytest.raises(RuleError, match="denominator 'calls'"):
        Rules(sl_denominator="calls")
    with pytest.raises(RuleError, match="min-call"):
        Rules(min_call_s=-1)

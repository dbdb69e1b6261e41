import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from fsapp.calendar import SourceError, load_calendars, loads_calendars

ROOT = Path(__file__).resolve().parents[2]
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def cals():
    return load_calendars(ROOT / "calendars.yaml")


@pytest.mark.parametrize("moment, mode", [
    ("2026-11-30 09:00", "day"),        # Monday morning
    ("2026-11-30 12:30", "night"),      # lunch break
    ("2026-11-30 17:30", "night"),      # end is exclusive
    ("2026-11-28 11:59", "day"),        # Saturday half day
    ("2026-11-29 10:00", "night"),      # Sunday
    ("2026-10-01 10:00", "holiday"),    # National Day (holidays package, CN)
    ("2026-02-17 10:00", "holiday"),    # Spring Festival
    ("2026-02-14 09:00", "day"),        # Saturday make-up working day (调休) uses Monday's hours
    ("2026-02-14 14:00", "day"),
    ("2026-12-31 10:00", "holiday"),    # extra holiday from the file
    ("2026-12-24 19:00", "closed"),     # one-off closure
    ("2026-12-25 08:59", "closed"),
    ("2026-12-25 09:00", "day"),
])
def test_office_hours_modes(cals, moment, mode):
    assert cals["office_hours"].mode(dt.datetime.fromisoformat(moment)) == mode


def test_aware_datetimes_are_converted_to_the_calendar_zone(cals):
    utc = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.timezone.utc)  # 09:00 in Shanghai
    assert cals["office_hours"].is_open(utc)
    assert not cals["office_hours"].is_open(utc.replace(hour=5))     # 13:00 Shanghai


def test_named_modes_and_holiday_hours(cals):
    line = cals["hotline_12345"]
    assert line.mode(dt.datetime(2026, 11, 30, 19)) == "evening"
    assert line.is_open(dt.datetime(2026, 11, 30, 19))
    assert line.mode(dt.datetime(2026, 11, 30, 23)) == "night"
    assert line.mode(dt.datetime(2026, 10, 1, 10)) == "holiday_service"
    assert line.mode(dt.datetime(2026, 10, 1, 18)) == "holiday"


def test_next_open(cals):
    office = cals["office_hours"]
    assert office.next_open(dt.datetime(2026, 11, 30, 12, 30)) == dt.datetime(2026, 11, 30, 13, 30, tzinfo=SH)
    assert office.next_open(dt.datetime(2026, 12, 24, 19)) == dt.datetime(2026, 12, 25, 9, tzinfo=SH)
    assert office.next_open(dt.datetime(2026, 11, 30, 9, 5)) == dt.datetime(2026, 11, 30, 9, 5, tzinfo=SH)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=dt.datetime(2025, 1, 1), max_value=dt.datetime(2028, 12, 31)))
def test_next_open_is_open_and_nothing_earlier_is(moment):
    office = _OFFICE
    found = office.next_open(moment)
    assert found is not None and office.is_open(found)
    assert found >= office.local(moment)
    # nothing open in between, checked every 30 minutes
    probe = office.local(moment)
    while probe + dt.timedelta(minutes=30) < found:
        probe += dt.timedelta(minutes=30)
        assert not office.is_open(probe)


_OFFICE = load_calendars(ROOT / "calendars.yaml")["office_hours"]


@pytest.mark.parametrize("text, line, words", [
    ("calendars:\n  a:\n    timezone: Mars/Base\n    weekly: {mon: '09:00-10:00'}\n", 3, "time zone"),
    ("calendars:\n  a:\n    timezone: UTC\n    weekly:\n      mon-fry: '09:00-10:00'\n", 5, "not a day"),
    ("calendars:\n  a:\n    timezone: UTC\n    weekly:\n      mon:\n        - '09:00-10:00'\n        - '10:00-9:00'\n", 7, "ends before"),
    ("calendars:\n  a:\n    timezone: UTC\n    weekly:\n      mon: [13:30-14:00]\n", 5, None),
    ("calendars:\n  a:\n    timezone: UTC\n    weekly:\n      mon: [9:30]\n", 5, "quoted"),
    ("calendars:\n  a:\n    timezone: UTC\n    wekly: {}\n", 4, "unknown key"),
    ("calendars:\n  a:\n    timezone: UTC\n", 3, "'weekly' is required"),
    ("calendars:\n  a:\n    timezone: UTC\n    country: XX\n    weekly: {mon: '09:00-10:00'}\n", 4, "country"),
    ("calendars:\n  a:\n    timezone: UTC\n    weekly: {mon: '09:00-10:00'}\n    closures:\n      - {from: 2026-01-02, to: 2026-01-01}\n", 6, "ends before"),
    ("calendars:\n  a: [\n", 3, "YAML syntax"),
])
def test_errors_name_file_and_line(text, line, words):
    if words is None:  # a valid unquoted range is a string for YAML: accepted
        assert loads_calendars(text, "c.yaml")["a"].is_open(dt.datetime(2026, 11, 30, 13, 45))
        return
    with pytest.raises(SourceError) as err:
        loads_calendars(text, "c.yaml")
    assert err.value.line == line, str(err.value)
    assert str(err.value).startswith(f"c.yaml:{line}: ")
    assert words in str(err.value)


def test_missing_file():
    with pytest.raises(SourceError, match="file not found"):
        load_calendars("/nonexistent/calendars.yaml")


def test_docs_examples_run():
    """Every ```python block in docs/calendars.md is executed."""
    text = (ROOT / "docs" / "calendars.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert blocks
    import os
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        for block in blocks:
            exec(compile(block, "docs/calendars.md", "exec"), {})
    finally:
        os.chdir(cwd)

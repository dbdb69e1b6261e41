"""Interval summaries (fsapp report rollup): the reports give the same figures from the
summaries as from the records, on SQLite, PostgreSQL and MariaDB, for every dimension and
interval; the summaries are what is read for closed intervals; the rollup is idempotent."""
import datetime as dt

import pytest

from fsapp.report import Range, Rules, run_report
from fsapp.report.rollup import RollupError, Coverage, coverage, rollup, rules_key, split, split_days

NOW = dt.datetime(2026, 12, 9, 12, 0)        # every interval up to 2026-12-08 12:00 is closed
DAY = Range.parse("day", "2026-12-07")
WEEK = Range.parse("range", "2026-11-30..2026-12-08")


def both(store, dimension, rng, by, rules=Rules(), now=NOW):
    summed = run_report(store, dimension, rng, by, rules, now=now)
    raw = run_report(store, dimension, rng, by, rules, now=now, summaries=False)
    return summed, raw


def test_summaries_give_the_records_figures(records_store):
    result = rollup(records_store, Rules(), now=NOW)
    # from the interval of the first record (c0 entered on 2026-11-30 09:05) to NOW - 24 h
    assert (result.start, result.end) == (dt.datetime(2026, 11, 30, 9, 0), dt.datetime(2026, 12, 8, 12, 0))
    for dimension in ("queue", "total", "agent", "flow", "node"):
        for rng, by in ((DAY, "total"), (DAY, "15"), (DAY, "60"), (WEEK, "day"), (WEEK, "total"),
                        (Range.parse("month", "2026-12"), "week")):
            summed, raw = both(records_store, dimension, rng, by)
            assert summed.rows == raw.rows and summed.total == raw.total, (dimension, rng, by)
    hotline = {r["queue"]: r for r in run_report(records_store, "queue", DAY, "total", now=NOW).rows}["hotline"]
    assert (hotline["offered"], hotline["service_level"], hotline["aht_s"], hotline["fcr"]) == (7, 20.0, 161.5, 66.7)


def test_the_summaries_are_what_is_read(records_store):
    rollup(records_store, Rules(), now=NOW)
    rows = records_store.execute(
        "SELECT interval_start, SUM(offered) AS offered, SUM(answered_in_sl) AS in_sl, SUM(offers) AS offers "
        "FROM fsapp_queue_intervals WHERE queue_name = 'hotline' AND interval_start >= ? AND interval_start < ? "
        "GROUP BY interval_start ORDER BY interval_start", [dt.datetime(2026, 12, 7, 9), dt.datetime(2026, 12, 7, 10)])
    # c1 09:00 (answered in 10 s), c2 09:10, c3 09:20, c4 09:40; offers: c1 twice, c2, c4's cancelled ring
    assert [(r["interval_start"].strftime("%H:%M"), int(r["offered"]), int(r["in_sl"] or 0), int(r["offers"] or 0))
            for r in rows] == [("09:00", 2, 1, 3), ("09:15", 1, 0, 0), ("09:30", 1, 0, 1)]
    # with the records gone, the closed intervals still report from their sums
    for table in ("fsapp_queue_events", "fsapp_offers", "fsapp_node_visits", "fsapp_agent_states"):
        records_store.execute(f"DELETE FROM {table}")
    report = run_report(records_store, "queue", DAY, "total", now=NOW)
    assert {r["queue"]: r["offered"] for r in report.rows} == {"billing": 2, "hotline": 7}
    agents = {r["agent"]: r for r in run_report(records_store, "agent", DAY, "total", now=NOW).rows}
    assert (agents["1001"]["staffed_s"], agents["1001"]["aht_s"]) == (35100.0, 150.0)
    assert run_report(records_store, "queue", DAY, "total", now=NOW, summaries=False).rows == []


def test_open_edge_from_the_records(records_store):
    # closed only up to 2026-12-07 10:00: the day is summaries before 10:00, records after
    rollup(records_store, Rules(), now=dt.datetime(2026, 12, 8, 10, 7))
    for dimension in ("queue", "agent", "node"):
        for by in ("total", "60", "30"):
            summed, raw = both(records_store, dimension, DAY, by)
            assert summed.rows == raw.rows and summed.total == raw.total, (dimension, by)
    # a later rollup continues where the first stopped
    second = rollup(records_store, Rules(), now=NOW)
    assert (second.start, second.end) == (dt.datetime(2026, 12, 7, 10), dt.datetime(2026, 12, 8, 12))
    summed, raw = both(records_store, "queue", DAY, "60")
    assert summed.rows == raw.rows


def test_rollup_is_idempotent_and_rules_have_their_own_sums(records_store):
    rollup(records_store, Rules(), now=NOW)
    count = records_store.execute("SELECT COUNT(*) AS n FROM fsapp_queue_intervals")[0]["n"]
    again = rollup(records_store, Rules(), now=NOW)
    assert "nothing to roll up" in again.summary
    redo = rollup(records_store, Rules(), now=NOW, since=dt.datetime(2026, 12, 7))
    assert (redo.start, redo.days) == (dt.datetime(2026, 12, 7), 2)
    assert records_store.execute("SELECT COUNT(*) AS n FROM fsapp_queue_intervals")[0]["n"] == count
    # other counting rules: no sums under them yet, so the records answer (same figures)
    thirty = Rules(sl_seconds=30)
    hotline = {r["queue"]: r for r in run_report(records_store, "queue", DAY, "total", thirty, now=NOW).rows}
    assert hotline["hotline"]["service_level"] == 40.0                  # c1 c2 within 30 s: 2 / 5
    rollup(records_store, thirty, now=NOW)
    summed, raw = both(records_store, "queue", DAY, "total", thirty)
    assert summed.rows == raw.rows and summed.rows[1]["service_level"] == 40.0
    with pytest.raises(RollupError, match="would leave a gap"):
        rollup(records_store, Rules(), now=NOW + dt.timedelta(days=30), since=dt.datetime(2026, 12, 20))


def test_split():
    covered = Coverage(dt.datetime(2026, 11, 30, 8), dt.datetime(2026, 12, 7, 10))
    summed, raw = split(DAY, covered)
    assert summed == Range(dt.datetime(2026, 12, 7), dt.datetime(2026, 12, 7, 10))
    assert raw == [Range(dt.datetime(2026, 12, 7, 10), dt.datetime(2026, 12, 8))]
    summed, raw = split(WEEK, covered)
    assert raw == [Range(WEEK.start, dt.datetime(2026, 11, 30, 8)), Range(dt.datetime(2026, 12, 7, 10), WEEK.end)]
    assert split(DAY, None) == (None, [DAY])
    assert split(Range.parse("day", "2026-12-20"), covered) == (None, [Range.parse("day", "2026-12-20")])


def _count(store, table):
    return int(store.execute(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"])


def test_daily_sums_are_the_days_intervals(records_store):
    rollup(records_store, Rules(), now=NOW)
    # intervals 2026-11-30 09:00 .. 2026-12-08 12:00: the whole days 12-01 .. 12-07
    days = coverage(records_store, "day agent")
    assert (days.start, days.end) == (dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 8))
    assert coverage(records_store, f"day queue {rules_key(Rules())}") == days
    hotline = records_store.execute(
        "SELECT offered, answered, abandoned, short_abandoned, answered_in_sl, fcr_calls, fcr_resolved, offers "
        "FROM fsapp_queue_days WHERE queue_name = 'hotline' AND day_start = ?", [dt.datetime(2026, 12, 7)])
    # docs/reports.md: offered 7, answered 3, abandoned 2 (1 short), SL 1, FCR 2 / 3, offers 7 decided + 1 cancelled
    assert [int(v or 0) for v in hotline[0].values()] == [7, 3, 2, 1, 1, 3, 2, 8]
    agent = records_store.execute("SELECT staffed_s, handled FROM fsapp_agent_days WHERE agent_id = '1001' "
                                  "AND day_start = ?", [dt.datetime(2026, 12, 7)])[0]
    assert (float(agent["staffed_s"]), int(agent["handled"])) == (35100.0, 3)        # c1 c5 cb1
    before = {dimension: both(records_store, dimension, WEEK, "day")[1] for dimension in ("queue", "agent", "node")}
    # with the intervals and records of 12-07 gone, its figures by day still come (from the daily sums)
    for table, column in (("fsapp_queue_intervals", "interval_start"), ("fsapp_agent_intervals", "interval_start"),
                          ("fsapp_node_intervals", "interval_start"), ("fsapp_queue_events", "event_at"),
                          ("fsapp_offers", "ring_at"), ("fsapp_node_visits", "entered_at")):
        records_store.execute(f"DELETE FROM {table} WHERE {column} >= ? AND {column} < ?",
                              [dt.datetime(2026, 12, 7), dt.datetime(2026, 12, 8)])
    for dimension, raw in before.items():
        summed = run_report(records_store, dimension, WEEK, "day", now=NOW)
        assert summed.rows == raw.rows and summed.total == raw.total, dimension
    # hours cut no day: they are read from the intervals, which are gone
    assert run_report(records_store, "queue", DAY, "60", now=NOW).rows == []


def test_days_intervals_and_records_together(records_store):
    # closed up to 2026-12-07 10:00: whole days to 12-07, then 12-07's intervals to 10:00, then records
    rollup(records_store, Rules(), now=dt.datetime(2026, 12, 8, 10, 7))
    assert coverage(records_store, "day node").end == dt.datetime(2026, 12, 7)
    odd = Range(dt.datetime(2026, 11, 30, 10, 30), dt.datetime(2026, 12, 8))      # starts inside a day
    for dimension in ("queue", "total", "agent", "flow", "node"):
        for rng, by in ((WEEK, "day"), (WEEK, "total"), (WEEK, "week"), (odd, "total"), (odd, "day"), (odd, "60")):
            summed, raw = both(records_store, dimension, rng, by)
            assert summed.rows == raw.rows and summed.total == raw.total, (dimension, rng, by)


def test_daily_sums_filled_for_intervals_rolled_up_before_them(records_store):
    rollup(records_store, Rules(), now=NOW)
    written = {t: _count(records_store, t) for t in ("fsapp_queue_days", "fsapp_agent_days", "fsapp_node_days")}
    assert all(written.values())
    # a database whose intervals were rolled up under schema 4: no daily sums, no daily coverage
    for table in written:
        records_store.execute(f"DELETE FROM {table}")
    records_store.execute("DELETE FROM fsapp_report_rollups WHERE name LIKE 'day %'")
    summed, raw = both(records_store, "agent", WEEK, "day")
    assert summed.rows == raw.rows
    assert "nothing to roll up" in rollup(records_store, Rules(), now=NOW).summary
    assert {t: _count(records_store, t) for t in written} == written
    assert coverage(records_store, "day queue " + rules_key(Rules())).start == dt.datetime(2026, 12, 1)
    # rolled up again from a day on: the same rows, not twice
    rollup(records_store, Rules(), now=NOW, since=dt.datetime(2026, 12, 3, 9))
    assert {t: _count(records_store, t) for t in written} == written
    for dimension in ("queue", "agent", "node"):
        summed, raw = both(records_store, dimension, WEEK, "day")
        assert summed.rows == raw.rows and summed.total == raw.total, dimension


def test_split_days():
    days = Coverage(dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 7))
    summed = Range(dt.datetime(2026, 11, 30, 9), dt.datetime(2026, 12, 7, 10))
    assert split_days(summed, days, WEEK, "day") == (
        Range(dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 7)),
        [Range(dt.datetime(2026, 11, 30, 9), dt.datetime(2026, 12, 1)),
         Range(dt.datetime(2026, 12, 7), dt.datetime(2026, 12, 7, 10))])
    assert split_days(summed, days, WEEK, "60") == (None, [summed])          # hours cut days
    assert split_days(summed, None, WEEK, "day") == (None, [summed])
    shifted = Range(dt.datetime(2026, 11, 30, 6), dt.datetime(2026, 12, 8, 6))
    assert split_days(summed, days, shifted, "day")[0] is None               # days from 06:00
    assert split_days(summed, days, shifted, "total")[0] == Range(dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 7))

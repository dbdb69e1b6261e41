"""Interval summaries (fsapp report rollup): the reports give the same figures from the
summaries as from the records, on SQLite, PostgreSQL and MariaDB, for every dimension and
interval; the summaries are what is read for closed intervals; the rollup is idempotent."""
import datetime as dt

import pytest

from fsapp.report import Range, Rules, run_report
from fsapp.report.rollup import RollupError, Coverage, rollup, split

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

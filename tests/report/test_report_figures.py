"""Every figure of `fsapp report` against values computed by hand (docs/reports.md walks
through each) on the fixed record set, on SQLite, PostgreSQL and MariaDB. The set has a
call across midnight (c6), a transfer between queues (c7), an abandon while an agent
rang (c4), a transfer from the agent's phone (c2), a short abandon (c3), a callback (c8 -> cb1), a repeat caller (c1 -> c5) and
an internal call (c9)."""
import datetime as dt

import pytest

from fsapp.report import Range, Rules, run_report

DAY = Range.parse("day", "2026-12-07")
NOW = dt.datetime(2026, 12, 9, 12, 0)      # after every record: no status row is still open


def by_key(report, key):
    return {row[key]: row for row in report.rows}


def test_queue_figures_by_hand(records_store):
    report = run_report(records_store, "queue", DAY, "total", Rules(), now=NOW)
    rows = by_key(report, "queue")
    assert rows["hotline"] == {
        "period": "2026-12-07", "queue": "hotline",
        "offered": 7,               # c1 c2 c3 c4 c6 c7 c8 (c9 internal; cb1 a callback, no entry)
        "answered": 3,              # c1 c2 c6
        "abandoned": 2, "short_abandoned": 1,          # c3 (3 s) and c4 (25 s, while 1001 rang)
        "abandon_rate": 28.6,       # 2 / 7
        "service_level": 20.0,      # c1 within 20 s, of answered 3 + abandoned 2
        "asa_s": 30.0,              # (10 + 30 + 50) / 3
        "aht_s": 161.5,             # (310 + 136 + 130 + 70) / 4: c1 c2 c6 cb1, talk + hold + wrap-up
        "answer_rate": 71.4,        # 5 answered of 7 offers decided (c4's cancelled ring left out)
        "transferred": 2,           # c7 overflowed to billing; 1002's phone transferred c2 (blind)
        "timed_out": 0,
        "fcr": 66.7,                # c2 c6 resolved; c1's number called again at 10:00 (c5)
        "callbacks_requested": 1, "callbacks_made": 1, "callbacks_answered": 1,
        "handled": 4,
    }
    assert rows["billing"] == {
        "period": "2026-12-07", "queue": "billing", "offered": 2, "answered": 2, "abandoned": 0,
        "short_abandoned": 0, "abandon_rate": 0.0, "service_level": 100.0, "asa_s": 10.0, "aht_s": 85.0,
        "answer_rate": 100.0, "transferred": 0, "timed_out": 0,
        "fcr": 100.0,               # c7's own entry on hotline is the same call, not a repeat
        "callbacks_requested": 0, "callbacks_made": 0, "callbacks_answered": 0, "handled": 2,
    }
    assert report.total["offered"] == 9 and report.total["service_level"] == 42.9    # 3 / 7
    assert report.total["asa_s"] == 22.0 and report.total["aht_s"] == 136.0           # 816 / 6
    assert report.total["fcr"] == 80.0 and report.total["answer_rate"] == 77.8        # 4/5, 7/9


def test_hourly_buckets_and_the_call_across_midnight(records_store):
    report = run_report(records_store, "total", DAY, "60", Rules(), now=NOW)
    hours = {row["period"]: row for row in report.rows}
    assert sorted(hours) == ["2026-12-07 09:00", "2026-12-07 10:00", "2026-12-07 11:00",
                             "2026-12-07 12:00", "2026-12-07 23:00"]
    nine = hours["2026-12-07 09:00"]
    assert (nine["offered"], nine["answered"], nine["abandoned"], nine["service_level"]) == (4, 2, 2, 25.0)
    late = hours["2026-12-07 23:00"]       # c6 entered 23:59:30, answered 00:00:20 after 50 s
    assert (late["offered"], late["answered"], late["service_level"], late["asa_s"]) == (1, 1, 0.0, 50.0)
    next_day = run_report(records_store, "total", Range.parse("day", "2026-12-08"), "60", Rules(), now=NOW)
    assert next_day.rows == []             # counted once, on the day it arrived


def test_legs_of_almost_eight_hours_across_midnight(records_store):
    # each 7 h 59 min 59 s from entering to the end of the talk, just under sql.LEG_SPAN:
    # c20 enters at 23:59:00 and talks until 07:58:59 (the day's report must look that far
    # ahead), c21 enters at 16:00:01 and talks until midnight (the next day's report must
    # look that far back to see that c21 is not its call). Both are 2026-12-07 calls.
    columns = "idem_key, call_uuid, queue_name, event, agent_id, wait_ms, caller_number, talk_ms, hold_ms, wrap_up_ms"
    for call, enter, answer, end in (("c20", "2026-12-07 23:59:00", "2026-12-07 23:59:30", "2026-12-08 07:58:59"),
                                     ("c21", "2026-12-07 16:00:01", "2026-12-07 16:00:31", "2026-12-08 00:00:00")):
        for event, at, wait_ms, talk_ms in (("enter", enter, None, None), ("answered", answer, 30_000, None),
                                            ("completed", end, 30_000, 28_769_000)):
            records_store.execute(
                f"INSERT INTO fsapp_queue_events ({columns}, event_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [f"{call}:hotline:{event}", call, "hotline", event, "1001" if wait_ms else None, wait_ms,
                 f"1380000{call[1:]}00", talk_ms, 0 if talk_ms else None, 10_000 if talk_ms else None, at, at])
    hotline = by_key(run_report(records_store, "queue", DAY, "total", Rules(), now=NOW), "queue")["hotline"]
    assert (hotline["offered"], hotline["answered"], hotline["handled"]) == (9, 5, 6)
    assert hotline["aht_s"] == 9700.7      # (310 + 136 + 130 + 70 + 2 x (28769 + 10)) / 6
    next_day = run_report(records_store, "queue", Range.parse("day", "2026-12-08"), "total", Rules(), now=NOW)
    assert next_day.rows == []


@pytest.mark.parametrize("rules, offered, service_level", [
    (Rules(sl_denominator="offered"), 7, 14.3),                      # 1 / 7
    (Rules(sl_denominator="answered+long-abandoned"), 7, 25.0),      # 1 / (3 + 2 - 1)
    (Rules(sl_denominator="answered"), 7, 33.3),                     # 1 / 3
    (Rules(sl_seconds=30), 7, 40.0),                                 # c1 c2 within 30 s: 2 / 5
    (Rules(min_call_s=10), 6, 25.0),                                 # c3 (3 s) dropped: 1 / 4
    (Rules(internal_max_digits=0), 8, 33.3),                         # c9 counted: 2 / 6
])
def test_counting_rules(records_store, rules, offered, service_level):
    hotline = by_key(run_report(records_store, "queue", DAY, "total", rules, now=NOW), "queue")["hotline"]
    assert (hotline["offered"], hotline["service_level"]) == (offered, service_level)


def test_fcr_a_number_seen_once_in_the_window_may_be_another_calls(records_store):
    # c30's `enter` row carries no number (its answered and completed rows do); the number's
    # only `enter` in the window is c31's, the next morning: c30 is not resolved
    columns = "idem_key, call_uuid, queue_name, event, agent_id, wait_ms, caller_number, talk_ms, hold_ms, wrap_up_ms"
    for call, queue, event, number, at, talk_ms in (
            ("c30", "hotline", "enter", None, "2026-12-07 14:00:00", None),
            ("c30", "hotline", "answered", "13800000030", "2026-12-07 14:00:10", None),
            ("c30", "hotline", "completed", "13800000030", "2026-12-07 14:02:10", 120_000),
            ("c31", "billing", "enter", "13800000030", "2026-12-08 09:00:00", None)):
        records_store.execute(
            f"INSERT INTO fsapp_queue_events ({columns}, event_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [f"{call}:{queue}:{event}", call, queue, event, "1001" if event != "enter" else None,
             10_000 if event != "enter" else None, number, talk_ms, 0 if talk_ms else None,
             10_000 if talk_ms else None, at, at])
    hotline = by_key(run_report(records_store, "queue", DAY, "total", Rules(), now=NOW), "queue")["hotline"]
    assert hotline["fcr"] == 50.0          # c2 c6 resolved, c1 and c30 called again: 2 / 4


def test_fcr_window(records_store):
    # c5 came 1 h after c1: with a window of 0 hours nothing is a repeat, c1 counts as resolved
    hotline = by_key(run_report(records_store, "queue", DAY, "total", Rules(fcr_window_h=0), now=NOW), "queue")
    assert hotline["hotline"]["fcr"] == 100.0


def test_agent_figures_by_hand(records_store):
    report = run_report(records_store, "agent", DAY, "total", Rules(), now=NOW)
    rows = by_key(report, "agent")
    assert rows["1001"] == {
        "period": "2026-12-07", "agent": "1001", "offers": 5, "offers_answered": 3,
        "answer_rate": 75.0,        # 3 of 4 decided (c4 cancelled when the caller hung up)
        "handled": 3, "aht_s": 150.0, "talk_s": 420.0, "hold_s": 0.0, "wrap_up_s": 30.0,
        "staffed_s": 35100.0,       # Available 08:00-12:00 and 12:15-18:00
        "occupancy": 1.3,           # 450 / 35100
    }
    assert rows["1002"] == {
        "period": "2026-12-07", "agent": "1002", "offers": 5, "offers_answered": 4, "answer_rate": 80.0,
        "handled": 3,               # c2 c7 c9; c6 ended after midnight: the next day's work
        "aht_s": 92.0, "talk_s": 240.0, "hold_s": 6.0, "wrap_up_s": 30.0,
        "staffed_s": 55800.0,       # Available from 08:30 to midnight (logged out 01:00 the next day)
        "occupancy": 0.5,           # 276 / 55800
    }
    assert (report.total["offers"], report.total["answer_rate"], report.total["occupancy"]) == (10, 77.8, 0.8)
    hourly = {(r["period"], r["agent"]): r for r in run_report(records_store, "agent", DAY, "60", now=NOW).rows}
    assert hourly[("2026-12-07 12:00", "1001")]["staffed_s"] == 2700.0     # 15-minute lunch break
    assert hourly[("2026-12-07 09:00", "1001")]["occupancy"] == 8.6        # 310 / 3600


def test_node_and_flow_figures_by_hand(records_store):
    nodes = {r["node"]: r for r in run_report(records_store, "node", DAY, "total", now=NOW).rows}
    assert nodes["welcome"] == {"period": "2026-12-07", "flow": "hotline_12345", "node": "welcome",
                                "calls": 3, "visits": 3, "no_inputs": 0, "invalid_inputs": 0, "hangups": 1}
    assert nodes["menu"] == {"period": "2026-12-07", "flow": "hotline_12345", "node": "menu",
                             "calls": 2, "visits": 2, "no_inputs": 3, "invalid_inputs": 1, "hangups": 1}
    (flow,) = run_report(records_store, "flow", DAY, "total", now=NOW).rows
    assert (flow["calls"], flow["visits"], flow["hangups"]) == (3, 6, 2)


def test_same_day_last_week(records_store):
    report = run_report(records_store, "queue", DAY, "total", Rules(), compare="week", now=NOW)
    assert report.compare.range.start == dt.datetime(2026, 11, 30)
    (last_monday,) = report.compare.rows
    assert (last_monday["queue"], last_monday["offered"], last_monday["asa_s"], last_monday["aht_s"]) == \
        ("hotline", 1, 8.0, 110.0)


@pytest.mark.parametrize("dimension, by", [("agent", "60"), ("node", "total"), ("flow", "total"), ("queue", "60")])
def test_charts_and_csv(records_store, tmp_path, dimension, by):
    from fsapp.report.output import to_chart, to_csv
    report = run_report(records_store, dimension, DAY, by, now=NOW)
    path = to_chart(report, tmp_path / f"{dimension}.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = to_csv(report).splitlines()
    assert lines[0].split(",")[:2] == ["period", report.keys[0]] and len(lines) == len(report.rows) + 1

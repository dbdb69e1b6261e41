"""The pure core: outcome of an attempt, the contact's next state, pacing, the window.
Time is simulated (plain numbers): an hour or a week runs in milliseconds."""
import datetime as dt
import random
from pathlib import Path

import pytest

from fsapp.calendar import loads_calendars
from fsapp.campaign.model import Pacing, Retry
from fsapp.campaign.numbers import clean_number, dial_string
from fsapp.campaign.pacing import Pacer
from fsapp.campaign.policy import classify, next_state
from fsapp.campaign.scheduler import decide

RETRY = Retry(max_attempts=3, after={"busy": 600, "no_answer": 1800, "failed": 3600, "not_completed": 7200})
EVENING = loads_calendars("""
calendars:
  outbound_evening:
    timezone: Asia/Shanghai
    country: CN
    weekly: {mon-fri: "16:30-20:00", sat-sun: "09:00-18:00"}
""")["outbound_evening"]


@pytest.mark.parametrize("answered, cause, completed, outcome", [
    (False, "USER_BUSY", False, "busy"),
    (False, "NO_ANSWER", False, "no_answer"),
    (False, "NO_USER_RESPONSE", False, "no_answer"),
    (False, "ORIGINATOR_CANCEL", False, "no_answer"),
    (False, "CALL_REJECTED", False, "failed"),
    (False, "UNALLOCATED_NUMBER", False, "failed"),
    (False, None, False, "failed"),
    (True, "NORMAL_CLEARING", False, "not_completed"),
    (True, "NORMAL_CLEARING", True, "completed"),
])
def test_classify(answered, cause, completed, outcome):
    assert classify(answered, cause, completed) == outcome


@pytest.mark.parametrize("outcome, wait", [("busy", 600), ("no_answer", 1800), ("failed", 3600),
                                           ("not_completed", 7200)])
def test_retry_exactly_per_outcome(outcome, wait):
    assert next_state(outcome, 1, 1000.0, RETRY).retry_at == 1000.0 + wait
    assert next_state(outcome, 2, 1000.0, RETRY).state == "retry"
    assert next_state(outcome, 3, 1000.0, RETRY).state == "failed"     # max_attempts reached
    assert next_state("completed", 1, 0, RETRY).state == "completed"
    assert next_state("excluded", 1, 0, RETRY).state == "excluded"
    assert next_state("invalid_number", 1, 0, RETRY).state == "invalid"


@pytest.mark.parametrize("raw, clean", [("13800138000", "13800138000"), ("+86 138-0013-8000", "+8613800138000"),
                                        ("1380013800;bridge", None), ("12", None), ("1" * 21, None),
                                        ("138\n00", None), ("{x=y}138", None), ("", None), (None, None)])
def test_numbers_are_digits_only(raw, clean):
    assert clean_number(raw) == clean


def test_dial_string_refuses_unclean_numbers():
    assert dial_string("sofia/gateway/{gateway}/{number}", "+8613800138000", "gw1") == \
        "sofia/gateway/gw1/+8613800138000"
    with pytest.raises(ValueError):
        dial_string("user/{number}", "1380 &park", "gw1")


def simulate(pacing, start, end, call_s, calendar=None, late_s=0.3, seed=7):
    """Run the scheduler against simulated time; return the call start times. Wake-ups
    come up to late_s late, as a busy machine's would."""
    rnd = random.Random(seed)
    pacer, now, active, starts = Pacer(pacing), start, [], []
    while now < end:
        active = [t for t in active if t > now]
        open_, next_open = True, None
        if calendar is not None:
            local = dt.datetime.fromtimestamp(now, calendar.tz)
            open_ = calendar.is_open(local)
            next_open = None if open_ else calendar.next_open(local).timestamp()
        step = decide(now, "running", open_, next_open, pacer, len(active), len(active), "gw1")
        if step.action == "dial":
            pacer.started(now)
            starts.append(now)
            active.append(now + call_s)
            continue
        wake = step.until if step.until is not None else min(active)
        now = wake + rnd.uniform(0, late_s)
    return starts


@pytest.mark.parametrize("cpm", [6, 30, 60, 120])
def test_pacing_within_5_percent_over_an_hour(cpm):
    starts = simulate(Pacing(calls_per_minute=cpm, max_concurrent=1000), 0.0, 3600.0, call_s=40.0)
    assert abs(len(starts) - cpm * 60) <= cpm * 60 * 0.05, len(starts)


def test_concurrency_limits_the_rate():
    # 10 lines, 60 s calls: at most 10 calls a minute whatever the target
    starts = simulate(Pacing(calls_per_minute=60, max_concurrent=10), 0.0, 3600.0, call_s=60.0)
    assert 590 <= len(starts) <= 600
    assert all(sum(1 for s in starts if t - 60.0 < s <= t) <= 10 for t in starts)


def test_gateway_limit():
    pacer = Pacer(Pacing(calls_per_minute=60, max_concurrent=10, gateways={"gw1": 2}))
    assert decide(0, "running", True, None, pacer, 2, 2, "gw1").reason == "all lines busy"
    assert decide(0, "running", True, None, pacer, 2, 2, "gw2").action == "dial"


def test_no_call_outside_the_window_over_a_week():
    start = dt.datetime(2026, 12, 7, 0, 0, tzinfo=EVENING.tz).timestamp()        # a Monday
    starts = simulate(Pacing(calls_per_minute=10, max_concurrent=10), start, start + 7 * 86400, call_s=45.0,
                      calendar=EVENING)
    local = [dt.datetime.fromtimestamp(s, EVENING.tz) for s in starts]
    assert local and all(EVENING.is_open(t) for t in local)
    by_day = {}
    for t in local:
        by_day.setdefault(t.date(), []).append(t)
    weekday = by_day[dt.date(2026, 12, 8)]
    assert min(weekday).time() >= dt.time(16, 30) and max(weekday).time() < dt.time(20, 0)
    saturday = by_day[dt.date(2026, 12, 12)]
    assert min(saturday).time() >= dt.time(9, 0) and max(saturday).time() < dt.time(18, 0)
    # 3.5 h on weekdays, 9 h at weekends, 10 calls a minute
    assert abs(len(weekday) - 210 * 10) <= 105 and abs(len(saturday) - 540 * 10) <= 270


def test_paused_campaign_waits():
    pacer = Pacer(Pacing(calls_per_minute=60, max_concurrent=10))
    assert decide(0, "paused", True, None, pacer, 0, 0, "gw1") == decide(0, "paused", True, None, pacer, 0, 0, "gw1")
    assert decide(0, "paused", True, None, pacer, 0, 0, "gw1").action == "wait"
    assert decide(0, "running", False, 500.0, pacer, 0, 0, "gw1").until == 500.0


def test_report_counts_and_hours_in_the_calendar_zone(tmp_path):
    from fsapp.campaign.loader import parse_text
    from fsapp.campaign.report import build_report, draw_chart, status_summary, write_csv
    campaign, _ = parse_text((Path(__file__).resolve().parents[2]
                              / "campaigns" / "water_outage.yaml").read_text(encoding="utf-8"), "w.yaml")
    at = dt.datetime(2026, 12, 8, 16, 59, tzinfo=EVENING.tz).timestamp()    # 16:59 and 17:01 Beijing time
    attempts = [{"started_at": at, "outcome": "completed", "answered": True},
                {"started_at": at + 30, "outcome": "busy", "answered": False},
                {"started_at": at + 120, "outcome": "not_completed", "answered": True},
                {"started_at": at + 130, "outcome": "excluded", "answered": False}]
    data = build_report(campaign, attempts, EVENING.tz)
    assert data["outcomes"]["completed"] == 1 and data["outcomes"]["excluded"] == 1
    assert data["per_hour"] == [
        {"hour": "2026-12-08 16:00", "dialled": 2, "answered": 1, "completed": 1, "contact_rate": 0.5,
         "completion_rate": 0.5},
        {"hour": "2026-12-08 17:00", "dialled": 1, "answered": 1, "completed": 0, "contact_rate": 1.0,
         "completion_rate": 0.0}]
    write_csv(data, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().splitlines()[1] == "2026-12-08 16:00,2,1,1,0.5,0.5"
    draw_chart(data, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"
    summary = status_summary(campaign, {"completed": 1, "retry": 1, "excluded": 1}, {"status": "running"},
                             attempts, now=at + 150, window_s=300)
    assert (summary["dialled"], summary["answered"], summary["in_retry"], summary["rate_per_min"]) == (3, 2, 1, 0.6)

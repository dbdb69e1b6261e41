"""Which moment a schedule node asks its calendar about (docs/calendars.md, "Which moment").

The running line's clock is the true instant (aware): on a server whose TZ is not the
calendar's, a naive host time read as the calendar's local time was hours off (22:30 in
Shanghai on a UTC host looked like 14:30 Shanghai: "day", agents on duty, while the
router's queue calendar said closed). A naive time a test pins stays calendar-local."""
import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from flow_helpers import compiled, flow_text
from fsapp.calendar.model import Calendar, Closure, Window
from fsapp.flow.compiler import Environment
from fsapp.flow.interpreter import Services, run_call
from fsapp.flow.testing import FakeStore, ScriptedCall
from fsapp.flow.trace import Recorder

SHANGHAI = ZoneInfo("Asia/Shanghai")
NODES = """
    welcome: {schedule: line, open: staffed, closed: shut}
    staffed: {set: {seen: "now", started: "call.started", took: "(now - call.started).total_seconds()"},
              next: bye}
    shut: {set: {seen: "now", started: "call.started", took: "(now - call.started).total_seconds()"},
           next: bye}
    bye: {hangup: {}}
"""


@pytest.fixture
def host_in_utc(monkeypatch):
    """The server's TZ is UTC (as on the machine the bug was found on), whatever this one's is."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def closed_around(moment: dt.datetime) -> Calendar:
    """A Shanghai line open all day every day but for a closure of two hours around
    `moment`: the answer shows which instant the calendar was asked about."""
    return Calendar("line", SHANGHAI, {day: [Window(dt.time(0), None)] for day in range(7)},
                    closures=[Closure(moment - dt.timedelta(hours=1), moment + dt.timedelta(hours=1))])


def run(calendar: Calendar, store=None, **services):
    flow = compiled(flow_text(NODES), Environment(calendars=frozenset({"line"})))
    services = Services(calendars={"line": calendar}, tracer=Recorder(), store=store or FakeStore(), **services)
    outcome = run_call(ScriptedCall([]), flow, services, {flow.name: flow})
    assert outcome.reason == "hangup", outcome.error
    return outcome


def test_the_real_clock_asks_about_the_true_instant_on_a_utc_host(host_in_utc):
    # closed for the hour either side of the true instant; the host's naive clock read
    # as Shanghai time is 8 hours away, in the open part
    store = FakeStore()
    outcome = run(closed_around(dt.datetime.now(dt.timezone.utc)), store=store)
    assert outcome.trail[:2] == ["welcome", "shut"]
    # expressions keep seeing the host's naive wall-clock time (as rows store it), so they
    # still compare with database values and with each other
    seen, started = outcome.vars["seen"], outcome.vars["started"]
    assert seen.tzinfo is None and started.tzinfo is None and outcome.vars["took"] >= 0
    assert abs(seen - dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)) < dt.timedelta(hours=1)
    # and so does the call record (started, answered, ended: one kind of time, a duration)
    record = [w["row"] for w in store.writes if w["kind"] == "call_record"][-1]
    assert all(record[k].tzinfo is None for k in ("started_at", "answered_at", "ended_at"))
    assert record["duration_ms"] >= 0 and record["outcome"] == "bye"


def test_a_pinned_aware_time_is_that_instant_and_a_naive_one_is_calendar_local(host_in_utc):
    moment = dt.datetime(2026, 11, 30, 14, 30, tzinfo=dt.timezone.utc)     # 22:30 in Shanghai
    calendar = closed_around(moment)
    aware = run(calendar, clock=lambda: moment)
    assert aware.trail[1] == "shut"
    assert aware.vars["seen"] == dt.datetime(2026, 11, 30, 14, 30)          # host (UTC) wall time
    # a test's `now: 2026-11-30 14:30` means 14:30 on the calendar's clock: 8 hours earlier
    naive = run(calendar, clock=lambda: dt.datetime(2026, 11, 30, 14, 30))
    assert naive.trail[1] == "staffed" and naive.vars["seen"] == dt.datetime(2026, 11, 30, 14, 30)
    assert run(calendar, clock=lambda: dt.datetime(2026, 11, 30, 22, 30)).trail[1] == "shut"

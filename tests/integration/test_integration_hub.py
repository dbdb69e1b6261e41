""""Never block the hub", end to end: while one call waits on a slow query, 50 other
calls go through their whole flows, their database writes included.

Real pieces only: scripted callers on the emulated FreeSWITCH, fsapp's outbound socket
server, the flow interpreter (FlowHandler from a generated fsapp.toml) and a Store on a
real PostgreSQL. The 50 ordinary calls do not query, but every node they leave is stored
as a node_visit row (with the call record, when the call ends) through the same Store,
whose thread pool and connection pool the slow query is holding a part of: the
contention a production hotline has.

No wall-clock budget decides it (the suite must pass on a busy machine): the slow query
waits for an advisory lock the test holds, and the test lets it go only once all 50
calls have ended. A hub blocked by the query, or a Store whose writes queue behind it,
would never let them end: the test then fails at its hang guard.
"""
from __future__ import annotations

import time

import gevent
import pyodbc
import pytest

from fsapp.sim import Press, WaitPrompt

from .itline import ItLine, tone, tones_heard, wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCALE = 4.0                 # emulated seconds per wall second: an ordinary call is ~0.4 s of wall time
ORDINARY_CALLS = 50
LOCK = 4242                 # queries/integration.sql: slow_report waits for this advisory lock
HANG_GUARD_S = 600.0        # only turns a hang into a failure; nothing is timed

# greet -> menu -> ask_account -> thanks -> bye: four edges, then the call's rows are written
STEPS_PER_CALL = 4
ACCOUNT_TONES = [tone(400), tone(440), tone(480), tone(520), tone(560)]


def ordinary_steps(account: str) -> list:
    return [WaitPrompt("%(200,0,440)"), Press("1"), WaitPrompt("%(200,0,480)"), Press(account, gap_ms=100),
            WaitPrompt("%(200,0,520)"), WaitPrompt("%(200,0,560)")]


def ticker(gaps: list[float], interval: float = 0.01) -> None:
    """Wakes up every 10 ms; a gap much longer than that is time the hub spent blocked
    (printed, not asserted: on a starved machine a gap is the scheduler's too)."""
    last = time.monotonic()
    while True:
        gevent.sleep(interval)
        now = time.monotonic()
        gaps.append(now - last)
        last = now


def _calls_with_visits(conn, uuids: list[str]) -> int:
    """How many of these calls have node_visit rows in the database."""
    marks = ", ".join("?" * len(uuids))
    return conn.execute(f"SELECT COUNT(DISTINCT call_uuid) FROM fsapp_node_visits WHERE call_uuid IN ({marks})",
                        *uuids).fetchone()[0]


def test_fifty_calls_go_through_while_one_waits_on_a_query_that_does_not_return(it_database, tmp_path):
    held = pyodbc.connect(it_database, autocommit=True)
    held.execute(f"SELECT pg_advisory_lock({LOCK})")     # the slow query waits on it
    line = ItLine.open(tmp_path, it_database, scale=SCALE, query_timeout=HANG_GUARD_S)
    gaps: list[float] = []
    tick = gevent.spawn(ticker, gaps)
    try:
        slow = line.place("7001", [WaitPrompt("%(200,0,330)")], caller_id="13900000000")
        query_started = wait_for(lambda: line.first("enter", "lookup"), HANG_GUARD_S,
                                 "the slow call to reach its sql node")
        callers = [line.place("7002", ordinary_steps(f"{i:04d}"), caller_id=f"1380000{i:04d}")
                   for i in range(ORDINARY_CALLS)]
        reports = [c.wait(HANG_GUARD_S) for c in callers]
        outcomes = [line.outcome(r.uuid, HANG_GUARD_S) for r in reports]
        # every ordinary call has ended and its node visits are in the database, while the
        # slow query still waits for the lock
        ordinary = [r.uuid for r in reports]
        stored = wait_for(lambda: _calls_with_visits(held, ordinary) == ORDINARY_CALLS, HANG_GUARD_S,
                          "the ordinary calls' node visits in the database")
        still_running = line.first("store", "lookup") is None
        held.execute(f"SELECT pg_advisory_unlock({LOCK})")
        slow_report = slow.wait(HANG_GUARD_S)
        query_done = wait_for(lambda: line.first("store", "lookup"), HANG_GUARD_S, "the slow query to return")
        slow_outcome, _ = line.outcome(slow_report.uuid, HANG_GUARD_S)
    finally:
        tick.kill()
        line.close()
        held.close()

    # Every ordinary call went through its whole flow with its own digits...
    problems = []
    for i, (report, (outcome, _)) in enumerate(zip(reports, outcomes)):
        if report.error or tones_heard(report) != ACCOUNT_TONES or outcome.vars.get("account") != f"{i:04d}" \
                or (outcome.reason, outcome.node) != ("hangup", "bye"):
            problems.append(f"call {i}: error={report.error} heard={tones_heard(report)} "
                            f"outcome={outcome.reason}/{outcome.node} vars={outcome.vars}")
    assert not problems, "\n".join(problems)
    # ... while the query ran: all their steps fall inside the query's window, and their
    # node_visit rows, written through the same Store, were in the database before it
    # returned.
    assert still_running and stored, "the slow query returned before the test let it"
    moved = [e for e in line.events if e.event["event"] == "edge" and e.event.get("uuid") in ordinary
             and query_started.at < e.at < query_done.at]
    assert len(moved) == ORDINARY_CALLS * STEPS_PER_CALL, len(moved)
    # The slow call really waited on the database, and got its row.
    assert slow_outcome.vars["report"] == {"report": "ready"}, slow_outcome
    assert tones_heard(slow_report) == [tone(300), tone(330)], slow_report
    print(f"\n{len(moved)} node steps of {ORDINARY_CALLS} calls during the {query_done.at - query_started.at:.2f} s "
          f"query; max hub gap {max(gaps) * 1000:.0f} ms")

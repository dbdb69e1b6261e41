""""Nothing lost", end to end: PostgreSQL stops in the middle of scripted calls that
each write a complaint ticket (and, on hang-up, a call record; node visits throughout);
after the restart every row is there exactly once.

1. In-process: 50 emulated calls through fsapp's outbound socket server and the flow
   it_complaint; PostgreSQL is stopped with scripts/services.sh while they run, restarted,
   and the outbox replays what was spooled meanwhile.
2. Across a crash: `fsapp serve --flows` as a real subprocess; PostgreSQL is stopped,
   calls are placed (everything they write is spooled), the process is SIGKILLed with a
   full spool, PostgreSQL comes back, a new `fsapp serve` replays the spool.

These tests stop the shared PostgreSQL server (marker pg_outage): each outage lasts a few
seconds and the server is always restarted in a `finally`.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import gevent
import pytest

from fsapp.sim import CallerScript, Press, RealClock, Socket, Switch, WaitPrompt
from fsapp.store.outbox import Outbox

from .itline import (PASSWORD, ItLine, free_port, sql_rows, sql_value, tone, tones_heard, wait_for,
                     write_config)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.pg_outage]

SCALE = 4.0
CALL_TIMEOUT = 60.0
CATEGORIES = {"1": "noise", "2": "water", "3": "roads"}
COMPLAINT_TONES = [tone(600), tone(640), tone(680)]
# it_complaint's path: the nodes each call leaves, one node_visit row each
COMPLAINT_PATH = ["category", "number", "save", "accepted", "bye"]
SERIAL_BLOCK = 100          # [store] serial_block default: numbers reserved at a time


def complaint_steps(key: str) -> list:
    return [WaitPrompt("%(200,0,600)"), Press(key), WaitPrompt("%(200,0,640)"), WaitPrompt("%(200,0,680)")]


def caller_id(i: int) -> str:
    return f"1391234{i:04d}"


def serials_reserved(odbc: str) -> bool:
    """Two blocks of ticket numbers on hand (reserved at start-up, in the background)."""
    rows = sql_rows(odbc, "SELECT next_value FROM fsapp_serial_blocks WHERE name = 'ticket'")
    return bool(rows) and rows[0][0] > 2 * SERIAL_BLOCK


def table_counts(odbc: str) -> tuple[int, int, int]:
    """(tickets, call records, node visits)."""
    return tuple(sql_value(odbc, f"SELECT COUNT(*) FROM {t}")
                 for t in ("fsapp_tickets", "fsapp_call_records", "fsapp_node_visits"))


def check_exactly_once(odbc: str, reports: list, keys: list[str]) -> None:
    """One ticket, one call record and one visit per node of the path for every call."""
    uuids = [r.uuid for r in reports]
    n = len(reports)
    assert table_counts(odbc) == (n, n, n * len(COMPLAINT_PATH))
    tickets = {row[0]: row[1:] for row in sql_rows(
        odbc, "SELECT call_uuid, serial, category, caller_number, kind FROM fsapp_tickets")}
    assert sorted(tickets) == sorted(uuids), "one ticket per call, none for anything else"
    assert len({t[0] for t in tickets.values()}) == n, "ticket serials are unique"
    expected = {r.uuid: (CATEGORIES[k], caller_id(i), "complaint")
                for i, (r, k) in enumerate(zip(reports, keys))}
    assert {u: t[1:] for u, t in tickets.items()} == expected
    records = sql_rows(odbc, "SELECT call_uuid, hangup_cause, flow FROM fsapp_call_records")
    assert sorted(r[0] for r in records) == sorted(uuids)
    assert {(r[1], r[2]) for r in records} == {("NORMAL_CLEARING", "it_complaint")}
    visits = sql_rows(odbc, "SELECT call_uuid, node, COUNT(*) FROM fsapp_node_visits "
                            "GROUP BY call_uuid, node")
    assert sorted((u, node, c) for u, node, c in visits) == sorted(
        (u, node, 1) for u in uuids for node in COMPLAINT_PATH)


def check_callers(reports: list) -> None:
    """Every caller heard "your complaint is recorded", outage or not."""
    bad = [f"call {i}: error={r.error} heard={tones_heard(r)} cause={r.hangup_cause}"
           for i, r in enumerate(reports) if r.error or tones_heard(r) != COMPLAINT_TONES]
    assert not bad, "\n".join(bad)


# ---- 1. PostgreSQL stopped and restarted in the middle of 50 calls ------------------------------

CALLS = 50


def test_postgres_stopped_mid_calls_all_fifty_tickets_exactly_once(it_database, postgres_server, tmp_path):
    odbc = it_database
    line = ItLine.open(tmp_path, odbc, scale=SCALE)
    keys = [str(i % 3 + 1) for i in range(CALLS)]
    callers: list = []

    def place_calls():             # 50 callers arriving over ~4 s
        for i in range(CALLS):
            callers.append(line.place("7003", complaint_steps(keys[i]), caller_id=caller_id(i)))
            gevent.sleep(0.08)

    try:
        wait_for(lambda: serials_reserved(odbc), 20, "ticket numbers to be reserved")
        placing = gevent.spawn(place_calls)
        wait_for(lambda: table_counts(odbc)[0] >= 10, 30, "the first 10 tickets to be written")
        try:
            postgres_server.stop()
            # stay down until calls have had writes refused (spooled); then come back at once
            spooled = wait_for(lambda: line.store.outbox_status()["pending"] >= 10 and
                               line.store.outbox_status()["pending"], 20, "writes to be spooled")
        finally:
            postgres_server.start()
        placing.get(timeout=30)
        reports = [c.wait(CALL_TIMEOUT) for c in callers]
        for r in reports:
            line.outcome(r.uuid)
        check_callers(reports)
        wait_for(lambda: line.store.outbox_status()["pending"] == 0 and
                 table_counts(odbc) == (CALLS, CALLS, CALLS * len(COMPLAINT_PATH)), 45,
                 "the outbox to replay every spooled row")
        gevent.sleep(1.5)          # a replay that doubled rows would have done it by now
        check_exactly_once(odbc, reports, keys)
        assert line.store.outbox_status()["dead"] == 0
    finally:
        line.close()
    print(f"\n{spooled} rows were spooled during the outage; all {CALLS} calls' rows are in exactly once")


# ---- 2. fsapp serve killed with a full spool, restarted -------------------------------------------

KILLED_CALLS = 20


class Serve:
    """`fsapp serve --flows tests/integration/flows` as a child process."""

    def __init__(self, config: Path, listen: str, log: Path):
        fsapp = Path(sys.executable).parent / "fsapp"
        if not fsapp.is_file():
            raise AssertionError(f"{fsapp} not found: install fsapp into this venv (pip install -e .)")
        self.log = log
        self.listen = listen
        # only the generated config: no FSAPP_<SECTION>_<KEY> overrides from the test environment
        env = {k: v for k, v in os.environ.items() if not k.startswith("FSAPP_")}
        with log.open("ab") as err:
            self.proc = subprocess.Popen(
                [str(fsapp), "--config", str(config), "serve", "--flows", str(Path(__file__).parent / "flows"),
                 "--listen", listen], stdout=subprocess.DEVNULL, stderr=err, env=env)

    def wait_listening(self, timeout: float = 30.0) -> None:
        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"fsapp serve exited with {self.proc.returncode}:\n"
                                     f"{self.log.read_text()}")
            return f"listening on {self.listen}" in self.log.read_text(errors="replace")
        wait_for(up, timeout, f"fsapp serve to listen on {self.listen}")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def test_serve_killed_with_a_full_spool_replays_after_restart(it_database, postgres_server, tmp_path):
    odbc = it_database
    config = write_config(tmp_path, odbc)
    spool = Outbox(tmp_path / "spool")       # read-only look at what the server spooled
    listen = f"127.0.0.1:{free_port()}"
    first = Serve(config, listen, tmp_path / "serve-1.log")
    switch = Switch(password=PASSWORD, esl=("127.0.0.1", 0), clock=RealClock(scale=SCALE)).start()
    switch.dialplan.add(r"^7003$", Socket(f"{listen} async full"))
    second = None
    keys = [str(i % 3 + 1) for i in range(KILLED_CALLS)]
    expected_rows = KILLED_CALLS * (2 + len(COMPLAINT_PATH))    # ticket + call record + visits
    try:
        first.wait_listening()
        wait_for(lambda: serials_reserved(odbc), 20, "the server to reserve ticket numbers")
        try:
            postgres_server.stop()
            callers = []
            for i in range(KILLED_CALLS):
                callers.append(switch.place_call(
                    CallerScript(dial="7003", caller_id=caller_id(i), steps=complaint_steps(keys[i]))))
                gevent.sleep(0.05)
            reports = [c.wait(CALL_TIMEOUT) for c in callers]
            check_callers(reports)
            wait_for(lambda: spool.status()["pending"] >= expected_rows, 20,
                     f"the server to spool all {expected_rows} rows")
            first.kill(signal.SIGKILL)                  # no clean shutdown: the spool is left as is
            assert first.proc.returncode == -signal.SIGKILL
        finally:
            first.kill()
            postgres_server.start()
        assert spool.status()["pending"] == expected_rows
        assert table_counts(odbc) == (0, 0, 0), "nothing reached the database before the crash"

        second = Serve(config, f"127.0.0.1:{free_port()}", tmp_path / "serve-2.log")
        second.wait_listening()
        wait_for(lambda: spool.status()["pending"] == 0 and
                 table_counts(odbc) == (KILLED_CALLS, KILLED_CALLS, KILLED_CALLS * len(COMPLAINT_PATH)), 45,
                 "the restarted server to replay the spool")
        gevent.sleep(1.5)
        check_exactly_once(odbc, reports, keys)
        assert spool.status()["dead"] == 0
    finally:
        if second is not None:
            second.kill(signal.SIGTERM)
        first.kill()
        switch.stop()


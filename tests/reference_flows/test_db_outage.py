"""The database stops in the middle of calls (PostgreSQL and MariaDB, behind a relay the
test cuts): callers hear the apology prompt, what they left is spooled in the outbox and
written once the database is back."""
from __future__ import annotations

import re

import gevent
import pytest

from fsapp.sim import Hangup, Press, Silence, Speak
from fsapp.store import is_valid_serial

from .conftest import open_store, prepare_database
from .harness import BEEP, DAY, SILENCE_END, DbProxy, Line, WaitPrompt, check, digits

pytestmark = pytest.mark.slow


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.postgres),
                        pytest.param("mysql", marks=pytest.mark.mariadb)])
def outage_db(request, tmp_path):
    odbc = request.getfixturevalue("pg_database" if request.param == "postgresql" else "mariadb_database")
    host = re.search(r"(?i)Server=([^;]*)", odbc).group(1)
    port = int(re.search(r"(?i)Port=([^;]*)", odbc).group(1))
    proxy = DbProxy(host, port)
    setup = open_store(odbc, tmp_path / "setup-spool")
    prepare_database(setup, request.param)
    setup.close()
    store = open_store(proxy.odbc(odbc), tmp_path / "spool", breaker_failures=1, breaker_cooldown=0.5,
                       replay_interval=0.2, query_timeout=5.0, connect_timeout=2.0)
    store.next_ticket_serial()     # a serial block on hand, as after any normal start-up
    yield proxy, store, odbc
    store.close()
    proxy.close()


def _entered(line: Line, node: str, timeout: float = 60.0) -> None:
    with gevent.Timeout(timeout):
        while not any(e["event"] == "enter" and e.get("node") == node for e in line.recorder.events):
            gevent.sleep(0.02)


def test_database_stops_mid_call(outage_db, make_services):
    proxy, store, odbc = outage_db
    line = Line(make_services(store, DAY))
    try:
        def cut_when_asked():
            _entered(line, "status_ask")
            proxy.cut()
        cutter = gevent.spawn(cut_when_asked)
        hotline = gevent.spawn(line.call, "12345", [
            WaitPrompt("hotline/language_offer"), WaitPrompt("hotline/main_menu", after="start"), Press("3"),
            WaitPrompt("hotline/status/enter_serial", after="start"), Press("00000018"), WaitPrompt("hotline/status/after_menu", after="start"),
            Press("*"), WaitPrompt("hotline/main_menu", after="start"), Press("2"), WaitPrompt("hotline/complaint/category_menu", after="start"),
            Press("1"), WaitPrompt(BEEP), Speak(2.0), Silence(SILENCE_END + 1), WaitPrompt("hotline/review_menu", after="start"),
            Press("3"), WaitPrompt("hotline/serial_menu"), Hangup()])
        r = hotline.get(timeout=120)
        cutter.get(timeout=5)
        # a second caller while the database is down: the billing lookup apologises
        utility = line.call("96116", [WaitPrompt("water/language_offer")], caller_id="13900139000")
        f: list[str] = []
        serial = r.vars.get("serial", "")
        check(f, "hotline", "heard", [
            "hotline/welcome", "hotline/language_offer", "hotline/main_menu", "hotline/status/enter_serial",
            "common/db_unavailable", "hotline/status/after_menu", "hotline/main_menu",
            "hotline/complaint/category_menu", "hotline/complaint/record", BEEP, "hotline/review_menu",
            "hotline/complaint/accepted", "hotline/ticket_number_is", *digits("zh-CN", serial),
            "hotline/serial_menu"], r.heard)
        check(f, "utility", "heard", ["water/welcome", "water/language_offer", "common/db_unavailable",
                                      "common/goodbye"], utility.heard)
        assert not f, "\n".join(f)
        assert is_valid_serial(serial), "a ticket number is handed out while the database is down"
        assert store.outbox_status()["pending"] >= 4, store.outbox_status()  # ticket, recording, 2 call records

        proxy.restore()
        expected = {("fsapp_tickets", f"{r.report.uuid}:ticket:{serial}"),
                    ("fsapp_recordings", f"{r.report.uuid}:recording:{serial}"),
                    ("fsapp_call_records", f"{r.report.uuid}:call"),
                    ("fsapp_call_records", f"{utility.report.uuid}:call")}
        with gevent.Timeout(30, AssertionError(f"outbox not replayed: {store.outbox_status()}")):
            while True:
                found = set()
                try:
                    for table, key in expected:
                        if store.execute(f"SELECT 1 FROM {table} WHERE idem_key = ?", [key]):
                            found.add((table, key))
                except Exception:  # noqa: BLE001 - the breaker may still be cooling down
                    pass
                if found == expected:
                    break
                gevent.sleep(0.2)
        ticket = store.execute("SELECT serial, kind, category, caller_number FROM fsapp_tickets WHERE serial = ?",
                               [serial])
        assert ticket == [{"serial": serial, "kind": "complaint", "category": "water",
                           "caller_number": "13800138000"}]
        outcomes = store.execute("SELECT destination, outcome FROM fsapp_call_records ORDER BY destination")
        assert outcomes == [{"destination": "12345", "outcome": "serial_menu"},
                            {"destination": "96116", "outcome": "db_down"}]
        assert store.outbox_status()["pending"] == 0
    finally:
        line.close()

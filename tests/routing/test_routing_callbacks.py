"""Callbacks: only within the business calendar; a dead worker's callback is adopted."""
import datetime as dt
import time
from pathlib import Path

import pytest

from fsapp.calendar import load_calendars
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.model import Member
from fsapp.routing.reconciler import Reconciler
from fsapp.routing.router import Router

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """
queues:
  office:
    calendar: office_hours
agents:
  "1001": {contact: user/1001, status: Available}
tiers:
  - {queue: office, agent: "1001"}
"""


class NoSwitch:
    host, port, command_timeout = "127.0.0.1", 0, 1.0


@pytest.fixture
def router(backend):
    cfg = loads_routing(CONFIG, "r.yaml")
    seed_backend(cfg, backend, time.time())
    r = Router(cfg, backend, NoSwitch(), worker_id="me", lease=5.0,
               calendars=load_calendars(ROOT / "calendars.yaml"))
    yield r
    r.stop()


def test_callback_waits_for_business_hours(router):
    tz = router.calendars["office_hours"].tz
    sunday = dt.datetime(2026, 11, 29, 10, 0, tzinfo=tz).timestamp()
    monday_open = dt.datetime(2026, 11, 30, 8, 30, tzinfo=tz).timestamp()
    assert router.callbacks.business_time(router.config.queue("office"), sunday) == monday_open
    open_now = dt.datetime(2026, 11, 30, 9, 0, tzinfo=tz).timestamp()
    assert router.callbacks.business_time(router.config.queue("office"), open_now) == 0.0


def test_calendar_must_be_loaded(backend):
    cfg = loads_routing(CONFIG, "r.yaml")
    with pytest.raises(ValueError, match="calendar 'office_hours' is not loaded"):
        Router(cfg, backend, NoSwitch(), worker_id="me")


def test_dead_workers_callback_is_adopted(router, backend):
    now = time.time()
    backend.add_member(Member("callback-x", "office", "13800138000", joined_at=now - 100, owner="dead",
                              expires=now - 1, callback_number="13800138000", not_before=now + 3600))
    backend.add_member(Member("plain-x", "office", "139", joined_at=now - 100, owner="dead", expires=now - 1))
    repairs = Reconciler(backend, [], "me", adopt=router.callbacks.adopt).run_once()
    assert any("callback callback-x" in r and "worker dead died, adopted" in r for r in repairs), repairs
    assert any("plain-x" in r and "removed" in r for r in repairs), repairs
    m = backend.get_member("callback-x")
    assert m.owner == "me" and m.joined_at == pytest.approx(now - 100)   # same place in the queue
    assert "callback-x" in router.dispatcher.tickets and "callback-x" in router.callbacks.running
    assert backend.get_member("plain-x") is None


def test_caller_priority_from_vip_list_and_sql_lookup(backend):
    class Store:
        def __init__(self, rows=None, fail=False):
            self.rows, self.fail, self.asked = rows or {}, fail, []

        def query_one(self, name, params, timeout=None):
            self.asked.append((name, params))
            if self.fail:
                raise RuntimeError("database down")
            return self.rows.get(params["caller_number"])

    cfg = loads_routing("""
queues:
  q:
    vip: ["13800000001"]
    vip-priority: 4
    priority-query: crm.caller_tags
""", "r.yaml")
    store = Store({"13900000002": {"priority": 7, "skills": "cantonese, billing:3"}})
    r = Router(cfg, backend, NoSwitch(), worker_id="me", store=store)
    q = cfg.queue("q")
    assert r._caller_profile(q, "13800000001", 0, {}) == (4, {})
    assert r._caller_profile(q, "13900000002", 1, {"english": 2}) == \
        (7, {"cantonese": 1, "billing": 3, "english": 2})
    assert r._caller_profile(q, "13700000000", 2, {}) == (2, {})
    assert store.asked[0] == ("crm.caller_tags", {"caller_number": "13800000001"})
    down = Router(cfg, backend, NoSwitch(), worker_id="me", store=Store(fail=True))
    assert down._caller_profile(q, "13800000001", 0, {}) == (4, {})     # lookup failure: still served

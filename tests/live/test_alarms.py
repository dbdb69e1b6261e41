"""Alarms: the latch as a property (one fire, one clear, never a storm), and every rule
caused for real on the emulator, with each sink receiving it: the log, the wallboard,
a webhook (a local HTTP server that fails first: retried), Redis pub/sub and a CUSTOM
fsapp::alarm event on the switch. Time is virtual where it matters: the service's clock
is the test's, stepped by hand."""
import json
import logging
import shutil
import socket
import time
from types import SimpleNamespace

import pytest
from gevent.pywsgi import WSGIServer
from hypothesis import given, strategies as st

from fsapp.esl import InboundClient
from fsapp.live.alarm_service import AlarmService, LogSink, WallboardSink, esl_sink, redis_sink, webhook_sink
from fsapp.live.alarms import AlarmEngine, AlarmRules, Facts, Latch
from fsapp.live.board import Thresholds
from fsapp.live.wallboard import Wallboard
from fsapp.routing.model import AgentStatus
from fsapp.sim import Wait
from liveline import MOH, LiveLine, PrivateRedis, wait_for


# ---- the latch -------------------------------------------------------------------------------------
@given(st.lists(st.tuples(st.booleans(), st.floats(min_value=0.0, max_value=20.0)), max_size=80),
       st.floats(min_value=0, max_value=30), st.floats(min_value=0, max_value=30))
def test_latch_alternates_fire_and_clear(steps, hold, clear_after):
    latch, now, changes = Latch(hold, clear_after), 0.0, []
    for condition, dt_ in steps:
        now += dt_
        change = latch.step(condition, now)
        if change:
            changes.append(change)
    assert changes == ["fire", "clear"] * (len(changes) // 2) + (["fire"] if len(changes) % 2 else [])
    assert latch.active == (len(changes) % 2 == 1)


@given(st.lists(st.floats(min_value=0.01, max_value=9.9), min_size=1, max_size=200))
def test_a_flapping_condition_fires_once(gaps):
    latch, now, fires = Latch(hold=0, clear_after=10), 0.0, 0
    condition = True
    for gap in gaps:                     # flips faster than clear_after: one alarm, no storm
        fires += latch.step(condition, now) == "fire"
        condition = not condition
        now += gap
    assert fires == 1


def test_engine_clears_an_alarm_whose_subject_is_gone():
    engine = AlarmEngine(AlarmRules(database=True, clear_after=0))
    assert [t.kind for t in engine.evaluate(Facts(databases={"main": False}), 0)] == ["fire"]
    assert [t.kind for t in engine.evaluate(Facts(databases={}), 1)] == ["clear"]


# ---- on the emulator ------------------------------------------------------------------------------
ROUTING = f"""
calendars: cal.yaml
queues:
  sales: {{strategy: top-down, moh-sound: "{MOH}", offer-timeout: 5, calendar: always}}
agents:
  "1001": {{contact: user/1001, status: Logged Out}}
  "1002": {{contact: user/1002, status: Logged Out}}
tiers:
  - {{queue: sales, agent: "1001"}}
  - {{queue: sales, agent: "1002"}}
"""
CALENDAR = "calendars:\n  always:\n    timezone: Asia/Shanghai\n    weekly:\n      daily: ['00:00-24:00']\n"


class Hook:
    """A webhook receiver: answers 500 to the first `fail` POSTs, then 200."""

    def __init__(self, fail: int = 1):
        self.fail, self.posts, self.refused = fail, [], 0
        self.server = WSGIServer(("127.0.0.1", 0), self.app, log=None)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.server.address[1]}/alarm"

    def app(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        if self.refused < self.fail:
            self.refused += 1
            start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
            return [b"try again"]
        self.posts.append(json.loads(body))
        start_response("204 No Content", [])
        return []


@pytest.fixture
def center(tmp_path, redis_url):
    import redis as redis_mod
    (tmp_path / "line").mkdir()
    (tmp_path / "line" / "cal.yaml").write_text(CALENDAR, encoding="utf-8")
    line = LiveLine.open(tmp_path / "line", routing=ROUTING)
    wall = Wallboard(line.router.config, line.router.backend, Thresholds()).start()
    hook = Hook(fail=1)
    r = redis_mod.Redis.from_url(redis_url)
    channel = f"test-alarms-{time.time_ns()}"
    pubsub = r.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel)
    listener = InboundClient("127.0.0.1", line.switch.esl_port, "ClueCon", command_timeout=5.0).start()
    heard = []
    listener.subscribe("CUSTOM fsapp::alarm")
    listener.on("fsapp::alarm", lambda e: heard.append((e.get("Alarm-State"), e.get("Alarm-Rule"),
                                                          e.get("Alarm-Subject"))))
    clock = [time.time()]
    rules = AlarmRules(waiting_over=1, waiting_for=30, service_level_below=0.8, service_level_min_calls=2,
                       agent_stuck_seconds=600, no_agent_when_open=True, esl=True, clear_after=5)
    sinks = [LogSink(), WallboardSink(wall), webhook_sink(hook.url, timeout=5, retries=3, backoff=0.05),
             redis_sink(r, channel), esl_sink(line.router.esl)]
    service = AlarmService(AlarmEngine(rules), line.router.config, line.router.backend, esl=line.router.esl,
                           calendars=line.router.calendars, sinks=sinks, clock=lambda: clock[0]).start()
    c = SimpleNamespace(line=line, wall=wall, hook=hook, pubsub=pubsub, heard=heard, clock=clock,
                        service=service, sinks=sinks)

    def step(seconds=0.0):
        clock[0] += seconds
        return [(t.kind, t.alarm.rule, t.alarm.subject) for t in service.check()]
    c.step = step

    def published():
        out = []
        while (m := pubsub.get_message(timeout=0.05)) is not None:
            out.append(json.loads(m["data"]))
        return out
    c.published = published
    yield c
    service.stop()
    for sink in sinks[2:]:
        sink.stop()
    listener.stop()
    pubsub.close()
    r.close()
    hook.server.stop(timeout=1)
    wall.stop()
    line.close()


def test_queue_rules_fire_once_clear_once_and_reach_every_sink(center, caplog):
    c = center
    caplog.set_level(logging.INFO, logger="fsapp.live.alarms")
    # open calendar, nobody logged in: no_agent fires at once
    assert c.step() == [("fire", "no_agent", "sales")]
    assert c.step(1) == []                                   # once
    callers = [c.line.place([Wait(120)], caller_id=f"1380000000{i}") for i in range(2)]
    wait_for(lambda: len([m for m in c.line.router.backend.members("sales")]) == 2, 20, "two callers waiting")
    assert c.step(1) == []                                   # more than 1 waiting, not yet 30 s
    assert c.step(30) == [("fire", "waiting", "sales")]           # held for 30 s
    assert c.step(1) == []
    # an agent logs in: no_agent clears after clear_after
    c.line.agent("1001", ring_s=0.2, talk_s=120)
    c.line.router.backend.set_status("1001", AgentStatus.AVAILABLE, time.time())
    assert c.step(1) == []
    assert c.step(5) == [("clear", "no_agent", "sales")]
    wait_for(lambda: any(m.state.value == "Answered" for m in c.line.router.backend.members("sales")),
             20, "1001 to take one caller")
    assert c.step(1) == []
    assert c.step(5) == [("clear", "waiting", "sales")]
    # the agent stays on the call: stuck after 600 s
    assert c.step(600) == [("fire", "agent_stuck", "1001")], c.service.facts(c.clock[0]).agents
    # the sinks: log, wallboard, webhook (after one refused POST), Redis, the switch
    assert [r.getMessage() for r in caplog.records].count("alarm") == 3
    assert [a["rule"] for a in c.wall.snapshot()["alarms"]] == ["agent_stuck"]
    wait_for(lambda: len(c.hook.posts) == 5, 20, "the webhook posts")
    assert c.hook.refused == 1
    assert [(p["state"], p["rule"]) for p in c.hook.posts] == [
        ("firing", "no_agent"), ("firing", "waiting"), ("cleared", "no_agent"), ("cleared", "waiting"),
        ("firing", "agent_stuck")]
    published = wait_for(lambda: (got := c.published()) and got, 20, "Redis messages")
    assert [p["rule"] for p in published][:2] == ["no_agent", "waiting"]
    wait_for(lambda: len(c.heard) == 5, 20, "the CUSTOM fsapp::alarm events")
    assert c.heard[0] == ("firing", "no_agent", "sales")
    for caller in callers:
        c.line.router.esl.uuid_kill(caller.report.uuid)


def test_service_level_over_the_window(center):
    c = center
    c.step()                                                 # no_agent, as above
    callers = [c.line.place([Wait(120)], caller_id=f"1390000000{i}") for i in range(2)]
    wait_for(lambda: len(c.line.router.backend.members("sales")) == 2, 20, "two callers")
    for caller in callers:                                   # both give up: service level 0%
        c.line.router.esl.uuid_kill(caller.report.uuid)
        caller.wait(30)
    wait_for(lambda: c.service.engine.service_level("sales", c.clock[0])[1] == 2, 20, "two abandons seen")
    assert ("fire", "service_level", "sales") in c.step(1)
    assert c.step(1) == []
    assert c.step(1800) == []                                # the window moved on: the calls left it
    assert ("clear", "service_level", "sales") in c.step(5)


def test_esl_disconnect_fires_and_clears_when_freeswitch_is_back(center):
    from fsapp.sim import Switch
    c = center
    c.step()
    port = c.line.switch.esl_port
    c.line.switch.stop()                                     # FreeSWITCH goes away
    wait_for(lambda: not c.line.router.esl.connected, 20, "the link to drop")
    assert ("fire", "esl", f"127.0.0.1:{port}") in c.step(1)
    assert c.step(1) == []
    assert [a["rule"] for a in c.wall.snapshot()["alarms"]].count("esl") == 1
    c.line.switch = Switch(password="ClueCon", esl=("127.0.0.1", port)).start()   # and comes back
    wait_for(lambda: c.line.router.esl.connected, 60, "the reconnect")
    assert c.step(1) == []
    assert ("clear", "esl", f"127.0.0.1:{port}") in c.step(5)
    assert "esl" not in [a["rule"] for a in c.wall.snapshot()["alarms"]]


def test_database_and_outbox_rules(tmp_path):
    from fsapp.store import Store
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = Store({"main": {"odbc": f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={port};Database=x;"
                                    "Uid=x;Pwd=x", "connect_timeout": 1}}, spool_dir=tmp_path / "spool", start=False)
    from fsapp.routing.backend import MemoryBackend
    from fsapp.routing.config import loads_routing
    try:
        for i in range(3):
            store.write("queue_event", {"call_uuid": f"u{i}", "queue_name": "q", "event": "enter"}, key=f"k{i}")
        service = AlarmService(AlarmEngine(AlarmRules(database=True, outbox_over=2, clear_after=0)),
                               loads_routing("queues: {}\n", "r.yaml"), MemoryBackend(), store=store)
        fired = {(t.kind, t.alarm.rule, t.alarm.subject) for t in service.check()}
        assert fired == {("fire", "database", "main"), ("fire", "outbox", "")}
        assert service.check() == []
    finally:
        store.close()


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_redis_unavailable_fires_and_clears(tmp_path):
    from fsapp.routing.config import loads_routing
    from fsapp.routing.redis_backend import RedisBackend
    server = PrivateRedis(tmp_path)
    backend = RedisBackend.from_url(server.url, prefix="t:")
    try:
        wait_for(lambda: _pings(backend), 20, "the private redis-server")
        now = [0.0]
        service = AlarmService(AlarmEngine(AlarmRules(redis=True, clear_after=0)),
                               loads_routing("queues: {sales: {}}\n", "r.yaml"), backend, clock=lambda: now[0])
        assert service.check() == []
        server.stop()
        assert [(t.kind, t.alarm.rule) for t in service.check()] == [("fire", "redis")]
        assert service.check() == []
        server.start()
        wait_for(lambda: _pings(backend), 20, "redis-server back")
        now[0] = 1.0
        assert [(t.kind, t.alarm.rule) for t in service.check()] == [("clear", "redis")]
    finally:
        backend.close()
        server.close()


def _pings(backend) -> bool:
    try:
        return bool(backend.r.ping())
    except Exception:
        return False

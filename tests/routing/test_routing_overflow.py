"""Overflow targets carried out by the router, end to end on the emulated FreeSWITCH:
queue moves keep the caller's place and priority, numbers are bridged through the
queue's number-dial, a closed calendar sends callers to the closed target, flow targets
continue in that flow, and site_queue hands a caller to another node's queue through one
redis-server (tests/routing/test_routing_multinode.py shows the two-node set-up)."""
import time
import uuid
from pathlib import Path

import gevent
import pytest

from fsapp.calendar import loads_calendars
from fsapp.esl import InboundClient, OutboundServer
from fsapp.flow.interpreter import Services
from fsapp.flow.runtime import FlowHandler
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.overflow import Overflow
from fsapp.routing.redis_backend import RedisBackend
from fsapp.routing.router import Outcome, Router
from fsapp.sim import CallerScript, Socket, Switch, Wait

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 120       # only turns a hang into a failure; waits are on events
MOH = "tone_stream://%(1000,0,440);loops=-1"

CALENDARS = """
calendars:
  open_always:
    timezone: Asia/Shanghai
    weekly: {daily: "00:00-24:00"}
  shut:
    timezone: Asia/Shanghai
    weekly: {daily: "00:00-24:00"}
    closures:
      - {from: "2000-01-01 00:00", to: "2100-01-01 00:00", reason: "closed for the test"}
"""

CONFIG = f"""
sites:
  south: {{dial: "sofia/gateway/south/q-{{queue}}", queues: [south_desk]}}
queues:
  front:
    moh-sound: "{MOH}"
    calendar: open_always
    overflow:
      - {{after: 1, queue: back}}
  back:
    moh-sound: "{MOH}"
  to_number:
    moh-sound: "{MOH}"
    number-dial: "sofia/gateway/pstn/{{number}}"
    overflow:
      - {{after: 0.5, number: "95598"}}
  to_nowhere:
    moh-sound: "{MOH}"
    number-dial: "sofia/gateway/pstn/{{number}}"
    overflow:
      - {{after: 0.5, number: "4000"}}
  to_flow:
    moh-sound: "{MOH}"
    overflow:
      - {{after: 0.5, flow: mailbox}}
  night:
    moh-sound: "{MOH}"
    calendar: shut
    closed-target: "flow:mailbox"
  to_night:
    moh-sound: "{MOH}"
    overflow:
      - {{after: 0.5, queue: night}}
  to_site:
    moh-sound: "{MOH}"
    overflow:
      - {{after: 0.5, site_queue: south/south_desk}}
  south_desk:
    moh-sound: "{MOH}"
  vacant:                                 # nobody logged in
    moh-sound: "{MOH}"
    overflow:
      - {{no_agent: 0, queue: back}}
  slow:                                   # its one agent on break: 180 s estimated per caller
    moh-sound: "{MOH}"
    overflow:
      - {{estimated_wait_over: 60, queue: back}}
  lined:
    moh-sound: "{MOH}"
    max-wait-time: 4
    overflow:
      - {{queue_longer_than: 1, queue: back}}
agents:
  "1001": {{contact: user/1001, status: Available, wrap-up-time: 0}}
  "2001": {{contact: user/2001, status: Logged Out}}
  "3001": {{contact: user/3001, status: Available, wrap-up-time: 0}}
  "2002": {{contact: user/2002, status: On Break}}
tiers:
  - {{queue: front, agent: "2001"}}
  - {{queue: back, agent: "1001"}}
  - {{queue: south_desk, agent: "3001"}}
  - {{queue: vacant, agent: "2001"}}
  - {{queue: slow, agent: "2002"}}
  - {{queue: lined, agent: "2002"}}
"""


def _wait_for(predicate, what, state=lambda: ""):
    try:
        with gevent.Timeout(HANG_GUARD_S):
            while not predicate():
                gevent.sleep(0.02)
    except gevent.Timeout:
        raise AssertionError(f"never happened: {what} {state()}") from None


class Node:
    """One emulated FreeSWITCH with its routing worker: `q-<queue>` enters that queue."""

    def __init__(self, cfg, backend, name, priority=0):
        self.sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
        self.backend = backend
        self.esl = InboundClient("127.0.0.1", self.sw.esl_port, "ClueCon", command_timeout=10.0).start()
        self.router = Router(cfg, backend, self.esl, worker_id=f"w-{name}", lease=10.0,
                             calendars=loads_calendars(CALENDARS)).start()
        self.outcomes = {}
        self.joined = []
        backend.subscribe(lambda e: self.joined.append(e) if e.get("event") == "member-joined" else None)

        def handler(call):
            call.answer()
            queue = call.destination.split("-", 1)[1]
            self.outcomes[call.uuid] = self.router.enqueue(call, queue, priority=priority, timeout=HANG_GUARD_S)
            call.hangup()
        self.server = OutboundServer(handler, ("127.0.0.1", 0), linger=1).start()
        self.sw.dialplan.add(r"^q-\w+$", Socket(f"127.0.0.1:{self.server.port} async full"))

    def call(self, queue, caller_id="13800138000", steps=None):
        caller = self.sw.place_call(CallerScript(dial=f"q-{queue}", caller_id=caller_id, steps=steps or [Wait(30)]))
        report = caller.wait(HANG_GUARD_S)
        _wait_for(lambda: report.uuid in self.outcomes, "the router's outcome")
        return report, self.outcomes[report.uuid]

    def stop(self):
        self.router.stop()
        self.server.stop(timeout=2)
        self.esl.stop()
        self.sw.stop()


@pytest.fixture
def node(backend):
    cfg = loads_routing(CONFIG, "routing.yaml")
    seed_backend(cfg, backend, time.time() - 100)
    n = Node(cfg, backend, "a", priority=3)
    yield n
    n.stop()


def test_queue_move_keeps_wait_time_and_priority(node):
    agent = node.sw.add_agent("1001", ring_s=0.1, talk_s=0.3)
    report, outcome = node.call("front")
    assert (outcome.kind, outcome.agent) == ("answered", "1001"), outcome
    joins = [e for e in node.joined if e["member"] == report.uuid]
    assert [e["queue"] for e in joins] == ["front", "back"]
    assert joins[0]["at"] == joins[1]["at"] == outcome.joined_at      # the same place: arrival kept
    assert [e["priority"] for e in joins] == [3, 3]
    assert outcome.waited_s >= 1.0                                      # counted from the first queue
    assert agent.calls[0]["answered_at"] is not None


@pytest.mark.parametrize("queue", ["vacant", "slow"])
def test_no_agent_and_estimated_wait_rules_move_the_caller(node, queue):
    node.sw.add_agent("1001", ring_s=0.1, talk_s=0.3)
    report, outcome = node.call(queue)
    assert (outcome.kind, outcome.agent) == ("answered", "1001"), outcome
    assert [e["queue"] for e in node.joined if e["member"] == report.uuid] == [queue, "back"]


def test_queue_longer_than_moves_only_the_callers_beyond_the_limit(node):
    """Three callers, `queue_longer_than: 1`: the first keeps waiting (until its
    max-wait-time), the second and third move on as they arrive and are answered."""
    node.sw.add_agent("1001", ring_s=0.1, talk_s=0.2)
    callers = []
    for n in range(3):
        callers.append(node.sw.place_call(CallerScript(dial="q-lined", caller_id=f"1390000000{n}",
                                                       steps=[Wait(30)])))
        _wait_for(lambda: sum(e["queue"] == "lined" for e in node.joined) == n + 1, f"caller {n + 1} queued")
    reports = [c.wait(HANG_GUARD_S) for c in callers]
    _wait_for(lambda: all(r.uuid in node.outcomes for r in reports), "every outcome")
    kinds = [(node.outcomes[r.uuid].kind, node.outcomes[r.uuid].reason) for r in reports]
    assert kinds[0] == ("timeout", "max-wait-time"), kinds
    assert [k for k, _ in kinds[1:]] == ["answered", "answered"], kinds


def test_number_is_bridged_through_number_dial(node):
    outside = node.sw.add_agent("95598", ring_s=0.1, talk_s=0.5)
    report, outcome = node.call("to_number", caller_id="13900000001")
    assert (outcome.kind, outcome.target) == ("transferred", "number:95598"), outcome
    assert outside.calls[0]["answered_at"] is not None
    assert outside.calls[0]["caller_id"] == "13900000001"
    assert report.bridged_to                    # the caller talked to the outside number
    assert node.backend.members("to_number") == []
    # a caller id from the network that is not a number never reaches the dial string
    _, outcome = node.call("to_number", caller_id="1,sofia/gateway/x/9{a=b}")
    assert outcome.kind == "transferred", outcome
    assert outside.calls[1]["caller_id"] == "0000000000"
    assert "a" not in outside.calls[1]["variables"]


def test_number_not_reached_goes_to_the_flows_on_overflow(node):
    _, outcome = node.call("to_nowhere")        # nobody answers 4000 behind the gateway
    assert (outcome.kind, outcome.target) == ("overflow", "number:4000"), outcome
    assert outcome.reason.startswith("bridge-failed: ")


def test_a_closed_calendar_sends_callers_to_the_closed_target(node):
    node.sw.add_agent("1001", ring_s=0.1, talk_s=0.3)
    _, outcome = node.call("night")
    assert (outcome.kind, outcome.target, outcome.reason) == ("overflow", "flow:mailbox", "closed"), outcome
    assert not [e for e in node.joined if e["queue"] == "night"]        # never entered
    # an overflow into a closed queue goes to that queue's closed target too
    _, outcome = node.call("to_night")
    assert (outcome.kind, outcome.target, outcome.reason) == ("overflow", "flow:mailbox", "closed"), outcome


FLOWS = {
    "entry": """
flow: entry
numbers: ["7000"]
languages: [en-US]
start: wait
nodes:
  wait:
    queue: {queue: to_flow, next: bye, on_overflow: fallback}
  fallback:
    hangup: {prompt: common/goodbye}
  bye:
    hangup: {}
""",
    "mailbox": """
flow: mailbox
languages: [en-US]
start: leave_message
nodes:
  leave_message:
    play: common/invalid_choice
    next: done
  done:
    hangup: {}
"""}


def test_flow_target_continues_in_that_flow(node, tmp_path):
    from fsapp.say import render
    from fsapp.sounds.catalog import Catalog
    for name, text in FLOWS.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    catalog = Catalog.load(ROOT / "sounds" / "catalog.yaml")
    handler = FlowHandler(tmp_path, services=Services(catalog=catalog, say=render, router=node.router))
    results = {}
    server = OutboundServer(lambda call: results.setdefault(call.uuid, handler(call)), ("127.0.0.1", 0),
                            linger=1).start()
    node.sw.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{server.port} async full"))
    try:
        report = node.sw.place_call(CallerScript(dial="7000", steps=[Wait(30)])).wait(HANG_GUARD_S)
        _wait_for(lambda: report.uuid in results, "the flow's end")
        assert str(catalog.path("common/invalid_choice", "en-US")) in report.heard    # mailbox flow ran
        assert str(catalog.path("common/goodbye", "en-US")) not in report.heard  # not on_overflow
    finally:
        server.stop(timeout=2)


def test_a_forged_handoff_header_is_no_handoff(backend):
    cfg = loads_routing(CONFIG, "routing.yaml")
    overflow = Overflow(cfg, backend, {}, time.time, Outcome)

    class Arriving:       # what the outbound socket's connect data holds: network values
        def __init__(self, value):
            self.variables = {"variable_sip_h_X-Fsapp-Handoff": value}
    for forged in ("0" * 32, "../../etc", "a" * 33, "${system(id)}"):
        assert overflow.arriving(Arriving(forged), "south_desk") is None
    backend.remember("handoff:" + "ab" * 16, '{"queue": "south_desk", "joined_at": 5.0, "priority": 2}', 60)
    assert overflow.arriving(Arriving("ab" * 16), "back") is None            # for another queue
    backend.remember("handoff:" + "cd" * 16, '{"queue": "south_desk", "joined_at": 5.0, "priority": 2}', 60)
    place = overflow.arriving(Arriving("cd" * 16), "south_desk")
    assert (place.joined_at, place.priority) == (5.0, 2)
    assert overflow.arriving(Arriving("cd" * 16), "south_desk") is None      # used once


@pytest.mark.redis
def test_site_queue_hands_the_caller_to_the_other_node(redis_url):
    """Two emulated nodes (a SIP trunk from north to south) and one redis-server: the
    caller overflows on north to site south's queue; south's worker offers south's agent;
    the caller keeps its arrival time and priority."""
    prefix = f"site:{uuid.uuid4().hex[:8]}:"
    cfg = loads_routing(CONFIG, "routing.yaml")
    backends = [RedisBackend.from_url(redis_url, prefix=prefix) for _ in range(2)]
    seed_backend(cfg, backends[0], time.time() - 100)
    north = Node(cfg, backends[0], "north", priority=4)
    south = Node(cfg, backends[1], "south")
    try:
        north.sw.add_trunk("south", south.sw)
        agent = south.sw.add_agent("3001", ring_s=0.1, talk_s=0.5)    # an agent phone of south only
        report, outcome = north.call("to_site", caller_id="13700000009")
        assert (outcome.kind, outcome.target) == ("transferred", "site_queue:south/south_desk"), outcome
        _wait_for(lambda: south.outcomes, "south's outcome")
        (there,) = south.outcomes.values()
        assert (there.kind, there.agent) == ("answered", "3001"), there
        assert agent.calls[0]["caller_id"] == "13700000009"
        joins = {e["queue"]: e for e in north.joined}
        assert joins["south_desk"]["at"] == joins["to_site"]["at"] == outcome.joined_at   # its place kept
        assert joins["south_desk"]["priority"] == 4
        assert backends[0].members("south_desk") == [] and backends[0].members("to_site") == []
    finally:
        north.stop()
        south.stop()
        backends[0].delete_all()
        for be in backends:
            be.close()

"""Redis killed -9 while 12 calls are routed to 4 agents, then restarted, with and
without persistence (issue 10). A private redis-server on a free port in tmp_path (the
shared one on :6390 is never touched), the emulated FreeSWITCH, the real flow runtime and
Router. Asserted:

* every caller gets an agent or the queue node's on_error path, and all of them do while
  Redis is still down (the answer never waits for Redis to come back);
* after the restart, empty or not, agents, queues and tiers are back per routing.yaml and
  the agents on live calls stay busy (the rest take their configured state);
* the router is routing again: a newly available agent gets the next caller.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import gevent
import pytest
import redis

from fsapp.esl import InboundClient, OutboundServer
from fsapp.flow.interpreter import Services
from fsapp.flow.runtime import FlowHandler
from fsapp.routing.config import loads_routing, seed_backend
from fsapp.routing.model import AgentState, AgentStatus, MemberState
from fsapp.routing.redis_backend import RedisBackend
from fsapp.routing.router import Router
from fsapp.sim import CallerScript, Socket, Switch, Wait

ROOT = Path(__file__).resolve().parents[2]
MOH = "tone_stream://%(1000,0,440);loops=-1"
ROUTING = f"""
queues:
  hotline: {{strategy: longest-idle-agent, moh-sound: "{MOH}", offer-timeout: 5}}
agents:
  "1001": {{contact: user/1001, status: Available}}
  "1002": {{contact: user/1002, status: Available}}
  "1003": {{contact: user/1003, status: Available}}
  "1004": {{contact: user/1004, status: Available}}
  "1005": {{contact: user/1005, status: On Break}}
tiers:
  - {{queue: hotline, agent: "1001"}}
  - {{queue: hotline, agent: "1002"}}
  - {{queue: hotline, agent: "1003"}}
  - {{queue: hotline, agent: "1004"}}
  - {{queue: hotline, agent: "1005", level: 2}}
"""
FLOW = """
flow: outage_line
numbers: ["30000"]
languages: [en-US]
start: agents
nodes:
  agents:
    queue:
      queue: hotline
      next: bye
      on_overflow: overflowed
      on_error: sorry
  sorry:
    set: {why: "error"}
    next: apology
  apology:
    hangup: {prompt: common/goodbye}
  overflowed:
    hangup: {}
  bye:
    hangup: {}
"""
AGENTS = ("1001", "1002", "1003", "1004")


def _wait_for(predicate, what, limit=60, state=lambda: ""):
    # a hang guard for a broken build, not a time budget: each wait ends on its event
    try:
        with gevent.Timeout(limit):
            while not predicate():
                gevent.sleep(0.02)
    except gevent.Timeout:
        raise AssertionError(f"never happened: {what} {state()}") from None


class PrivateRedis:
    """A redis-server of this test alone: its own port, its own dir in tmp_path."""

    def __init__(self, tmp_path: Path, persistence: str):
        self.dir = tmp_path / "redis"
        self.dir.mkdir()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                     "--save", "", "--appendonly", "no", "--protected-mode", "no"]
        if persistence == "aof":
            self.args[-3:-2] = ["yes"]
            self.args += ["--appendfsync", "always"]     # nothing acknowledged is lost to kill -9
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> "PrivateRedis":
        self.proc = subprocess.Popen(self.args, stdout=open(self.dir / "log", "ab"), stderr=subprocess.STDOUT)
        probe = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)

        def ready():
            assert self.proc.poll() is None, (self.dir / "log").read_text()
            try:
                return probe.ping()
            except redis.ConnectionError:      # not listening yet, or loading its AOF
                return False
        _wait_for(ready, f"redis-server on port {self.port}")
        probe.close()
        return self

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


@pytest.mark.parametrize("persistence, moment", [("none", "talking"), ("aof", "talking"), ("none", "ringing")])
def test_redis_killed_mid_routing_and_restarted(tmp_path, persistence, moment):
    """moment: Redis dies while the 4 answered agents talk, or while they still ring
    (they answer during the outage and their callers are bridged all the same)."""
    if not any(os.access(os.path.join(p, "redis-server"), os.X_OK) for p in os.environ["PATH"].split(":")):
        pytest.skip("redis-server is not installed (Makefile TEST_DEBS)")
    server = PrivateRedis(tmp_path, persistence).start()
    cfg = loads_routing(ROUTING, "routing.yaml")
    backend = RedisBackend.from_url(server.url, prefix=f"outage:{uuid.uuid4().hex[:8]}:")
    seed_backend(cfg, backend, time.time() - 100)
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    ring_s = 2.0 if moment == "ringing" else 0.2
    for name in AGENTS:
        sw.add_agent(name, ring_s=ring_s, talk_s=3600)  # on the call until the test ends
    sw.add_agent("1005", ring_s=0.2, talk_s=3600)
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=5.0).start()
    # the defaults: waiting callers take on_error 5 s into the outage; reconnect back-off
    # 0.2 s doubling to at most 5 s
    router = Router(cfg, backend, esl, worker_id="w-outage", lease=10.0).start()
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "outage_line.yaml").write_text(FLOW, encoding="utf-8")
    from fsapp.say import render
    from fsapp.sounds.catalog import Catalog
    services = Services(catalog=Catalog.load(ROOT / "sounds" / "catalog.yaml"), say=render, router=router)
    handler = FlowHandler(flows, services=services)
    outcomes = {}

    def run(call):
        outcomes[call.uuid] = handler(call)
    outbound = OutboundServer(run, ("127.0.0.1", 0), linger=1).start()
    sw.dialplan.add(r"^30000$", Socket(f"127.0.0.1:{outbound.port} async full"))
    try:
        callers = [sw.place_call(CallerScript(dial="30000", caller_id=f"1380013{i:04d}", steps=[Wait(3600)]))
                   for i in range(12)]

        busy = AgentState.IN_A_QUEUE_CALL if moment == "talking" else AgentState.RECEIVING

        def talking():
            now = time.time()
            return [a.name for a in backend.agents() if a.state(now) == busy]
        def waiting():
            return [m for m in backend.members("hotline") if m.state == MemberState.WAITING]
        _wait_for(lambda: len(talking()) == 4 and len(waiting()) == 8,
                  "4 agents talking and 8 callers waiting",
                  state=lambda: (talking(), len(waiting()), outcomes))

        server.kill()
        # every waiting caller takes on_error, and all of them while Redis is still down
        _wait_for(lambda: len(outcomes) == 8, "an answer for each of the 8 waiting callers",
                  state=lambda: (router.guard.up, [o.trail for o in outcomes.values()],
                                 {n: a.calls for n, a in sw.agents.items()},
                                 [c.report.timeline for c in callers if c.report.bridged_to],
                                 [(t.member.caller_id, t.active, t.inbox.qsize(), t.claims.held())
                                  for t in router.dispatcher.tickets.values()]))
        assert server.proc.poll() is not None and not router.guard.up
        for outcome in outcomes.values():
            assert outcome.trail == ["agents", "sorry", "apology"], outcome
            assert outcome.vars["why"].startswith("RoutingUnavailable: routing state (Redis) unreachable"), outcome
        # a caller arriving during the outage: on_error at once
        late = sw.place_call(CallerScript(dial="30000", caller_id="13900000000", steps=[Wait(3600)]))
        _wait_for(lambda: len(outcomes) == 9, "an answer for the caller who came during the outage")
        assert outcomes[late.wait(30).uuid].trail == ["agents", "sorry", "apology"]
        # the four answered callers are talking to their agents on the switch (when Redis
        # died while they rang, the agents answered during the outage and were bridged)
        _wait_for(lambda: all(len(sw.agents[n].calls) == 1 and sw.agents[n].calls[0]["answered_at"]
                              for n in AGENTS), "the 4 agents answering")
        _wait_for(lambda: sum(bool(c.report.bridged_to) for c in callers) == 4, "4 callers bridged to their agent")
        assert sorted(name for name, agent in sw.agents.items()
                      if agent.calls and agent.calls[-1].get("answered_at") and not agent.calls[-1].get("ended_at")) \
            == sorted(AGENTS)

        server.start()                                   # empty (none), or from its AOF
        _wait_for(lambda: router.guard.up, "the router's recovery after the restart")
        repairs = router.guard.last_repairs
        now = time.time()
        agents = {a.name: a for a in backend.agents()}
        assert set(agents) == set(cfg.agents)
        assert {(t.queue, t.agent, t.level) for t in backend.tiers()} == \
            {(t.queue, t.agent, t.level) for t in cfg.tiers}
        for name in AGENTS:                              # on a live call: still busy
            assert agents[name].state(now) == AgentState.IN_A_QUEUE_CALL, (name, repairs)
            assert not agents[name].offerable(now)
        assert agents["1005"].status == AgentStatus.ON_BREAK      # its configured state
        assert sorted(m.state for m in backend.members("hotline")) == [MemberState.ANSWERED] * 4
        if persistence == "none":
            assert {f"agent {n}: re-created from routing.yaml" for n in cfg.agents} <= \
                {line.split(" (")[0] for line in repairs}, repairs
            assert sum("restored" in line for line in repairs) == 4, repairs
        else:
            assert not any("re-created" in line for line in repairs), repairs
            assert sum("left during the outage, removed" in line for line in repairs) == 8, repairs

        # routing again: the one agent made available gets the next caller
        backend.set_status("1005", AgentStatus.AVAILABLE, time.time())
        sw.place_call(CallerScript(dial="30000", caller_id="13900000001", steps=[Wait(3600)]))
        _wait_for(lambda: any(c.get("answered_at") for c in sw.agents["1005"].calls), "1005 answering")
        assert len(outcomes) == 9 and len(callers) == 12
    finally:
        outbound.stop(timeout=2)
        router.stop()
        esl.stop()
        sw.stop()
        try:
            backend.close()
        finally:
            server.stop()

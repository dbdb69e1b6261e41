"""Agent-assisted (progressive) campaigns end to end on the emulator with agents: the
dialer dials only as many contacts as the queue has free agents, bridges each answered
callee to an agent through fsapp.routing with the contact's data on the leg (hostile
data stays data), and counts abandoned calls (answered, no agent in time), holding new
calls once they exceed the cap."""
from __future__ import annotations

import time

import gevent
import pytest

from fsapp.campaign.loader import parse_text
from fsapp.campaign.policy import abandon_rate, classify, next_state, over_abandon_cap
from fsapp.campaign.state import SQLiteStates
from fsapp.routing import MemoryBackend, Router, loads_routing, seed_backend
from fsapp.routing.model import AgentStatus
from fsapp.sim.clock import RealClock

from .harness import CAMPAIGN, Line

HANG_GUARD_S = 120       # only turns a hang into a failure
MOH = "tone_stream://%(1000,0,440);loops=-1"
ROUTING = f"""
queues:
  outbound:
    strategy: longest-idle-agent
    moh-sound: "{MOH}"
    offer-timeout: 10
agents:
  "1001": {{contact: user/1001, status: Available, wrap-up-time: 0}}
  "1002": {{contact: user/1002, status: Available, wrap-up-time: 0}}
tiers:
  - {{queue: outbound, agent: "1001"}}
  - {{queue: outbound, agent: "1002"}}
"""
AGENT_CAMPAIGN = CAMPAIGN.replace("pacing: {calls_per_minute: 30, max_concurrent: 10}",
                                  "pacing: {calls_per_minute: 600, max_concurrent: 10}") + \
    "agents: {queue: outbound, abandon_after: 2s, max_abandon_rate: 30%}\n"
NUMBERS = [f"1380000{i:04d}" for i in range(6)]
HOSTILE_NAME = "Zhang ${system(reboot)} 'x',y}"


def _contacts() -> str:
    rows = [f"c{i},{n},Customer {i},7,18:00" for i, n in enumerate(NUMBERS)]
    rows[0] = f'c0,{NUMBERS[0]},"{HOSTILE_NAME}",7,18:00'
    return "id,number,name,district,ends_at\n" + "\n".join(rows) + "\n"


@pytest.fixture
def acd(tmp_path):
    campaign, problems = parse_text(AGENT_CAMPAIGN, "agents.yaml")
    assert not problems and campaign.agents.queue == "outbound"
    line = Line(tmp_path, SQLiteStates(tmp_path / "state.db"), campaign_text=AGENT_CAMPAIGN,
                contacts=_contacts(), clock=RealClock())
    backend = MemoryBackend()
    routing = loads_routing(ROUTING, "routing.yaml")
    seed_backend(routing, backend, time.time() - 100)
    router = Router(routing, backend, line.esl, worker_id="dialer-router", lease=10.0).start()
    line.router = router
    yield line
    router.stop()
    line.close()


def _dialer(line):
    from fsapp.campaign.dialer import Dialer
    return Dialer(line.campaign, line.states, line.esl, line.flows, line.calendar, store=line.store,
                  clock=line.clock, base_dir=line.tmp, control_poll_s=1.0, worker="w1",
                  router=line.router).start()


def _peak(intervals) -> int:
    edges = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    peak = up = 0
    for _, step in edges:
        up += step
        peak = max(peak, up)
    return peak


def test_progressive_dials_one_contact_per_free_agent_and_bridges_with_the_contacts_data(acd):
    for number in NUMBERS:
        acd.callee(number, ring_s=0.3, talk_s=300)        # the agent ends each call
    agents = {name: acd.switch.add_agent(name, ring_s=0.2, talk_s=1.5) for name in ("1001", "1002")}
    seen: dict[str, str] = {}

    def desktop():
        """What an agent's desktop does: from its leg's fsapp_member_uuid, read the
        customer's leg's variables while the call is up."""
        while True:
            for agent in agents.values():
                for call in agent.calls:
                    member = call["variables"].get("fsapp_member_uuid")
                    if member and call["answered_at"] and call["ended_at"] is None and member not in seen:
                        name = acd.esl.api(f"uuid_getvar {member} fsapp_contact_name", timeout=5)
                        seen[member] = name
            gevent.sleep(0.05)

    watcher = gevent.spawn(desktop)
    acd.load()
    dialer = _dialer(acd)
    try:
        with gevent.Timeout(HANG_GUARD_S):
            assert dialer.run(exit_when_done=True) == "done"
    finally:
        watcher.kill()
        dialer.close()
    callee_calls = [c for n in NUMBERS for c in acd.switch.agents[n].calls]
    assert len(callee_calls) == len(NUMBERS)
    # progressive: never more callees up (ringing or talking) than agents; a predictive or
    # plain campaign dialler would have rung up to max_concurrent (10) at once
    assert _peak([(c["offered_at"], c["ended_at"]) for c in callee_calls]) <= len(agents)
    attempts = acd.attempts()
    assert {a["outcome"] for a in attempts} == {"completed"}
    assert {a["agent"] for a in attempts} == {"1001", "1002"}
    # the agent's leg names the customer's leg; the contact's hostile name arrived as data
    assert HOSTILE_NAME in seen.values(), seen
    hostile_call = acd.switch.agents[NUMBERS[0]].calls[0]
    assert seen[hostile_call["uuid"]] == HOSTILE_NAME


def test_no_agent_in_time_is_abandoned_counted_and_capped(acd):
    for number in NUMBERS:
        acd.callee(number, ring_s=1.0, talk_s=300)
    for name in ("1001", "1002"):
        acd.switch.add_agent(name, ring_s=0.2, talk_s=1.0)
    acd.router.backend.set_status("1002", AgentStatus.LOGGED_OUT, time.time())   # one agent on duty
    acd.load()
    dialer = _dialer(acd)
    runner = gevent.spawn(dialer.run, None, True)
    try:
        first = acd.switch.agents
        with gevent.Timeout(HANG_GUARD_S):
            while not any(first[n].calls for n in NUMBERS):
                gevent.sleep(0.02)
            # the agent the dialer counted on takes a break while the callee rings
            acd.router.backend.set_status("1001", AgentStatus.ON_BREAK, time.time())
            while not acd.attempts():
                gevent.sleep(0.05)
        (attempt,) = acd.attempts()
        assert attempt["outcome"] == "abandoned" and attempt["answered"] and attempt["agent"] is None
        assert attempt["next_state"] == "retry"          # abandoned: called again (retry.not_completed)
        # the information message (the campaign's flow) played to the abandoned callee
        assert attempt["flow_result"] is not None
        # 1 abandoned of 1 answered is over the 30 % cap: no new call, even with an agent back
        assert "over the cap" in dialer.held
        acd.router.backend.set_status("1001", AgentStatus.AVAILABLE, time.time())
        gevent.sleep(2 * dialer.control_poll_s + 1)
        assert sum(len(first[n].calls) for n in NUMBERS) == 1
        assert "over the cap" in dialer.held
    finally:
        acd.states.set_control(acd.campaign.name, "stopped", time.time())
        runner.join(timeout=HANG_GUARD_S)
        dialer.close()


def test_abandon_rate_and_cap_are_pure():
    now = 100_000.0
    rows = [{"answered": True, "answered_at": now - 10, "outcome": "completed"}] * 30 + \
           [{"answered": True, "answered_at": now - 20, "outcome": "abandoned"}] + \
           [{"answered": True, "answered_at": now - 90_000, "outcome": "abandoned"}] + \
           [{"answered": False, "answered_at": None, "outcome": "busy"}]
    assert abandon_rate(rows, now, 86_400) == (31, 1)          # the old one is out of the window
    assert not over_abandon_cap(31, 0, 0.03) and not over_abandon_cap(34, 1, 0.03)
    assert over_abandon_cap(31, 1, 0.03) and over_abandon_cap(20, 1, 0.03)
    assert classify(True, "NORMAL_CLEARING", False, abandoned=True) == "abandoned"
    campaign, _ = parse_text(AGENT_CAMPAIGN, "a.yaml")
    # no retry.abandoned in the file: not_completed's interval (20m)
    assert next_state("abandoned", 1, 0.0, campaign.retry).retry_at == 1200.0


def test_agent_mode_errors_name_the_line():
    text = AGENT_CAMPAIGN.replace("max_abandon_rate: 30%", "max_abandon_rate: lots")
    _, problems = parse_text(text, "a.yaml")
    assert [str(p) for p in problems][0].startswith("a.yaml:13:64:")
    assert "agents.max_abandon_rate: 'lots' is not a share" in str(problems[0])

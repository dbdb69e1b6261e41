"""Key 0 of the hotline with the real routing module: the queue node hands the call to
Router.enqueue (memory backend, agents answering on the emulated switch). Answered, the
call goes to an agent of the `hotline` queue of routing.yaml and, when the agent hangs
up, on to the satisfaction survey; when the queue overflows, the router sends the caller
on to flow mayors_mailbox (routing.yaml's target), which takes a message."""
from __future__ import annotations

import time
from zoneinfo import ZoneInfo

import pytest

from fsapp.esl import InboundClient
from fsapp.routing.backend import MemoryBackend
from fsapp.routing.config import load_routing, loads_routing, seed_backend
from fsapp.routing.router import Router
from fsapp.sim import Press, RealClock, Silence, Speak

from .conftest import open_store, prepare_database
from .harness import BEEP, DAY, ROOT, SCALE, SILENCE_END, Line, WaitPrompt, check

# A hotline queue that overflows to the mailbox after one second: the real queue waits
# 30-60 s with no agent logged in, too long for a test; the rule is the same kind.
OVERFLOWING = """
queues:
  hotline:
    moh-sound: "tone_stream://%(1000,0,440);loops=-1"
    overflow:
      - {after: 1, flow: mayors_mailbox}
agents:
  "2001": {contact: user/2001, status: Logged Out}
tiers:
  - {queue: hotline, agent: "2001"}
"""


def agent_call(store, services, calendars, config, agents, steps):
    line = Line(services, RealClock(scale=SCALE))     # the router times offers and overflow on the wall clock
    # the router's clock runs from Monday 10:00 in Shanghai, when the hotline queue's
    # calendar (office_hours) is open, whatever day the test runs
    offset = DAY.replace(tzinfo=ZoneInfo("Asia/Shanghai")).timestamp() - time.time()
    backend = MemoryBackend()
    seed_backend(config, backend, time.time() + offset - 100)
    for agent in agents:
        line.switch.add_agent(agent, ring_s=2.0, talk_s=60.0)   # emulated seconds (20x wall)
    esl = InboundClient("127.0.0.1", line.switch.esl_port, "ClueCon", command_timeout=5.0).start()
    router = Router(config, backend, esl, worker_id="reference-flows", lease=10.0, calendars=calendars,
                    clock=lambda: time.time() + offset).start()
    line.handler.services.router = router
    try:
        return line.call("12345", steps)
    finally:
        router.stop()
        esl.stop()
        line.close()


@pytest.fixture
def answered(tmp_path, catalog, calendars):
    """One call: key 0, an agent of routing.yaml's hotline queue answers, talks, hangs up."""
    from fsapp.flow.interpreter import Services
    from fsapp.say import render
    tmp = tmp_path
    store = open_store(f"Driver={{SQLite3}};Database={tmp / 'fsapp.db'}", tmp / "spool")
    prepare_database(store, "sqlite")
    services = Services(catalog=catalog, say=render, store=store, calendars=calendars,
                        recordings=tmp / "recordings", clock=lambda: DAY)
    result = agent_call(store, services, calendars, load_routing(ROOT / "routing.yaml"), ("1001", "1002"), [
        WaitPrompt("hotline/language_offer"), WaitPrompt("hotline/main_menu", after="start"), Press("0"),
        WaitPrompt("survey/q1_rating", after="start"), Press("4"), WaitPrompt("survey/q2_solved", after="start"), Press("1")])
    yield result, store
    store.close()


def test_key_0_is_answered_by_an_agent_then_the_caller_rates_the_call(answered):
    r, store = answered
    f: list[str] = []
    check(f, "agent", "bridged to an agent", True, any(a in " ".join(r.report.bridged_to) for a in ("1001", "1002")))
    check(f, "agent", "queue outcome", "answered", r.vars.get("queue_outcome", {}).get("kind"))
    check(f, "agent", "after the agent", ["agent", "agent_queue", "after_agent", "to_satisfaction", "intro", "q1",
                                          "a1", "q2", "a2", "complete", "thanks"], r.trail[-11:])
    heard = [h for h in r.heard if not h.startswith(("local_stream://", "tone_stream://%(1000"))]   # hold music
    check(f, "agent", "heard", ["hotline/welcome", "hotline/language_offer", "hotline/main_menu", "survey/intro",
                                "survey/q1_rating", "survey/q2_solved", "survey/thanks", "common/goodbye"], heard)
    answers = store.execute("SELECT survey, question, answer FROM fsapp_survey_answers WHERE call_uuid = ? "
                            "ORDER BY id", [r.report.uuid])
    check(f, "agent", "answers", [("satisfaction", "q1_rating", "4"), ("satisfaction", "q2_solved", "yes"),
                                  ("satisfaction", "status", "complete")],
          [(a["survey"], a["question"], a["answer"]) for a in answers])
    record = store.execute("SELECT outcome FROM fsapp_call_records WHERE idem_key = ?", [f"{r.report.uuid}:call"])
    check(f, "agent", "call record", [{"outcome": "thanks"}], record)
    assert not f, "\n".join(f) + "\n" + r.describe()


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
def test_queue_overflow_leads_to_the_mailbox(db, store, make_services, calendars):
    config = loads_routing(OVERFLOWING, "overflowing-routing.yaml")
    r = agent_call(store, make_services(store, DAY), calendars, config, (), [
        WaitPrompt("hotline/language_offer"), WaitPrompt("hotline/main_menu", after="start"), Press("0"),
        WaitPrompt(BEEP, timeout=120.0), Speak(1.5), Silence(SILENCE_END + 1), WaitPrompt("hotline/review_menu", after="start"),
        Press("3"), WaitPrompt("common/goodbye")])
    f: list[str] = []
    check(f, "overflow", "queue outcome", ("overflow", "flow:mayors_mailbox"),
          (r.vars.get("queue_outcome", {}).get("kind"), r.vars.get("queue_outcome", {}).get("target")))
    heard = [h for h in r.heard if not h.startswith("tone_stream://%(1000")]    # hold music
    check(f, "overflow", "heard", ["hotline/welcome", "hotline/language_offer", "hotline/main_menu",
                                   "hotline/agents_busy", "hotline/record_after_beep", BEEP, "hotline/review_menu",
                                   "hotline/mailbox/saved", "hotline/ticket_number_is"],
          heard[:heard.index("hotline/ticket_number_is") + 1] if "hotline/ticket_number_is" in heard else heard)
    # the router's target is carried out: the call continues in ivr_flows/mayors_mailbox.yaml
    # (not the hotline's own on_overflow path), which takes the message and says goodbye
    check(f, "overflow", "continued in", ["agent", "agent_queue", "busy", "serial", "record", "ticket",
                                          "recording_row", "saved", "goodbye"], r.trail[-9:])
    tickets = store.execute("SELECT kind, category FROM fsapp_tickets WHERE call_uuid = ?", [r.report.uuid])
    check(f, "overflow", "ticket", [{"kind": "mailbox", "category": "agents_busy"}], tickets)
    assert not f, "\n".join(f) + "\n" + r.describe()

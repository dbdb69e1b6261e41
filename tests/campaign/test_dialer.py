"""The dialer against the emulator with scripted callees, on the virtual clock:
outcomes, retries exactly per outcome, exclusions at each dial, the calling window,
pacing, and what reaches the database through the outbox."""
import datetime as dt
import json

import pytest

from fsapp.campaign.dialer import Dialer
from fsapp.campaign.state import SQLiteStates

from .harness import CAMPAIGN, Line

CONTACTS = """id,number,name,district,ends_at
answers,13900000001,Zhang Wei,7,18:00
busy,13900000002,Li Na,7,18:00
noanswer,13900000003,Wang Fang,7,18:00
hangsup,13900000004,Liu Yang,7,18:00
dnc,13900000005,Chen Jie,7,18:00
nobody,139-0000-0006,Zhao Lei,7,18:00
hostile,"1390000000,origination_uuid=x}&park",Mallory,7,18:00
"""


@pytest.fixture
def line(tmp_path):
    line = Line(tmp_path, SQLiteStates(tmp_path / "state.db"), contacts=CONTACTS, dnc="13900000005\n")
    yield line
    line.close()


def test_a_dialer_never_closes_its_own_live_call_as_lost(line):
    """A lease that lapsed under a live dialer (a busy machine: the clock moved on while this
    process was slow to finish the call) is not a dead dialer: recover() leaves that claim
    to the call's own finish. Once the dialer is no longer on it, the claim is lost."""
    line.load()
    dialer = line.make_dialer("w1")
    claim = line.states.claim(line.campaign.name, line.clock.now(), "w1", 30.0)
    dialer.active[claim.contact_id] = claim
    line.clock.sleep(60)                      # the lease is over
    dialer.recover()
    assert line.attempts(claim.contact_id) == []                            # not closed
    assert line.states.contact(line.campaign.name, claim.contact_id)["state"] == "in_progress"
    dialer.active.pop(claim.contact_id)
    dialer.recover()
    assert [(a["outcome"], a["hangup_cause"]) for a in line.attempts(claim.contact_id)] == [("failed", "WORKER_LOST")]


def test_outcomes_and_retries_exactly_per_outcome(line):
    line.callee("13900000001", ring_s=2, talk_s=300)             # listens to the end
    line.callee("13900000002", ring_s=2, answer="busy")
    line.callee("13900000003", ring_s=60, answer=False)           # rings past the 30 s timeout
    line.callee("13900000004", ring_s=2, talk_s=3)                # hangs up mid-message
    assert line.load() == 7
    assert line.run(hours=6) == "done"

    def outcomes(contact):
        return [(a["attempt"], a["outcome"], a["hangup_cause"], a["next_state"]) for a in line.attempts(contact)]

    assert outcomes("answers") == [(1, "completed", "NORMAL_CLEARING", "completed")]
    assert line.attempts("answers")[0]["answers"] == {"heard": "yes"}
    assert outcomes("busy") == [(1, "busy", "USER_BUSY", "retry"), (2, "busy", "USER_BUSY", "retry"),
                                (3, "busy", "USER_BUSY", "failed")]
    assert outcomes("noanswer") == [(n, "no_answer", "NO_ANSWER", s) for n, s in
                                    ((1, "retry"), (2, "retry"), (3, "failed"))]
    assert outcomes("hangsup") == [(n, "not_completed", "NORMAL_CLEARING", s) for n, s in
                                   ((1, "retry"), (2, "retry"), (3, "failed"))]
    assert [a["flow_result"] for a in line.attempts("hangsup")] == ["caller_hangup"] * 3
    assert outcomes("dnc") == [(1, "excluded", None, "excluded")]
    assert outcomes("nobody") == [(n, "failed", "UNALLOCATED_NUMBER", s) for n, s in
                                  ((1, "retry"), (2, "retry"), (3, "failed"))]
    assert outcomes("hostile") == [(1, "invalid_number", "INVALID_NUMBER_FORMAT", "invalid")]
    # each retry starts when its outcome's interval has passed (and the pacer let it: <= 2 s)
    waits = {"busy": 600, "noanswer": 1800, "hangsup": 1200, "nobody": 3600}
    for contact, wait in waits.items():
        rows = line.attempts(contact)
        for before, after in zip(rows, rows[1:]):
            assert before["retry_at"] == pytest.approx(before["ended_at"] + wait)
            assert 0 <= after["started_at"] - before["retry_at"] <= 2.5, (contact, before, after)
    # the excluded and the hostile contact were never rung; every other attempt rang once
    rung = {n: len(a.calls) for n, a in line.switch.agents.items()}
    assert rung == {"13900000001": 1, "13900000002": 3, "13900000003": 3, "13900000004": 3}
    # the answered leg connected back as `socket HOST:PORT async full` (one originate argument)
    originates = [o for o in line.switch.originates if o["kind"] == "originate"]
    assert originates and all(o["raw"].split(" ")[-1].startswith("&socket(127.0.0.1:") and
                              o["raw"].endswith("\\sasync\\sfull)") for o in originates), originates[0]["raw"]
    # everything reached the database through the outbox
    rows = line.store.run(lambda conn, _t: conn.raw.cursor().execute(
        "SELECT contact_id, attempt, outcome, answers FROM fsapp_campaign_attempts ORDER BY id").fetchall())
    assert len(rows) == len(line.attempts()) == 15
    assert ("answers", 1, "completed", json.dumps({"heard": "yes"})) in [tuple(r) for r in rows]


def test_exclusions_are_applied_at_each_dial(line):
    line.callee("13900000002", ring_s=2, answer="busy")
    (line.tmp / "contacts.csv").write_text("id,number\nbusy,13900000002\n", encoding="utf-8")
    line.load()
    line.run(hours=0.1, exit_when_done=False)                       # first attempt: busy
    assert [a["outcome"] for a in line.attempts("busy")] == ["busy"]
    (line.tmp / "dnc.txt").write_text("13900000005\n139 0000 0002\n", encoding="utf-8")  # opted out meanwhile
    assert line.run(hours=1) == "done"
    assert [a["outcome"] for a in line.attempts("busy")] == ["busy", "excluded"]
    assert len(line.switch.agents["13900000002"].calls) == 1        # the retry was not dialled


@pytest.mark.slow
def test_pacing_on_the_emulator_and_no_call_outside_the_window(tmp_path):
    from fsapp.sim.clock import VirtualClock
    clock = VirtualClock()
    # the window opens 20 minutes from now and lasts an hour (closures around it)
    tz = dt.timezone(dt.timedelta(hours=8))
    start = dt.datetime.fromtimestamp(clock.now(), tz).replace(microsecond=0)
    opens, closes = start + dt.timedelta(minutes=20), start + dt.timedelta(minutes=80)
    fmt = "%Y-%m-%d %H:%M:%S"
    calendars = f"""
calendars:
  always:
    timezone: Asia/Shanghai
    weekly: {{daily: "00:00-24:00"}}
    closures:
      - {{from: "{(start - dt.timedelta(days=1)).strftime(fmt)}", to: "{opens.strftime(fmt)}"}}
      - {{from: "{closes.strftime(fmt)}", to: "{(closes + dt.timedelta(days=2)).strftime(fmt)}"}}
"""
    contacts = "id,number\n" + "".join(f"c{i},1380000{i:04d}\n" for i in range(300))
    text = CAMPAIGN.replace("calls_per_minute: 30", "calls_per_minute: 3").replace("max_attempts: 3",
                                                                                   "max_attempts: 1")
    line = Line(tmp_path, SQLiteStates(tmp_path / "state.db"), campaign_text=text, calendars=calendars,
                contacts=contacts, clock=clock)
    try:
        for i in range(300):
            line.callee(f"1380000{i:04d}", ring_s=4, answer="busy")
        line.load()
        line.run(hours=3, exit_when_done=False)
        offered = sorted(c["offered_at"] for a in line.switch.agents.values() for c in a.calls)
        assert offered, "nothing was dialled"
        assert min(offered) >= opens.timestamp() and max(offered) < closes.timestamp()
        # 3 calls a minute for the hour the window is open: 180, within 5 %
        assert abs(len(offered) - 180) <= 9, len(offered)
    finally:
        line.close()


IDENTITY = """\
campaign: identity
flow: identity_notice
contacts: {csv: contacts.csv}
exclude:
  - query: campaigns.served_since
    refresh: 24h
calendar: always
pacing: {calls_per_minute: 6, max_concurrent: 4}
dial: {template: "sofia/gateway/{gateway}/{number}", gateway: carrier1, timeout: 30s, max_duration: 5m}
retry: {max_attempts: 2, busy: 1h, no_answer: 2h, failed: 4h, not_completed: 24h}
collect: [reply]
completed_when: reply
"""


def test_identity_notice_records_answers_and_the_daily_exclusion_query(tmp_path):
    contacts = "id,number,name\nabroad,13700000001,Sun Li\nsilent,13700000002,Zhou Min\nserved,13700000003,Wu Gang\n"
    line = Line(tmp_path, SQLiteStates(tmp_path / "state.db"), campaign_text=IDENTITY, contacts=contacts)
    try:
        line.callee("13700000001", ring_s=3, talk_s=300, press=((20.0, "2"),))   # "abroad", during the options
        line.callee("13700000002", ring_s=3, talk_s=300)                         # listens, presses nothing
        line.callee("13700000003", ring_s=3, answer="busy")
        line.load()
        line.run(hours=0.5, exit_when_done=False)
        # 13700000003 came to the counter after the campaign started: a ticket says so
        line.store.write("ticket", {"serial": line.store.next_ticket_serial(), "kind": "complaint", "status": "accepted",
                                    "accepted_at": dt.datetime.now() + dt.timedelta(hours=1),
                                    "caller_number": "13700000003"}, key="counter-visit")
        line.dialer.exclusions._stamp.clear()          # the next daily refresh, without waiting a day
        assert line.run(hours=30) == "done"
        assert [(a["outcome"], a["answers"]) for a in line.attempts("abroad")] == [("completed", {"reply": "abroad"})]
        assert [a["outcome"] for a in line.attempts("silent")] == ["not_completed", "not_completed"]
        assert [a["flow_result"] for a in line.attempts("silent")] == ["hangup", "hangup"]
        assert [a["outcome"] for a in line.attempts("served")] == ["busy", "excluded"]
    finally:
        line.close()


def test_two_dialers_on_one_redis_never_dial_a_contact_twice_at_once(tmp_path, redis_url, redis_prefix):
    import gevent

    from .conftest import redis_states
    contacts = "id,number\n" + "".join(f"c{i},1350000{i:04d}\n" for i in range(30))
    text = CAMPAIGN.replace("busy: 10m", "busy: 5s").replace("not_completed: 20m", "not_completed: 5s")
    line = Line(tmp_path, redis_states(redis_url, redis_prefix), campaign_text=text, contacts=contacts)
    try:
        for i in range(30):   # busy, or a hang-up mid-message: every contact is called 3 times
            line.callee(f"1350000{i:04d}", ring_s=1, **({"answer": "busy"} if i % 2 else {"talk_s": 2}))
        line.load()
        second_states = redis_states(redis_url, redis_prefix)     # its own connection, as another host's
        first = line.make_dialer("host-a")
        second = Dialer(
            line.campaign, second_states, line.esl, line.flows, line.calendar, store=line.store, clock=line.clock,
            base_dir=line.tmp, control_poll_s=600.0, worker="host-b").start()
        until = line.clock.now() + 3600
        jobs = [gevent.spawn(d.run, until=until, exit_when_done=True) for d in (first, second)]
        gevent.joinall(jobs, raise_error=True)
        assert [j.value for j in jobs] == ["done", "done"]
        workers = {a["worker"] for a in line.attempts()}
        assert workers == {"host-a", "host-b"}, "both dialers should have taken part"
        for number, agent in line.switch.agents.items():
            rung = [int(c["variables"]["fsapp_campaign_attempt"]) for c in agent.calls]
            assert sorted(rung) == [1, 2, 3], (number, rung)
            spans = sorted((c["offered_at"], c["ended_at"]) for c in agent.calls)
            assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:])), f"{number} dialled twice at once"
        first.close()
        second.close()
        second_states.close()
    finally:
        line.close()


SURVEY = """\
campaign: survey
flow: work_order_survey
contacts: {query: campaigns.closed_work_orders, refresh: 10m}
calendar: always
pacing: {calls_per_minute: 10, max_concurrent: 4}
dial: {template: "sofia/gateway/{gateway}/{number}", gateway: carrier1, timeout: 30s, max_duration: 4m}
retry: {max_attempts: 1}
collect: [rating, solved]
completed_when: solved
"""


def test_work_order_survey_reads_its_query_again_and_stores_answers(tmp_path):
    line = Line(tmp_path, SQLiteStates(tmp_path / "state.db"), campaign_text=SURVEY)
    try:
        def close_work_order(number):
            serial = line.store.next_ticket_serial()
            line.store.write("ticket", {"serial": serial, "kind": "work_order", "status": "closed",
                                        "accepted_at": dt.datetime.now(), "caller_number": number}, key=serial)
            return serial

        first = close_work_order("13600000001")
        line.callee("13600000001", ring_s=2, talk_s=300, press=((12.0, "5"), (30.0, "1")))
        line.states.set_control("survey", "running", line.clock.now())
        line.run(hours=0.2, exit_when_done=False)
        second = close_work_order("13600000002")       # closed later: found at the next refresh
        line.callee("13600000002", ring_s=2, talk_s=300, press=((12.0, "2"),))
        line.run(hours=0.5, exit_when_done=False)
        done = {a["contact_id"]: (a["outcome"], a["answers"]) for a in line.attempts()}
        assert done == {first: ("completed", {"rating": "5", "solved": "1"}),
                        second: ("not_completed", {"rating": "2", "solved": ""})}
        rows = line.store.run(lambda conn, _t: conn.raw.cursor().execute(
            "SELECT ticket_serial, question, answer FROM fsapp_survey_answers ORDER BY id").fetchall())
        assert [tuple(r) for r in rows] == [(first, "q1_rating", "5"), (first, "q2_solved", "1"),
                                            (second, "q1_rating", "2")]
    finally:
        line.close()


def test_pause_and_resume(tmp_path):
    import gevent
    contacts = "id,number\n" + "".join(f"c{i},1340000{i:04d}\n" for i in range(20))
    line = Line(tmp_path, SQLiteStates(tmp_path / "state.db"), contacts=contacts,
                campaign_text=CAMPAIGN.replace("calls_per_minute: 30", "calls_per_minute: 2"))
    try:
        for i in range(20):
            line.callee(f"1340000{i:04d}", ring_s=1, answer="busy")
        line.load()
        dialer = line.make_dialer()
        dialer.control_poll_s = 30.0
        t0 = line.clock.now()
        job = gevent.spawn(dialer.run, until=t0 + 3600, exit_when_done=False)
        while len(line.attempts()) < 4:
            gevent.sleep(0.05)
        line.states.set_control("test", "paused", line.clock.now())
        paused_at = line.clock.now()
        line.clock.sleep(600)                          # ten emulated minutes paused
        line.states.set_control("test", "running", line.clock.now())
        resumed_at = line.clock.now()
        line.clock.sleep(300)
        line.states.set_control("test", "stopped", line.clock.now())
        assert job.get(timeout=120) == "stopped"
        offered = sorted(c["offered_at"] for a in line.switch.agents.values() for c in a.calls)
        # nothing starts from one control poll after the pause until the resume
        assert not [t for t in offered if paused_at + 30.0 < t < resumed_at]
        assert [t for t in offered if t > resumed_at], "resume placed no call"
    finally:
        line.close()


def test_contacts_added_to_the_csv_join_the_running_campaign(tmp_path):
    line = Line(tmp_path, SQLiteStates(tmp_path / "state.db"), contacts="id,number\nfirst,13300000001\n",
                campaign_text=CAMPAIGN.replace("max_attempts: 3", "max_attempts: 1"))
    try:
        for number in ("13300000001", "13300000002"):
            line.callee(number, ring_s=1, answer="busy")
        line.load()
        line.dialer = line.make_dialer()
        line.dialer.control_poll_s = 60.0
        line.run(hours=0.1, exit_when_done=False)
        with (tmp_path / "contacts.csv").open("a", encoding="utf-8") as handle:
            handle.write("second,13300000002\n")
        assert line.run(hours=1) == "done"
        assert [(a["contact_id"], a["outcome"]) for a in line.attempts()] == [("first", "busy"), ("second", "busy")]
    finally:
        line.close()


def test_an_originate_the_syntax_builder_refuses_is_a_failed_attempt(tmp_path):
    line = Line(tmp_path, SQLiteStates(tmp_path / "state.db"), contacts="id,number\nc1,13200000001\n",
                campaign_text=CAMPAIGN.replace("max_attempts: 3", "max_attempts: 1"))
    try:
        line.callee("13200000001", ring_s=1, talk_s=10)
        line.load()
        line.dialer = Dialer(line.campaign, line.states, line.esl, line.flows, line.calendar, store=line.store,
                             clock=line.clock, base_dir=line.tmp, control_poll_s=60.0,
                             socket_address="127.0.0.1:1 async  full").start()    # two spaces: refused
        assert line.run(hours=1) == "done"
        [attempt] = line.attempts()
        assert (attempt["outcome"], attempt["hangup_cause"]) == ("failed", "ESL: UnsafeValue")
        assert line.switch.agents["13200000001"].calls == []
    finally:
        line.close()

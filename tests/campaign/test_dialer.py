"""The dialer against the emulator with scripted callees, on the virtual clock:
outcomes, retries exactly per outcome, exclusions at each dial, the calling window,
pacing, and what reaches the database through the outbox."""
import json

import pytest

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
    # everything reached the database through the outbox
    rows = line.store.run(lambda conn, _t: conn.raw.cursor().execute(
        "SELECT contact_id, attempt, outcome, answers FROM fsapp_campaign_attempts ORDER BY id").fetchall())
    assert len(rows) == len(line.attempts()) == 15
    assert ("answers", 1, "completed", json.dumps({"heard": "yes"})) in [tuple(r) for r in rows]


def test_exclusions_are_applied_at_each_dial(line):
    line.callee("13900000002", ring_s=2, answer="busy")
    line.states.add_contacts("test", [c for c in __import__("fsapp.campaign.sources", fromlist=["x"])
                                      .read_csv_contacts(line.tmp / "contacts.csv") if c.contact_id == "busy"],
                             line.clock.now())
    line.states.set_control("test", "running", line.clock.now())
    line.run(hours=0.1, exit_when_done=False)                       # first attempt: busy
    assert [a["outcome"] for a in line.attempts("busy")] == ["busy"]
    (line.tmp / "dnc.txt").write_text("13900000005\n139 0000 0002\n", encoding="utf-8")  # opted out meanwhile
    assert line.run(hours=1) == "done"
    assert [a["outcome"] for a in line.attempts("busy")] == ["busy", "excluded"]
    assert len(line.switch.agents["13900000002"].calls) == 1        # the retry was not dialled


def test_pacing_on_the_emulator_and_no_call_outside_the_window(tmp_path):
    import datetime as dt
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

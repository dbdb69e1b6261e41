"""Hang-up at every question of every reference flow, with a real database (SQLite).

The caller follows a long script through each flow and hangs up at question k, for every
k (fsapp.flow.testing.ScriptedCall: "hangup" hangs up at that question). Whatever the
node, on_hangup must still save what must be saved: the call record always, a recorded
message the caller had not saved yet, a survey left half-way as incomplete. Hang-ups
during playback and recording over the real emulator are in test_hotline/test_utility.
"""
from __future__ import annotations

import pytest

from fsapp.flow.compiler import Environment, compile_paths
from fsapp.flow.interpreter import run_call
from fsapp.flow.testing import FakeRouter, ScriptedCall

from .conftest import open_store, prepare_database
from .harness import DAY, FLOWS

WAITING_KINDS = ("menu", "collect")


@pytest.fixture(scope="module")
def flows():
    result = compile_paths([FLOWS], Environment(tts=True))
    assert not result.problems, result.problems
    return result.flows


@pytest.fixture
def sqlite_store(tmp_path):
    store = open_store(f"Driver={{SQLite3}};Database={tmp_path / 'hangups.db'}", tmp_path / "spool")
    prepare_database(store, "sqlite")
    yield store
    store.close()


def known_ticket(store) -> str:
    serial = store.next_ticket_serial()
    store.write("ticket", {"serial": serial, "kind": "complaint", "category": "water", "status": "closed",
                           "handling_unit": "water_bureau", "result": "resolved"}, key=f"seed:{serial}")
    return serial


def asks_of(flow) -> set[str]:
    """The nodes where the caller is asked something (and so can hang up in a ScriptedCall)."""
    return {n.name for n in flow.nodes.values()
            if n.kind in WAITING_KINDS or (n.kind == "record" and n.args.get("review"))}


def run_prefixes(flows, services, flow_name, presses, caller_id):
    """Hang up at question k for every k; yields (k, outcome, call)."""
    flow = flows[flow_name]
    for k in range(len(presses) + 1):
        call = ScriptedCall(list(presses[:k]) + ["hangup"], caller_id=caller_id,
                            destination=flow.numbers[0], record_seconds=6.0)
        outcome = run_call(call, flow, services, flows)
        yield k, outcome, call


def check_saved(store, outcome, call, failures):
    uuid = call.uuid
    where = f"hang-up in {outcome.node!r} (trail {'>'.join(outcome.trail[-4:])})"
    if outcome.reason not in ("caller_hangup", "hangup", "queue"):
        failures.append(f"{where}: ended with {outcome.reason}: {outcome.error}")
    record = store.execute("SELECT outcome, hangup_cause FROM fsapp_call_records WHERE idem_key = ?", [f"{uuid}:call"])
    if record != [{"outcome": outcome.trail[-1], "hangup_cause": outcome.cause}]:
        failures.append(f"{where}: call record {record}")
    node = outcome.node
    v = outcome.vars
    if node in ("mailbox_record", "complaint_record"):     # hung up while reviewing: message kept
        tickets = store.execute("SELECT kind, serial FROM fsapp_tickets WHERE call_uuid = ? AND serial = ?",
                                [uuid, v["serial"]])
        if tickets != [{"kind": v["kind"], "serial": v["serial"]}]:
            failures.append(f"{where}: pending {v['kind']} not saved: {tickets}")
    for survey, questions in (("hotline_opinion", ("survey_q2", "survey_q3")), ("satisfaction", ("q2",))):
        if node in questions:
            status = store.execute("SELECT answer FROM fsapp_survey_answers WHERE call_uuid = ? AND survey = ? "
                                   "AND question = 'status'", [uuid, survey])
            if status != [{"answer": "incomplete"}]:
                failures.append(f"{where}: survey {survey} status {status}")


def test_hangup_at_every_question(flows, sqlite_store, make_services):
    store = sqlite_store
    services = make_services(store, DAY, router=FakeRouter({"hotline": "answered", "experts": "answered"}))
    closed = known_ticket(store)
    # the example billing data has no number with exactly two accounts: give Chen Jing a second one
    store.execute("INSERT INTO ACCT_MST (ACCT_NO, CUST_ID, ACCT_TYP, SVC_ADDR, DIST_CD, OPEN_DT, ACCT_STAT, PRE_BAL) "
                  "VALUES ('100200300702', 'C000000005', '02', '西城区展览路7号', 'D002', '2024-01-02', 'A', 0)")
    scripts = [
        ("hotline_12345", "13800138000",
         ["", "1", "3", "*", "2", "1", "3", "*", "3", closed, "*", "4", "1", "1", "*", "*", "2", "1", "*", "#",
          "4", "3", "1", "#", "5", "4", "1", "2", "0", "5", "1"]),
        ("hotline_12345", "13800138000", ["", "1", "2", "4", "3", closed, "1"]),   # rerecord, discard, lookup again
        ("utility_billing", "13800138000",
         ["", "2", "1", "1", "*", "2", "1", "1", "*", "3", "100200300601", "0"]),
        ("utility_billing", "13700137000", ["", "1"]),
        ("satisfaction_survey", "13900139000", ["5", "1"]),
    ]
    failures: list[str] = []
    hung_up_in: dict[str, set[str]] = {name: set() for name in flows}
    runs = 0
    for flow_name, caller, presses in scripts:
        for k, outcome, call in run_prefixes(flows, services, flow_name, presses, caller):
            runs += 1
            check_saved(store, outcome, call, failures)
            if outcome.reason == "caller_hangup":
                # the satisfaction survey reached by transfer runs inside the hotline's call
                owner = flow_name if outcome.node in flows[flow_name].nodes else "satisfaction_survey"
                hung_up_in[owner].add(outcome.node)
    assert not failures, "\n".join(failures)
    for name in ("hotline_12345", "utility_billing", "satisfaction_survey"):
        missing = asks_of(flows[name]) - hung_up_in[name]
        assert not missing, f"{name}: no hang-up tested at {sorted(missing)}"
    assert runs == sum(len(presses) + 1 for _, _, presses in scripts)

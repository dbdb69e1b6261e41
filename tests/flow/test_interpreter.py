"""Node semantics, one kind at a time, on a scripted in-process call with fake services."""
import datetime as dt

from flow_helpers import compiled, flow_text
from fsapp.flow.compiler import Environment, compile_text
from fsapp.flow.interpreter import Services, luhn, mod11, run_call
from fsapp.flow.testing import FakeRouter, FakeStore, ScriptedCall, fake_calendars
from fsapp.flow.trace import NodeCounter, Recorder

ANY = Environment(tts=True)


def run(nodes, presses=(), header="", tail="", languages="[zh-CN, en-US]", store=None, router=None,
        calendars=None, flows=None, **call_kw):
    flow = compiled(flow_text(nodes, header=header, tail=tail, languages=languages), ANY)
    call = ScriptedCall(presses, **call_kw)
    recorder = Recorder()
    store = store if store is not None else FakeStore()
    services = Services(store=store, router=router or FakeRouter(), calendars=calendars or {},
                        tracer=recorder, say=lambda lang, kind, value: [f"say/{lang}/{kind}/{value}"],
                        recordings="/tmp/fsapp-flow-test-recordings", tts="flite|kal",
                        clock=lambda: dt.datetime(2026, 11, 30, 10, 0))
    outcome = run_call(call, flow, services, {flow.name: flow, **(flows or {})})
    return outcome, call, recorder, store


def test_play_plays_prompt_sequences_and_hangup_ends():
    outcome, call, rec, _ = run("""
        welcome:
          play: [hotline/welcome, {tone: "%(500,0,800)"}, {silence: 250ms}, {say: money, value: "{{ 12.5 }}"},
                 {file: /tmp/x.wav}, {text: "hello there"}]
          next: bye
        bye: {hangup: {prompt: common/goodbye, cause: NORMAL_CLEARING}}
    """)
    assert call.heard == ["hotline/welcome", "tone_stream://%(500,0,800)", "silence_stream://250",
                          "say/zh-CN/money/12.5", "/tmp/x.wav", "say:hello there", "common/goodbye"]
    assert call.channel["tts_engine"] == "flite" and call.channel["tts_voice"] == "kal"
    assert outcome.reason == "hangup" and outcome.node == "bye" and outcome.trail == ["welcome", "bye"]
    assert ("hangup", "NORMAL_CLEARING") in call.actions
    kinds = [e["event"] for e in rec.events]
    assert kinds[:3] == ["enter", "prompt", "edge"] and kinds[-2:] == ["end", "store"]   # store: the call record


MENU = """
    welcome:
      menu:
        prompt: hotline/main_menu
        repeat_prompt: common/repeat_menu
        options: {"1": one, "2": two}
        tries: 3
        invalid: common/invalid
        no_input: common/no_input
        on_fail: failed
    one: {hangup: {}}
    two: {hangup: {}}
    failed: {hangup: {prompt: common/goodbye}}
"""


def test_menu_option_and_repeat_prompt_and_separate_no_input_and_invalid():
    outcome, call, rec, _ = run(MENU, ["", "7", "2"])
    assert outcome.trail == ["welcome", "two"]
    assert call.heard == ["hotline/main_menu", "common/no_input", "common/repeat_menu", "common/invalid",
                          "common/repeat_menu"]
    inputs = rec.of("input")
    assert [(e["digits"], e["valid"]) for e in inputs] == [("", False), ("7", False), ("2", True)]
    edge = rec.of("edge")[0]
    assert edge["label"] == "options.2" and edge["to"] == "two"


def test_menu_fails_after_tries():
    outcome, call, _, _ = run(MENU, ["9", "9", "9"])
    assert outcome.trail == ["welcome", "failed"]
    assert call.heard.count("common/invalid") == 3


def test_menu_counts_wrong_keys_and_silence_apart_like_ivr_conf():
    """max-failures and max-timeouts (switch_ivr_menu.c): 2 wrong keys and 2 silences do
    not end a tries: 3 menu; the third silence does."""
    outcome, call, rec, _ = run(MENU, ["9", "", "9", "", ""])
    assert outcome.trail == ["welcome", "failed"]
    assert [e["outcome"] for e in rec.of("input")] == ["invalid", "no_input", "invalid", "no_input", "no_input"]
    outcome, _, _, _ = run(MENU.replace("tries: 3", "max_failures: 2\n        max_timeouts: 4"), ["9", "", "9"])
    assert outcome.trail == ["welcome", "failed"]
    outcome, _, _, _ = run(MENU.replace("tries: 3", "max_failures: 2\n        max_timeouts: 4"),
                           ["", "", "", "2"])
    assert outcome.trail == ["welcome", "two"]


MIXED = """
    welcome:
      menu:
        prompt: hotline/main_menu
        options: {"1": one, "10": ten, "*": star}
        tries: 2
        invalid: common/invalid
        on_fail: failed
    one: {hangup: {}}
    ten: {hangup: {}}
    star: {hangup: {}}
    failed: {hangup: {}}
"""


def test_menu_with_one_and_two_key_options_follows_digit_len_and_inter_digit_timeout():
    # "1" then the inter-digit timeout: 1 (FreeSWITCH: read_result=timeout, the digits count)
    assert run(MIXED, ["1"])[0].trail == ["welcome", "one"]
    assert run(MIXED, ["1#"])[0].trail == ["welcome", "one"]          # # ends the entry at once
    assert run(MIXED, ["10"])[0].trail == ["welcome", "ten"]          # digit-len 2 reached
    assert run(MIXED, ["*"])[0].trail == ["welcome", "star"]
    outcome, call, rec, _ = run(MIXED, ["#", "12"])                   # a lone # is a wrong entry
    assert outcome.trail == ["welcome", "failed"] and call.heard.count("common/invalid") == 2
    assert [(e["digits"], e["outcome"]) for e in rec.of("input")] == [("#", "invalid"), ("12", "invalid")]


def test_collect_reports_what_was_refused_and_why():
    outcome, _, rec, _ = run("""
        welcome:
          collect: {prompt: common/x, min: 4, max: 8, tries: 4, into: acct}
          next: done
          on_fail: done
        done: {hangup: {}}
    """, ["12#", "", "#", "1234"])
    assert outcome.vars["acct"] == "1234"
    assert [(e["digits"], e["outcome"], e.get("problem")) for e in rec.of("input")][:3] == [
        ("12", "invalid", "2 digits, expected 4-8"), ("", "no_input", "no input"),
        ("#", "invalid", "# before any digit")]


def test_caller_hangup_mid_menu_still_runs_on_hangup():
    store = FakeStore()
    outcome, call, _, _ = run(MENU, [], store=store, tail="""
        on_hangup:
          - write: {kind: survey_answer, row: {question: "{{ trail | join('>') }}", answer: "{{ hangup_cause }}"}}
    """)
    assert outcome.reason == "caller_hangup"
    assert store.writes[0] == {"kind": "survey_answer", "row": {"question": "welcome", "answer": "NORMAL_CLEARING"},
                               "key": f"{call.uuid}:on_hangup.1:1"}
    # then the runtime's own record of the call: hung up mid-menu, at welcome
    assert [w["kind"] for w in store.writes] == ["survey_answer", "call_record"]
    record = store.writes[1]
    assert record["key"] == f"{call.uuid}:call"
    assert {k: record["row"][k] for k in ("outcome", "end_reason", "hangup_cause", "node_path", "flow")} == {
        "outcome": "welcome", "end_reason": "caller_hangup", "hangup_cause": "NORMAL_CLEARING",
        "node_path": "t.welcome", "flow": "t"}


def test_on_hangup_steps_run_only_when_their_condition_holds():
    store = FakeStore()
    outcome, call, _, _ = run(MENU, [], store=store, tail="""
        on_hangup:
          - write: {kind: ticket, row: {summary: "{{ hangup_cause }}"}}
            when: "hangup_cause == 'NORMAL_CLEARING'"
          - write: {kind: survey_answer, row: {question: status, answer: incomplete}}
            when: "trail | length > 5"
    """)
    assert [w["kind"] for w in store.writes] == ["ticket", "call_record"]


def test_when_is_only_for_on_hangup_steps():
    flow_body = flow_text("welcome: {hangup: {}, when: 'true'}\n")
    _, problems = compile_text(flow_body, "f.yaml", ANY)
    assert any("when" in p.message for p in problems)


COLLECT = """
    welcome:
      collect:
        prompt: hotline/enter_ticket
        min: 4
        max: 8
        validate: '^[0-9]+$'
        invalid: common/invalid
        tries: 4
        readback: true
        confirm: {prompt: hotline/confirm, yes: "1"}
        into: acct
      next: ok
      on_fail: failed
    ok: {play: "x/{{ acct }}", next: bye}
    failed: {hangup: {}}
    bye: {hangup: {}}
"""


def test_collect_validates_reads_back_and_confirms():
    outcome, call, rec, _ = run(COLLECT, ["12#", "1234*#", "123456#", "2", "654321#", "1"])
    assert outcome.trail == ["welcome", "ok", "bye"]
    assert outcome.vars["acct"] == "654321"
    assert call.heard.count("common/invalid") == 2
    assert "say/zh-CN/digits/123456" in call.heard and "x/654321" in call.heard
    problems = [e.get("problem") for e in rec.of("input") if not e.get("confirm")]
    assert problems[:2] == ["2 digits, expected 4-8", "does not match validate"]
    answers = [(e["digits"], e["outcome"]) for e in rec.of("input") if e.get("confirm")]
    assert answers == [("2", "declined"), ("1", "accepted")]   # a "no" is not an invalid input


def test_collect_on_fail_leaves_variable_unset():
    outcome, _, _, _ = run(COLLECT, ["", "", "", ""])
    assert outcome.trail == ["welcome", "failed"] and "acct" not in outcome.vars


def test_named_check_digits():
    assert luhn("79927398713") and not luhn("79927398710")
    assert mod11("11010519491231002*") and not mod11("110105194912310021")
    outcome, _, _, _ = run("""
        welcome: {collect: {prompt: hotline/enter_ticket, max: 11, check: luhn, into: card, tries: 2},
                  next: bye, on_fail: bye}
        bye: {hangup: {}}
    """, ["79927398710#", "79927398713#"])
    assert outcome.vars["card"] == "79927398713"


def test_record_with_review_listen_rerecord_save():
    outcome, call, _, _ = run("""
        welcome:
          record: {prompt: hotline/leave_message, max: 60s, silence: 3s, into: msg,
                   review: {prompt: hotline/review}}
          next: bye
        bye: {hangup: {}}
    """, ["1", "2", "3"], record_seconds=4.0)
    records = [a for a in call.actions if a[0] == "record"]
    assert len(records) == 2  # re-recorded once
    path = records[0][1]
    assert path.endswith(f"/t/20261130/{call.uuid}-welcome-1.wav")
    assert call.heard.count(path) == 1  # listened once
    assert outcome.vars["msg"] == {"path": path, "duration": 4.0, "saved": True}


def test_record_discard_goes_to_on_discard():
    outcome, _, _, _ = run("""
        welcome:
          record: {into: msg, beep: false, review: {prompt: hotline/review}}
          next: bye
          on_discard: gone
        bye: {hangup: {}}
        gone: {hangup: {}}
    """, ["4"])
    assert outcome.trail == ["welcome", "gone"] and outcome.vars["msg"] is None


def test_hangup_during_recording_keeps_the_path_for_on_hangup():
    store = FakeStore()
    call_holder = {}

    class HangsUpWhileRecording(ScriptedCall):
        def record(self, path, *a, **kw):
            call_holder["path"] = path
            self._caller_hangs_up("hung up while recording")

    flow = compiled(flow_text("""
        welcome: {record: {into: msg}, next: bye}
        bye: {hangup: {}}
    """, header="vars: {msg: null}\n", tail="""
        on_hangup:
          - write: {kind: message, row: {path: "{{ msg.path }}"}}
    """), ANY)
    outcome = run_call(HangsUpWhileRecording([]), flow, Services(store=store, recordings="/tmp/fsapp-rec"))
    assert outcome.reason == "caller_hangup"
    assert store.writes[0]["row"] == {"path": call_holder["path"]}


def test_sql_binds_rows_and_errors_take_on_error():
    store = FakeStore({"billing.balance": [{"params": {"acct": "42"}, "rows": [{"due": 12.5}]},
                                           {"params": {"acct": "13"}, "error": "db down"}]})
    nodes = """
        welcome: {set: {acct: "call.caller_id"}, next: look}
        look:
          sql: {query: billing.balance, params: {acct: "{{ acct }}"}, into: bal, on_error: sorry}
          next: check
        check:
          branch: [{when: "bal is none", goto: none}]
          else: bye
        none: {hangup: {}}
        sorry: {play: "x/{{ error }}", next: bye}
        bye: {hangup: {}}
    """
    outcome, _, _, _ = run(nodes, store=store, caller_id="42")
    assert outcome.trail == ["welcome", "look", "check", "bye"] and outcome.vars["bal"] == {"due": 12.5}
    assert store.calls == [("billing.balance", {"acct": "42"})]
    outcome, _, _, _ = run(nodes, store=store, caller_id="7")
    assert outcome.trail[-1] == "none"
    outcome, call, rec, _ = run(nodes, store=store, caller_id="13")
    assert outcome.trail[-2:] == ["sorry", "bye"] and "x/FakeStoreError: db down" in call.heard
    assert rec.of("error")[0]["error"] == "FakeStoreError: db down"


def test_sql_without_on_error_fails_the_call_cleanly():
    store = FakeStore({"q.x": [{"error": "boom"}]})
    outcome, call, _, _ = run("""
        welcome: {sql: {query: q.x, into: r}, next: bye}
        bye: {hangup: {}}
    """, store=store)
    assert outcome.reason == "error" and "boom" in outcome.error
    assert ("hangup", "NORMAL_TEMPORARY_FAILURE") in call.actions


def test_set_and_language_switch():
    outcome, call, _, _ = run("""
        welcome: {set: {n: "1", m: "n + 1", lang: "'en-US'"}, next: bye}
        bye: {hangup: {prompt: common/goodbye}}
    """)
    assert outcome.vars["m"] == 2 and outcome.vars["lang"] == "en-US"
    outcome, _, _, _ = run("""
        welcome: {set: {lang: "'fr-FR'"}, next: bye}
        bye: {hangup: {}}
    """)
    assert outcome.reason == "error" and "fr-FR" in outcome.error


def test_schedule_modes_then_open_closed():
    nodes = """
        welcome: {schedule: office_hours, modes: {night: night}, open: day, closed: shut}
        day: {hangup: {}}
        night: {hangup: {}}
        shut: {hangup: {}}
    """
    for state, end in [("open", "day"), ("night", "night"), ("closed", "shut"), ("holiday", "shut")]:
        outcome, _, _, _ = run(nodes, calendars=fake_calendars({"office_hours": state}))
        assert outcome.trail[-1] == end, state


def test_queue_outcomes():
    nodes = """
        welcome: {queue: {queue: hotline_agents, priority: "2 if call.caller_id == '1' else 0",
                          skills: [mandarin], into: q, on_overflow: mailbox}, next: survey}
        survey: {hangup: {}}
        mailbox: {hangup: {}}
    """
    router = FakeRouter({"hotline_agents": "answered"})
    outcome, _, _, _ = run(nodes, router=router, caller_id="1")
    assert outcome.trail[-1] == "survey" and outcome.vars["q"] == {"kind": "answered", "target": "1001"}
    assert router.enqueued == [{"queue": "hotline_agents", "priority": 2, "skills": ["mandarin"], "timeout": None,
                                "lang": "zh-CN"}]
    outcome, _, _, _ = run(nodes, router=FakeRouter({"hotline_agents": "overflow"}))
    assert outcome.trail[-1] == "mailbox"
    outcome, call, _, _ = run(nodes, router=FakeRouter({"hotline_agents": "timeout"}))
    assert outcome.reason == "queue" and ("hangup", "NORMAL_CLEARING") in call.actions
    outcome, _, _, _ = run(nodes, router=FakeRouter({"hotline_agents": "abandoned"}))
    assert outcome.reason == "caller_hangup"


class BrokenRouter:
    """What Router.enqueue does when Redis (or FreeSWITCH's event socket) is unreachable."""

    def enqueue(self, call, queue, **kw):
        raise ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


def test_queue_failure_takes_on_error_else_the_overflow_path():
    nodes = """
        welcome: {queue: {queue: hotline_agents, on_overflow: mailbox, on_error: sorry}}
        sorry: {hangup: {prompt: common/goodbye}}
        mailbox: {hangup: {}}
    """
    outcome, _, _, _ = run(nodes, router=BrokenRouter())
    assert outcome.trail == ["welcome", "sorry"] and outcome.reason == "hangup"
    outcome, _, _, _ = run("""
        welcome: {queue: {queue: hotline_agents, on_overflow: mailbox}}
        mailbox: {hangup: {}}
    """, router=BrokenRouter())
    assert outcome.trail == ["welcome", "mailbox"]   # the caller still reaches the fallback
    outcome, _, _, _ = run("welcome: {queue: {queue: hotline_agents}}\n", router=BrokenRouter())
    assert outcome.reason == "error" and "Connection refused" in outcome.error


def test_transfer_extension_number_and_flow():
    outcome, call, _, _ = run("welcome: {transfer: {extension: '1001', context: agents}}\n")
    assert outcome.reason == "transfer" and ("transfer", "1001 XML agents") in call.actions
    nodes = """
        welcome: {transfer: {number: "95598", gateway: carrier, on_fail: busy}}
        busy: {hangup: {prompt: common/goodbye}}
    """
    outcome, call, _, _ = run(nodes)
    assert outcome.reason == "transfer" and ("bridge", "sofia/gateway/carrier/95598") in call.actions
    outcome, call, _, _ = run(nodes, bridge_ok=False)
    assert outcome.trail == ["welcome", "busy"]
    other = compiled("flow: other\nlanguages: [en-US]\nstart: hi\nnodes:\n  hi: {hangup: {prompt: common/hi}}\n", ANY)
    outcome, call, _, _ = run("welcome: {transfer: {flow: other}}\n", flows={"other": other})
    assert outcome.trail == ["welcome", "hi"] and call.heard == ["common/hi"]
    assert (outcome.flow, outcome.node) == ("other", "hi")   # where the call ended


def test_subflow_arguments_return_values_and_language():
    sub = compiled("""flow: ask
languages: [zh-CN, en-US]
inputs: [question]
outputs: [answer]
start: q
nodes:
  q: {collect: {prompt: "{{ question }}", max: 4, into: answer}, next: lang, on_fail: done}
  lang: {set: {lang: "'en-US'"}, next: done}
  done: {return: {}}
""", ANY)
    outcome, call, _, _ = run("""
        welcome: {subflow: {flow: ask, args: {question: "hotline/enter_ticket"}, returns: {got: answer}}, next: bye}
        bye: {hangup: {prompt: common/goodbye}}
    """, ["42#"], flows={"ask": sub})
    assert outcome.vars["got"] == "42" and outcome.vars["lang"] == "en-US"
    assert outcome.trail == ["welcome", "q", "lang", "done", "bye"]
    assert call.heard == ["hotline/enter_ticket", "common/goodbye"]


def test_the_runtime_writes_one_call_record_with_the_outcome_the_flow_set():
    """The flow sets the record's outcome as data; the runtime writes the record once, at
    the end, with what it saw: queue and agent, IVR answer, node path across a subflow."""
    sub = compiled("""flow: ask
languages: [zh-CN, en-US]
start: lang
nodes:
  lang: {set: {lang: "'en-US'"}, next: done}
  done: {return: {}}
""", ANY)
    store = FakeStore()
    outcome, call, _, _ = run("""
        welcome: {subflow: {flow: ask}, next: agent}
        agent: {queue: hotline, next: solved}
        solved: {set: {outcome: "'resolved_by_agent'"}, next: bye}
        bye: {hangup: {prompt: "{{ outcome }}"}}
    """, store=store, flows={"ask": sub}, caller_id="13800138000")
    assert call.heard == ["resolved_by_agent"]          # a flow reads back what it set
    assert "outcome" not in outcome.vars                # the record's data, not a flow variable
    assert [w["kind"] for w in store.writes] == ["call_record"]
    (record,) = store.writes
    at = dt.datetime(2026, 11, 30, 10, 0)
    assert record == {"kind": "call_record", "key": f"{call.uuid}:call", "row": {
        "call_uuid": call.uuid, "caller_number": "13800138000", "destination": call.destination,
        "flow": "t", "flow_version": outcome.version, "started_at": at, "answered_at": at, "ended_at": at,
        "duration_ms": 0, "hangup_cause": "NORMAL_CLEARING", "outcome": "resolved_by_agent",
        "queue_name": "hotline", "agent_id": "1001", "language": "en-US", "end_reason": "hangup",
        "node_path": "t.welcome>ask.lang>ask.done>t.agent>t.solved>t.bye"}}


def test_a_declared_outcome_is_the_records_outcome_until_the_flow_sets_another():
    store = FakeStore()
    run("""
        welcome: {menu: {prompt: a/b, options: {"1": solved}, on_fail: bye}}
        solved: {set: {outcome: "'solved'"}, next: bye}
        bye: {hangup: {}}
    """, [""], header="vars: {outcome: unsolved}\n", store=store)
    run("""
        welcome: {menu: {prompt: a/b, options: {"1": solved}, on_fail: bye}}
        solved: {set: {outcome: "'solved'"}, next: bye}
        bye: {hangup: {}}
    """, ["1"], header="vars: {outcome: unsolved}\n", store=store)
    assert [w["row"]["outcome"] for w in store.writes if w["kind"] == "call_record"] == ["unsolved", "solved"]


def test_a_call_left_in_a_queue_has_a_record_too():
    store = FakeStore()
    outcome, call, _, _ = run("""
        welcome: {queue: hotline, next: bye}
        bye: {hangup: {}}
    """, store=store, router=FakeRouter({"hotline": "abandoned"}))
    assert outcome.reason == "caller_hangup"
    (record,) = [w["row"] for w in store.writes if w["kind"] == "call_record"]
    assert (record["outcome"], record["queue_name"], record["agent_id"], record["end_reason"]) == \
        ("welcome", "hotline", None, "caller_hangup")


def test_a_call_transferred_out_of_the_flow_has_a_record_too():
    store = FakeStore()
    outcome, call, _, _ = run("""
        welcome: {transfer: {extension: "2000"}}
    """, store=store)
    assert outcome.reason == "transfer"
    (record,) = [w["row"] for w in store.writes if w["kind"] == "call_record"]
    assert (record["outcome"], record["end_reason"], record["node_path"]) == ("welcome", "transfer", "t.welcome")


def test_running_call_keeps_its_version():
    text = flow_text("welcome: {menu: {prompt: a/b, options: {1: bye}, on_fail: bye}}\nbye: {hangup: {}}\n")
    v1, _ = compile_text(text, "f.yaml", ANY)
    v2, _ = compile_text(text.replace("a/b", "a/c"), "f.yaml", ANY)
    counter, recorder = NodeCounter(), Recorder()
    from fsapp.flow.trace import fan_out
    registry = {"t": v1}

    class ReloadingCall(ScriptedCall):
        def get_digits(self, *a, **kw):
            registry["t"] = v2  # a deploy lands while this call waits in the menu
            return super().get_digits(*a, **kw)

    run_call(ReloadingCall(["1"]), registry["t"], Services(tracer=fan_out(counter, recorder)), dict(registry))
    assert {e["version"] for e in recorder.events} == {v1.version} != {v2.version}
    assert counter.entered[("t", "welcome")] == 1 and counter.edges[("t", "welcome", "options.1", "bye")] == 1


def test_runtime_loop_guard():
    from fsapp.flow.interpreter import Session
    flow = compiled(flow_text("""
        welcome: {set: {n: "0"}, next: spin}
        spin: {set: {n: "n + 1"}, next: check}
        check:
          branch: [{when: "n < 100000", goto: spin}]
          else: bye
        bye: {hangup: {}}
    """), ANY)
    outcome = Session(ScriptedCall([]), flow, Services()).run()
    assert outcome.reason == "error" and "without caller input" in outcome.error


def test_text_prompts_through_fsapp_tts_are_played_as_cached_files():
    flow = compiled(flow_text("""
        welcome: {play: [{text: "Your balance is {{ 5 }} yuan"}], next: bye}
        bye: {hangup: {}}
    """), ANY)
    call = ScriptedCall([])
    services = Services(tts="espeak-ng", tts_render=lambda lang, text: f"/var/tts/{lang}/{len(text)}.wav")
    run_call(call, flow, services)
    assert call.heard == ["/var/tts/zh-CN/22.wav"]  # "Your balance is 5 yuan" and "tts_engine" not in call.channel


def test_node_visits_are_stored_per_node_left():
    from fsapp.flow.trace import NodeVisitWriter
    store = FakeStore()
    flow = compiled(flow_text(MENU), ANY)
    call = ScriptedCall(["7", "2"])
    run_call(call, flow, Services(tracer=NodeVisitWriter(store)))
    rows = [w["row"] for w in store.writes]
    assert [(r["node"], r["outcome"], r["digits"]) for r in rows] == [("welcome", "options.2", "2"),
                                                                     ("two", "hangup", None)]
    assert [w["key"] for w in store.writes] == [f"{call.uuid}:visit:1", f"{call.uuid}:visit:2"]
    assert all(r["entered_at"] <= r["left_at"] and r["flow"] == "t" for r in rows)
    # the reports' per-node counts (docs/reports.md): "7" was not an option at welcome
    assert [(r["no_inputs"], r["invalid_inputs"], r["revisit"], r["flow_entry"]) for r in rows] == \
        [(0, 1, 0, 1), (0, 0, 0, 0)]


def test_node_visit_writer_counts_no_input_and_revisits():
    from fsapp.flow.trace import NodeVisitWriter
    store = FakeStore()
    writer = NodeVisitWriter(store)
    for event in [{"event": "enter", "node": "menu"}, {"event": "input", "digits": ""},
                  {"event": "input", "digits": "9", "valid": False}, {"event": "edge", "label": "options.1"},
                  {"event": "enter", "node": "info"}, {"event": "edge", "label": "next"},
                  {"event": "enter", "node": "menu"}, {"event": "input", "digits": ""},
                  {"event": "end", "reason": "caller_hangup"}]:
        writer({"uuid": "u1", "flow": "f", "version": "3", **event})
    rows = [w["row"] for w in store.writes]
    assert [(r["node"], r["outcome"], r["no_inputs"], r["invalid_inputs"], r["revisit"], r["flow_entry"])
            for r in rows] == [("menu", "options.1", 1, 1, 0, 1), ("info", "next", 0, 0, 0, 0),
                               ("menu", "caller_hangup", 1, 0, 1, 0)]
    assert {r["flow_version"] for r in rows} == {"3"} and writer.seen == {}


def test_node_visit_writer_keeps_each_calls_visits_apart():
    """Calls at once: one call's end closes its own open visits (a subflow's too), never
    another call's, and leaves nothing of it behind."""
    from fsapp.flow.trace import NodeVisitWriter
    store = FakeStore()
    writer = NodeVisitWriter(store)

    def trace(uuid, flow, **event):
        writer({"uuid": uuid, "flow": flow, "version": "1", **event})
    trace("u1", "main", event="enter", node="menu")
    trace("u2", "main", event="enter", node="menu")
    trace("u1", "sub", event="enter", node="ask")       # u1 is in a subflow, main.menu still open
    trace("u2", "main", event="input", digits="5", valid=False)
    trace("u1", "sub", event="end", reason="caller_hangup")
    assert [(r["row"]["call_uuid"], r["row"]["flow"], r["row"]["node"], r["row"]["outcome"])
            for r in store.writes] == [("u1", "main", "menu", "caller_hangup"),
                                       ("u1", "sub", "ask", "caller_hangup")]
    assert list(writer.open) == ["u2"] and list(writer.seen) == ["u2"]
    trace("u2", "main", event="edge", label="options.1")
    trace("u2", "other", event="enter", node="x")
    trace("u2", "main", event="enter", node="menu")
    trace("u2", "main", event="end", reason="hangup")
    rows = [w["row"] for w in store.writes[2:]]
    assert [(r["node"], r["outcome"], r["invalid_inputs"], r["revisit"], r["flow_entry"]) for r in rows] == \
        [("menu", "options.1", 1, 0, 1), ("x", "hangup", 0, 0, 1), ("menu", "hangup", 0, 1, 0)]
    assert writer.open == {} and writer.seen == {} and writer.waiting == {}


def test_record_passes_its_terminators_and_keeps_a_long_enough_message():
    outcome, call, rec, _ = run("""
        welcome:
          record: {into: msg, beep: false, terminators: "*#", min_length: 2s,
                   too_short: common/message_too_short}
          next: bye
        bye: {hangup: {}}
    """, record_seconds=[0.8, 1.5, 3.0])
    records = [a for a in call.actions if a[0] == "record"]
    assert len(records) == 3 and call.record_terminators == "*#"
    assert call.heard.count("common/message_too_short") == 2
    assert outcome.vars["msg"]["duration"] == 3.0 and outcome.vars["msg"]["saved"]
    inputs = [e for e in rec.events if e["event"] == "input"]
    assert [e["valid"] for e in inputs] == [False, False, True]
    assert inputs[0]["problem"] == "shorter than 2 s"


def test_record_too_short_every_try_goes_to_on_too_short_and_removes_the_file(tmp_path):
    outcome, call, _, _ = run("""
        welcome:
          record: {into: msg, beep: false, min_length: 2s, tries: 2, too_short: common/message_too_short}
          next: bye
          on_too_short: sorry
        bye: {hangup: {}}
        sorry: {hangup: {prompt: common/goodbye}}
    """, record_seconds=0.5)
    assert outcome.trail == ["welcome", "sorry"] and outcome.vars["msg"] is None
    assert call.heard.count("common/message_too_short") == 1   # not after the last try
    assert len([a for a in call.actions if a[0] == "record"]) == 2


def test_record_min_length_needs_a_too_short_prompt_and_a_shorter_max():
    _, problems = compile_text(flow_text("""
        welcome: {record: {into: msg, min_length: 5s, max: 5s}, next: bye}
        bye: {hangup: {}}
    """), "x.yaml", ANY)
    text = "\n".join(p.message for p in problems)
    assert "min_length needs too_short" in text and "is not shorter than max (5 s)" in text


def test_say_node_currency_and_datetime_and_id_readback_with_x():
    """The say node's currency (USD: dollars and cents, not yuan), datetime, and a
    resident ID keyed with * for X read back as X (was "star")."""
    from fsapp.say import render
    flow = compiled(flow_text("""
        welcome: {say: {type: currency, value: "{{ 12.5 }}", currency: USD}, next: cny}
        cny: {say: {type: money, value: "3"}, next: when}
        when:
          play: [{say: datetime, value: "2026-11-28 15:05"}, {say: currency, value: "1", currency: USD}]
          next: id
        id:
          collect: {prompt: hotline/ask_id, max: 18, check: mod11, readback: true, into: id}
          next: bye
          on_fail: bye
        bye: {hangup: {}}
    """, languages="[en-US]"), ANY)
    call = ScriptedCall(["11010519491231002*"])
    services = Services(store=FakeStore(), router=FakeRouter(), say=render, recordings="/tmp/fsapp-flow-test-recordings")
    outcome = run_call(call, flow, services, {flow.name: flow})
    en = "say/en/"
    heard = call.heard
    assert heard[:5] == [en + "12", en + "dollars", en + "and", en + "50", en + "cents"]
    assert heard[5:7] == [en + "3", en + "yuan"]
    when = render("en-US", "datetime", "2026-11-28 15:05")
    assert heard[7:7 + len(when)] == when and heard[7 + len(when):9 + len(when)] == [en + "1", en + "dollar"]
    assert outcome.vars["id"] == "11010519491231002*"          # stored as keyed
    assert heard[-18:] == render("en-US", "digits", "11010519491231002X")
    assert heard[-1] == en + "x" and en + "star" not in heard


def test_the_edge_taken_is_the_compiled_nodes_label_and_target():
    """The interpreter takes targets from the compiled node's edges (Node.target), the one
    place a label meets its target; labels inside a field are spelled by fsapp.flowspec."""
    import dataclasses

    from fsapp.flowspec import case_label, option_label

    flow = compiled(flow_text("""
        welcome:
          menu: {prompt: hotline/main_menu, options: {"1": check, "2": bye}, on_fail: bye}
        check:
          branch:
            cases: [{when: "1 > 2", goto: bye}, {when: "2 > 1", goto: done}]
            else: bye
        done: {play: common/goodbye, next: bye}
        bye: {hangup: {}}
    """), ANY)
    recorder = Recorder()
    services = Services(tracer=recorder, say=lambda lang, kind, value: [])
    run_call(ScriptedCall(["1"]), flow, services, {flow.name: flow})
    taken = [(e["node"], e["label"], e["to"]) for e in recorder.of("edge")]
    assert taken == [("welcome", option_label("1"), "check"), ("check", case_label(1), "done"),
                     ("done", "next", "bye")]
    assert all(flow.nodes[node].target(label) == to for node, label, to in taken)
    # a node whose compiled edges lack the label: named, not a silent jump to args
    done = dataclasses.replace(flow.nodes["done"], edges=())
    broken = dataclasses.replace(flow, start="done", nodes={**flow.nodes, "done": done})
    outcome = run_call(ScriptedCall([]), broken, Services(tracer=Recorder(), say=lambda *a: []),
                       {flow.name: broken})
    assert outcome.reason == "error" and "node 'done' has no 'next' edge" in outcome.error


def test_a_say_prompt_without_a_say_renderer_is_named():
    """The flow package keeps no default renderer (fsapp.app hands fsapp.say.render in):
    a say prompt on services without one fails with the node and the missing service."""
    flow = compiled(flow_text("""
        welcome: {play: [{say: digits, value: "42"}], next: bye}
        bye: {hangup: {}}
    """), ANY)
    outcome = run_call(ScriptedCall([]), flow, Services(tracer=Recorder()), {flow.name: flow})
    assert outcome.reason == "error" and "node 'welcome' needs the say (not configured)" in outcome.error


class TripCountingStore(FakeStore):
    """A FakeStore that counts its trips: write() and write_many() calls."""

    def __init__(self):
        super().__init__()
        self.trips = []

    def write(self, kind, row, key=None):
        self.trips.append([kind])
        return super().write(kind, row, key)

    def write_many(self, rows):
        self.trips.append([kind for kind, _row, _key in rows])
        return [FakeStore.write(self, kind, row, key) for kind, row, key in rows]


def test_node_visits_go_with_the_call_record_in_one_trip():
    """As `fsapp serve` installs them ([flows] node_visits): a call's visits and its call
    record reach the store in one write_many, the record first."""
    from fsapp.flow.trace import record_node_visits
    store = TripCountingStore()
    services = Services(store=store)
    writer = record_node_visits(services)
    call = ScriptedCall(["7", "2"])
    run_call(call, compiled(flow_text(MENU), ANY), services)
    assert store.trips == [["call_record", "node_visit", "node_visit"]]
    assert [w["key"] for w in store.writes] == [f"{call.uuid}:call", f"{call.uuid}:visit:1",
                                               f"{call.uuid}:visit:2"]
    assert writer.waiting == {} and writer.open == {}


def test_node_visits_are_written_when_the_call_record_is_refused():
    from fsapp.flow.trace import record_node_visits

    class RefusingStore(TripCountingStore):
        def write_many(self, rows):
            if rows[0][0] == "call_record":
                raise ValueError("call_record: column hangup_cause is required")
            return super().write_many(rows)
    store = RefusingStore()
    services = Services(store=store)
    record_node_visits(services)
    run_call(ScriptedCall(["2"]), compiled(flow_text(MENU), ANY), services)
    assert store.trips == [["node_visit", "node_visit"]]


def test_node_visits_wait_for_the_end_of_the_call_or_a_full_batch():
    """A call's visits go to the store in one write_many when its flow part ends (one
    database trip, one commit), or whenever `batch` of them are waiting."""
    from fsapp.flow.trace import NodeVisitWriter

    store = TripCountingStore()
    writer = NodeVisitWriter(store, batch=2)
    for event in [{"event": "enter", "node": "a"}, {"event": "edge", "label": "next"},
                  {"event": "enter", "node": "b"}, {"event": "edge", "label": "next"},
                  {"event": "enter", "node": "c"}, {"event": "edge", "label": "next"}]:
        writer({"uuid": "u1", "flow": "f", "version": "1", **event})
    assert store.trips == [["node_visit"] * 2] and [w["row"]["node"] for w in store.writes] == ["a", "b"]
    writer({"uuid": "u1", "flow": "f", "version": "1", "event": "enter", "node": "d"})
    writer({"uuid": "u1", "flow": "f", "version": "1", "event": "end", "reason": "hangup"})
    assert store.trips == [["node_visit"] * 2] * 2
    assert [w["row"]["node"] for w in store.writes] == ["a", "b", "c", "d"]
    assert [w["key"] for w in store.writes] == [f"u1:visit:{n}" for n in (1, 2, 3, 4)]
    assert writer.waiting == {} and writer.open == {} and writer.seen == {}

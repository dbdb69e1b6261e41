"""OutboundServer + Call over real TCP against the replayed FreeSWITCH captures."""
import logging
import time
import re

import gevent
import pytest

from esl_replay import SETUP, ReplaySwitch, app_arg, first_lines, load_steps, plain_event
from fsapp.esl import CallHangup, CommandTimeout, OutboundServer
from fsapp.log import _CallUuidFilter

FULL = "outbound_full_session.jsonl"
MID = "outbound_hangup_mid_playback.jsonl"
ERRORS = "outbound_not_full_and_errors.jsonl"
CAPTURE_UUID = "feffd515-755c-448a-be5a-030e791019d6"


def full_session(call, seen):
    """The exact application sequence of outbound_full_session."""
    call.answer()
    seen["playback"] = call.playback("tone_stream://%(500,0,800)")
    seen["pgd"] = call.play_and_get_digits(1, 6, 3, 4000, "#", "tone_stream://%(200,0,600)",
                                           "tone_stream://%(200,0,300)", regex="\\d+",
                                           digit_timeout_ms=2000, var="digits_var")
    seen["read"] = call.read(1, 6, "tone_stream://%(200,0,600)", 4000, "#", var="read_var")
    # the capture's record ran with FreeSWITCH's default keys: no `set playback_terminators`
    seen["record"] = call.record("/tmp/rec_test.wav", 3, 200, 3, terminators=None)
    call.set("foo", "bar")
    call.export("x", "y")
    call.say("en", "number", "pronounced", 1234)
    seen["bridge"] = call.bridge("loopback/7100")


@pytest.fixture
def server():
    servers = []

    def make(handler, **kw):
        kw.setdefault("command_timeout", 5.0)
        srv = OutboundServer(handler, "127.0.0.1:0", **kw).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.stop(timeout=2)


def run_call(srv, switch, timeout=20):
    greenlet = switch.dial(srv.port)
    greenlet.join(timeout)
    assert greenlet.dead, "replayed call did not finish"
    deadline = gevent.Timeout(5)
    with deadline:
        while srv.active_calls:
            gevent.sleep(0.01)


def test_pipelined_answer_and_body_argument_match_the_real_capture(server, captures_dir):
    """Capture outbound_pipelined_body_arg (FreeSWITCH 1.10.12, fsapp's own build):
    answer(wait=False) is followed at once by the next execute (FreeSWITCH ran them back to
    back: the answer's events and the playback's CHANNEL_EXECUTE came together);
    play_and_get_digits's argument went as the body and FreeSWITCH read it whole (the digit
    arrived in bench_digit). fsapp sends exactly the captured commands, in order."""
    steps = load_steps(captures_dir / "outbound_pipelined_body_arg.jsonl")
    seen = {}

    def ivr(call):
        call.answer(wait=False)
        seen["tone"] = call.playback("tone_stream://%(100,0,800)")
        seen["digit"] = call.play_and_get_digits(1, 1, 1, 3000, "#", "tone_stream://%(100,0,600)",
                                                 "silence_stream://250", regex="\\d", var="bench_digit")
        call.hangup()

    switch = ReplaySwitch(steps)
    run_call(server(ivr, linger=5), switch)
    assert seen == {"tone": "FILE PLAYED", "digit": "1"}
    assert switch.matched == len(steps) - 1      # every captured command, in order (exit: answered apart)
    captured = [s.command for s in steps]
    assert [first_lines([c])[0] for c in switch.received] == [first_lines([c])[0] for c in captured]
    assert [app_arg(c) for c in switch.received] == [app_arg(c) for c in captured]


def test_queued_prompts_keys_and_goodbye_match_the_real_capture(server, captures_dir):
    """Capture outbound_pipelined_goodbye (FreeSWITCH 1.10.12): a `5` pressed during a
    prompt sent with wait=False is not type-ahead for the question queued behind it (the
    switch's playback took it); hangup() behind a queued goodbye waits for the switch's
    CHANNEL_HANGUP, so the goodbye is played (an `exit` sent at once drops it)."""
    steps = load_steps(captures_dir / "outbound_pipelined_goodbye.jsonl")
    seen = {}

    def ivr(call):
        call.answer(wait=False)
        call.playback("tone_stream://%(600,0,800)", wait=False)
        seen["digit"] = call.play_and_get_digits(1, 1, 1, 3000, "#", "tone_stream://%(100,0,600)",
                                                 "silence_stream://250", regex="\\d", var="bench_digit")
        seen["typeahead"] = call.typeahead
        call.playback("tone_stream://%(300,0,400)", wait=False)
        call.hangup()
        seen["cause"] = call.hangup_cause

    switch = ReplaySwitch(steps)
    run_call(server(ivr, linger=5), switch)
    assert seen == {"digit": "1", "typeahead": "", "cause": "NORMAL_CLEARING"}
    assert switch.matched == len(steps) - 1      # every captured command, in order (exit: answered apart)
    assert [first_lines([c])[0] for c in switch.received] == [first_lines([s.command])[0] for s in steps]


@pytest.mark.parametrize("chunk", [None, 7])
def test_full_session_matches_the_real_capture(server, captures_dir, chunk):
    seen = {}

    def handler(call):
        seen["uuid"], seen["caller"], seen["dest"] = call.uuid, call.caller_id, call.destination
        try:
            full_session(call, seen)
        except CallHangup as exc:
            seen["hangup"] = exc
            seen["after"] = []
            for attempt in (lambda: call.playback("x.wav"), lambda: call.answer()):
                try:
                    attempt()
                except CallHangup:
                    seen["after"].append("CallHangup")
            raise

    srv = server(handler)
    switch = ReplaySwitch(load_steps(captures_dir / FULL), chunk=chunk)
    run_call(srv, switch)
    assert seen["uuid"] == CAPTURE_UUID and seen["caller"] == "13800138000" and seen["dest"] == "7000"
    assert seen["playback"] == "FILE PLAYED"
    assert seen["pgd"] == "12345" and seen["read"] == "12345"
    rec = seen["record"]
    assert rec.path == "/tmp/rec_test.wav" and rec.duration_s == 0 and rec.silence_hits_exhausted
    assert "bridge" not in seen  # the caller was killed while bridged
    assert isinstance(seen["hangup"], CallHangup) and seen["hangup"].cause == "NORMAL_CLEARING"
    assert seen["after"] == ["CallHangup", "CallHangup"]
    assert first_lines(switch.received) == SETUP + ["sendmsg"] * 9 + ["exit"]
    assert switch.matched == 12  # every captured command matched, in order
    ids = [re.search(r"Event-UUID: (\S+)", c).group(1) for c in switch.received if c.startswith("sendmsg")]
    assert len(set(ids)) == 9
    assert all("event-lock: true" in c for c in switch.received if c.startswith("sendmsg"))


def test_hangup_mid_playback(server, captures_dir):
    seen = {}

    def handler(call):
        call.answer()
        try:
            call.playback("tone_stream://%(10000,0,500)")
        except CallHangup as exc:
            seen["cause"] = exc.cause
        try:
            call.playback("tone_stream://%(500,0,800)")
        except CallHangup:
            seen["later"] = True
        seen["api"] = call.api("uuid_exists " + call.uuid)  # clean-up still possible (linger)
        call.hangup()  # a no-op now

    srv = server(handler)
    switch = ReplaySwitch(load_steps(captures_dir / MID))
    run_call(srv, switch)
    assert seen == {"cause": "NORMAL_CLEARING", "later": True, "api": "+OK\n"}
    assert [c.split("\n")[0] for c in switch.received][-2:] == ["api uuid_exists " + switch.uuid, "exit"]
    assert sum(c.startswith("sendmsg") for c in switch.received) == 2  # nothing sent after hangup


def test_not_full_socket_errors_and_unknown_app(server, captures_dir):
    steps = load_steps(captures_dir / ERRORS, "outbound")
    seen = {}

    def handler(call):
        if call.destination == "7001" and "first" not in seen:
            seen["first"] = True
            seen["control"] = call.full_control
            call.answer()
            seen["missing"] = call.playback("/tmp/does_not_exist.wav")
            call.hangup()
            try:
                call.answer()
            except CallHangup:
                seen["after_hangup"] = True
        else:
            try:
                call.execute("no_such_app", "foo", timeout=10)
            except CallHangup as exc:
                seen["unknown_app"] = str(exc)

    srv = server(handler)
    run_call(srv, ReplaySwitch(steps))
    run_call(srv, ReplaySwitch(load_steps(captures_dir / ERRORS, "outbound#2")))
    assert seen["control"] is False
    assert seen["missing"] == "FILE NOT FOUND"
    assert seen["after_hangup"]
    assert "hung up" in seen["unknown_app"]


def test_deadline_breaks_the_app_and_the_call_goes_on(server, captures_dir):
    seen = {}

    def handler(call):
        call.answer()
        with pytest.raises(CommandTimeout) as info:
            call.playback("tone_stream://%(500,0,800)", timeout=0.3)
        seen["timeout"] = info.value
        seen["pgd"] = call.play_and_get_digits(1, 6, 3, 4000, "#", "tone_stream://%(200,0,600)",
                                               "tone_stream://%(200,0,300)", regex="\\d+",
                                               digit_timeout_ms=2000, var="digits_var")

    srv = server(handler)
    switch = ReplaySwitch(load_steps(captures_dir / FULL), hold="playback")
    run_call(srv, switch)
    assert seen["timeout"].stopped is True and "playback" in str(seen["timeout"])
    assert f"api uuid_break {CAPTURE_UUID} all\n\n" in switch.received
    assert seen["pgd"] == "12345"


def dtmf_hook(digits, after_app="answer"):
    def hook(switch, command):
        if f"execute-app-name: {after_app}" in command and not switch.hung_up:
            switch.hooks.remove(hook)
            extra = [plain_event("DTMF", switch.uuid, DTMF_Digit=d) for d in digits]
            return None if not extra else _chain(switch, command, extra)
        return None
    return hook


def _chain(switch, command, extra):
    # let the transcript answer the command, then add the caller's key presses
    out = []
    original = switch._send
    switch._send = lambda sock, chunks: out.extend(chunks)
    try:
        switch._answer(None, command)
    finally:
        switch._send = original
    return out + extra


def test_typeahead_answers_the_next_collect(server, captures_dir):
    seen = {}

    def handler(call):
        call.answer()
        seen["pgd"] = call.play_and_get_digits(1, 4, 3, 4000, "#", "tone_stream://%(200,0,600)")

    srv = server(handler)
    switch = ReplaySwitch(load_steps(captures_dir / FULL), hooks=[])
    switch.hooks.append(dtmf_hook("42#"))
    run_call(srv, switch)
    assert seen["pgd"] == "42"
    assert not any("play_and_get_digits" in c for c in switch.received)  # answered locally


def test_typeahead_prefixes_a_running_collect_and_can_be_flushed(server, captures_dir):
    seen = {}

    def handler(call):
        call.answer()
        seen["playback"] = call.playback("tone_stream://%(500,0,800)")
        seen["buffer"] = call.typeahead
        seen["pgd"] = call.play_and_get_digits(1, 6, 3, 4000, "#", "tone_stream://%(200,0,600)",
                                               "tone_stream://%(200,0,300)", var="digits_var")

    srv = server(handler)
    switch = ReplaySwitch(load_steps(captures_dir / FULL), hooks=[])
    switch.hooks.append(dtmf_hook("9", after_app="playback"))
    run_call(srv, switch)
    assert seen["buffer"] == "9"
    assert seen["pgd"] == "912345"
    pgd = next(c for c in switch.received if "play_and_get_digits" in c)
    assert app_arg(pgd).startswith("0 5 1 4000 #")  # asks only for the rest

    flushed = {}

    def flusher(call):
        call.answer()
        call.playback("tone_stream://%(500,0,800)")
        flushed["dropped"] = call.flush_typeahead()
        flushed["pgd"] = call.play_and_get_digits(1, 6, 3, 4000, "#", "tone_stream://%(200,0,600)",
                                                  "tone_stream://%(200,0,300)", var="digits_var")

    srv2 = server(flusher)
    switch2 = ReplaySwitch(load_steps(captures_dir / FULL), hooks=[])
    switch2.hooks.append(dtmf_hook("9", after_app="playback"))
    run_call(srv2, switch2)
    assert flushed == {"dropped": "9", "pgd": "12345"}


def test_digits_during_a_collect_are_not_typeahead(server, captures_dir):
    seen = {}

    def handler(call):
        call.answer()
        call.playback("tone_stream://%(500,0,800)")
        call.play_and_get_digits(1, 6, 3, 4000, "#", "tone_stream://%(200,0,600)",
                                 "tone_stream://%(200,0,300)", var="digits_var")
        seen["typeahead"] = call.typeahead  # the six DTMF events belonged to the collect

    srv = server(handler)
    run_call(srv, ReplaySwitch(load_steps(captures_dir / FULL)))
    assert seen == {"typeahead": ""}


@pytest.mark.parametrize("mode", ["after", "mid"])
def test_hangup_at_each_point(server, captures_dir, mode):
    steps = load_steps(captures_dir / FULL)
    outcomes = {}

    def handler(call):
        try:
            full_session(call, {})
            outcomes[call.variables["_k"]] = "completed"
        except CallHangup:
            outcomes[call.variables["_k"]] = "hangup"
            call.hangup()
            raise

    srv = server(handler)
    for k in range(4, len(steps) + 1):  # steps 1-3 are connect/myevents/linger (the subscription)
        kw = {"hangup_after": k} if mode == "after" else {"hangup_mid": k}
        switch = ReplaySwitch(steps, **kw)
        orig = srv.handler

        def tagged(call, k=k, orig=orig):
            call.variables["_k"] = k
            return orig(call)

        srv.handler = tagged
        run_call(srv, switch)
        srv.handler = orig
        assert switch.received[-1] == "exit\n\n", (mode, k)
    assert set(outcomes) == set(range(4, len(steps) + 1))
    assert all(v == "hangup" for v in outcomes.values()), outcomes


def test_port_probe_and_capacity(server, captures_dir):
    from gevent import socket
    calls = []
    srv = server(lambda call: calls.append(call.uuid))
    probe = socket.create_connection(("127.0.0.1", srv.port))
    probe.close()
    gevent.sleep(0.05)
    run_call(srv, ReplaySwitch(load_steps(captures_dir / MID)))
    assert calls == ["819ec8e7-7573-480a-a6e3-3261feac57be"]

    blocked = gevent.event.Event()
    srv2 = server(lambda call: blocked.wait(5), max_calls=1)
    first = ReplaySwitch(load_steps(captures_dir / MID))
    g1 = first.dial(srv2.port)
    gevent.sleep(0.2)
    def complete_set(sw, command):   # what FreeSWITCH answers to the hand-back's `set`
        if "execute-app-name: set" not in command:
            return None
        app_uuid = re.search(r"(?m)^Event-UUID: (\S+)$", command).group(1)
        return [b"Content-Type: command/reply\nReply-Text: +OK\n\n",
                plain_event("CHANNEL_EXECUTE_COMPLETE", sw.uuid, Application="set",
                            Application_Response="_none_", Application_UUID=app_uuid)]

    second = ReplaySwitch(load_steps(captures_dir / MID), hooks=[complete_set])
    second.dial(srv2.port).join(5)
    # over max_calls the call is handed back to the dialplan (OutboundServer._hand_back):
    # a `set` run inside the socket application's park, then exit (not a bare close,
    # which strands the caller on a real switch: capture outbound_refused_close)
    assert srv2.refused_calls == 1
    assert first_lines(second.received)[:3] == SETUP, second.received
    assert any("execute-app-name: set" in c and "fsapp_refused=max_calls" in c for c in second.received), \
        second.received
    assert second.received[-1] == "exit\n\n"
    blocked.set()
    g1.join(5)


def test_every_log_line_of_a_call_carries_its_uuid(server, captures_dir):
    records = []

    class Collect(logging.Handler):
        def emit(self, record):
            records.append(record)

    handler_ = Collect(level=logging.DEBUG)
    handler_.addFilter(_CallUuidFilter())
    root = logging.getLogger("fsapp")
    old_level = root.level
    root.addHandler(handler_)
    root.setLevel(logging.DEBUG)
    try:
        srv = server(lambda call: full_session(call, {}))
        run_call(srv, ReplaySwitch(load_steps(captures_dir / FULL)))
    finally:
        root.removeHandler(handler_)
        root.setLevel(old_level)
    call_lines = [r for r in records if r.name.startswith("fsapp.esl") and "listening" not in r.getMessage()]
    assert len(call_lines) >= 10
    assert {r.call_uuid for r in call_lines} == {CAPTURE_UUID}, [
        (r.getMessage(), r.call_uuid) for r in call_lines if r.call_uuid != CAPTURE_UUID]


def test_completion_is_matched_by_application_uuid_not_name(server, captures_dir):
    """A CHANNEL_EXECUTE_COMPLETE of the same application with another Application-UUID
    (what greenswitch would take) must not complete the waiting command."""
    seen = {}

    def complete_with_decoy(switch, command):
        if "execute-app-name: send_dtmf" not in command or "execute-app-arg: 12#" not in command:
            if "execute-app-name: send_dtmf" in command:  # the second one: completes at once
                app_id = re.search(r"Event-UUID: (\S+)", command).group(1)
                return [b"Content-Type: command/reply\nReply-Text: +OK\n\n", plain_event(
                    "CHANNEL_EXECUTE_COMPLETE", switch.uuid, Application_UUID=app_id,
                    Application_Response="_none_")]
            return None
        app_id = re.search(r"Event-UUID: (\S+)", command).group(1)
        decoy = plain_event("CHANNEL_EXECUTE_COMPLETE", switch.uuid, Application="send_dtmf",
                            Application_UUID="11111111-2222-3333-4444-555555555555",
                            Application_Response="DECOY", variable_current_application="send_dtmf")
        real = plain_event("CHANNEL_EXECUTE_COMPLETE", switch.uuid, Application="send_dtmf",
                           Application_UUID=app_id, Application_Response="_none_",
                           variable_current_application="send_dtmf")
        out = [b"Content-Type: command/reply\nReply-Text: +OK\n\n", decoy]
        gevent.spawn_later(0.2, lambda: switch.sock.sendall(real))
        return out

    def handler(call):
        call.answer()
        started = time.monotonic()
        call.send_dtmf("12#")
        seen["waited"] = time.monotonic() - started
        seen["response"] = call.execute("send_dtmf", "3").get("Application-Response")

    srv = server(handler)
    switch = ReplaySwitch(load_steps(captures_dir / MID), hooks=[complete_with_decoy])
    run_call(srv, switch)
    assert seen["response"] == "_none_" and seen["waited"] >= 0.15
    assert any("execute-app-name: send_dtmf\nexecute-app-arg: 12#" in c for c in switch.received)

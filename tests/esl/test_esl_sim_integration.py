"""The Call API and the inbound client over real TCP against the emulator (fsapp.sim)."""
import itertools

import gevent
import pytest

from fsapp.esl import CallHangup, CommandTimeout, InboundClient, OriginateError, OutboundServer
from fsapp.sim import Apps, CallerScript, Echo, Hangup, Press, Silence, Socket, Speak, Switch, Wait, WaitPrompt

TONE = "tone_stream://%(100,0,800)"
MENU = "tone_stream://%(200,0,600)"
BAD = "tone_stream://%(100,0,300)"
_numbers = itertools.count(20000)


@pytest.fixture(scope="module")
def rig():
    srv = OutboundServer(lambda call: None, "127.0.0.1:0", command_timeout=5, app_timeout=20).start()
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    sw.dialplan.add(r"^7100$", Echo())
    sw.dialplan.add(r"^7300$", Apps(steps=[("answer", ""), ("playback", TONE), ("hangup", "")]))
    yield sw, srv
    sw.stop()
    srv.stop(timeout=2)


def place(rig, handler, steps, caller_id="13800138000", timeout=30):
    sw, srv = rig
    number = str(next(_numbers))
    sw.dialplan.add(rf"^{number}$", Socket(f"127.0.0.1:{srv.port} async full"))
    srv.handler = handler
    report = sw.place_call(CallerScript(dial=number, caller_id=caller_id, steps=steps)).wait(timeout)
    with gevent.Timeout(10):
        while srv.active_calls:
            gevent.sleep(0.02)
    return report


def test_every_call_method(rig, tmp_path):
    recording = str(tmp_path / "rec.wav")
    seen = {}

    def handler(call):
        seen["caller"], seen["dest"] = call.caller_id, call.destination
        call.pre_answer()
        call.answer()
        seen["playback"] = call.playback([TONE, TONE])
        seen["pgd"] = call.play_and_get_digits(1, 4, 3, 3000, "#", MENU, BAD)
        seen["read"] = call.read(1, 3, MENU, 3000, "#")
        call.set("fsapp_test", "yes")
        seen["get"] = call.get("fsapp_test")
        call.export("fsapp_exported", "1")
        call.unset("fsapp_test")
        seen["unset"] = call.get("fsapp_test")
        call.say("en", "number", "pronounced", 12)
        call.sleep(100)
        seen["record"] = call.record(recording, 2, 200, 3)
        seen["bridge"] = call.bridge("loopback/7300")
        seen["exists"] = call.api(f"uuid_exists {call.uuid}")
        seen["execute"] = call.execute("log", "INFO fsapp").get("Application")
        call.hangup()

    report = place(rig, handler, [WaitPrompt("600"), Press("42#"), WaitPrompt("600"), Press("7#"),
                                  Speak(0.5)])
    assert seen["caller"] == "13800138000"
    assert seen["playback"] == "FILE PLAYED"
    assert seen["pgd"] == "42" and seen["read"] == "7"
    assert seen["get"] == "yes" and seen["unset"] is None
    assert seen["record"].path == recording
    assert seen["bridge"].ok, seen["bridge"]
    assert seen["exists"].strip() == "true"
    assert seen["execute"] == "log"
    assert report.hangup_cause == "NORMAL_CLEARING"


def test_send_dtmf(rig):
    def handler(call):
        call.answer()
        call.send_dtmf("9")
        call.hangup()

    report = place(rig, handler, [])
    assert "9" in report.received_dtmf


def test_transfer_ends_the_session(rig):
    seen = {}

    def handler(call):
        call.answer()
        call.transfer("7100", "XML", "default")
        try:
            call.playback(TONE)
        except CallHangup:
            seen["after"] = "CallHangup"

    place(rig, handler, [Wait(0.5), Hangup()])
    assert seen == {"after": "CallHangup"}


@pytest.mark.parametrize("at", [0.05, 0.15, 0.3, 0.5, 0.8])
def test_caller_hangs_up_at_any_point(rig, at):
    seen = {"cleanup": False}

    def handler(call):
        try:
            call.answer()
            call.playback([TONE, TONE])
            call.play_and_get_digits(1, 4, 1, 2000, "#", MENU, BAD)
            call.sleep(2000)
            seen["completed"] = True
        except CallHangup as exc:
            seen["cause"] = exc.cause
            seen["cleanup"] = True
            with pytest.raises(CallHangup):
                call.playback(TONE)

    place(rig, handler, [Hangup(at=at)])
    assert seen["cleanup"] and "completed" not in seen
    assert rig[1].active_calls == 0


def test_deadline_stops_the_app_on_the_switch(rig):
    seen = {}

    def handler(call):
        call.answer()
        try:
            call.playback("tone_stream://%(20000,0,500)", timeout=0.3)
        except CommandTimeout as exc:
            seen["stopped"] = exc.stopped
        seen["next"] = call.playback(TONE)  # not stuck behind the broken app
        call.hangup()

    report = place(rig, handler, [])
    assert seen == {"stopped": True, "next": "FILE PLAYED"}
    assert report.hangup_cause == "NORMAL_CLEARING"


def test_typeahead_from_the_switch(rig):
    seen = {}

    def handler(call):
        call.answer()
        call.sleep(600)  # the caller types ahead while nothing collects
        seen["buffered"] = call.typeahead
        seen["pgd"] = call.play_and_get_digits(1, 4, 1, 2000, "#", MENU, BAD)
        call.hangup()

    place(rig, handler, [Wait(0.2), Press("3#")])
    assert seen == {"buffered": "3#", "pgd": "3"}


def test_applications_sent_without_waiting_run_in_order_and_keep_their_keys(rig):
    """playback(wait=False) then a question: the question starts when the prompt ends, and
    a key pressed during the prompt is the prompt's (FreeSWITCH's playback takes it), not
    type-ahead; a goodbye prompt queued before hangup() is heard whole, and the socket stays
    until the switch has hung up (capture outbound_pipelined_goodbye)."""
    seen = {}
    goodbye = "tone_stream://%(300,0,400)"

    def handler(call):
        call.answer(wait=False)
        call.playback(TONE, wait=False)
        seen["queued"] = call.queued
        seen["pgd"] = call.play_and_get_digits(1, 1, 1, 2000, "#", MENU, BAD)
        seen["typeahead"] = call.typeahead
        call.playback(goodbye, wait=False)
        call.hangup()
        seen["ended"] = call.session.ended

    report = place(rig, handler, [Wait(0.05), Press("5"), WaitPrompt(MENU, after="start"), Press("1"),
                                  WaitPrompt(goodbye)])
    assert seen == {"queued": True, "pgd": "1", "typeahead": "", "ended": "hung up by the application"}
    assert report.error is None and report.heard[-1] == goodbye, (report.error, report.heard)
    # the hangup waited behind the goodbye (300 ms of emulated media), it did not cut it
    started = next(t for t, what, detail in report.timeline if what == "prompt" and detail == goodbye)
    hung_up = next(t for t, what, _ in report.timeline if what == "hangup")
    assert hung_up - started >= 0.29, report.timeline


def test_typeahead_before_a_queued_prompt_still_answers(rig):
    """Keys buffered before the prompt was queued are type-ahead as ever."""
    seen = {}

    def handler(call):
        call.answer()
        call.sleep(600)
        call.playback(TONE, wait=False)
        seen["pgd"] = call.play_and_get_digits(1, 4, 1, 2000, "#", MENU, BAD)
        call.hangup()

    place(rig, handler, [Wait(0.2), Press("3#")])
    assert seen == {"pgd": "3"}


def test_the_key_that_ends_a_recording_is_not_typeahead(rig, tmp_path):
    seen = {}

    def handler(call):
        call.answer()
        call.set("playback_terminators", "#")
        seen["rec"] = call.record(str(tmp_path / "msg.wav"), 10)
        seen["buffered"] = call.typeahead
        seen["pgd"] = call.play_and_get_digits(1, 1, 1, 1500, "#", MENU, BAD)
        call.hangup()

    place(rig, handler, [Wait(0.3), Speak(0.5), Press("#"), Wait(0.1), Press("2")])
    assert seen["buffered"] == "" and seen["pgd"] == "2"


def test_inbound_client_against_the_switch_and_reconnect(rig):
    sw, _ = rig
    other = Switch(password="ClueCon", esl=("127.0.0.1", 0)).start()
    port = other.esl_port
    client = InboundClient("127.0.0.1", port, "ClueCon", reconnect_base_delay=0.05,
                           reconnect_max_delay=0.2).start()
    try:
        assert client.api("status").startswith("UP")
        other.dialplan.add(r"^7100$", Echo())
        hangups = []
        client.subscribe("CHANNEL_HANGUP")
        client.on("CHANNEL_HANGUP", lambda ev: hangups.append(ev.get("Unique-ID")))
        uuid = client.originate("loopback/7100/default", "&park", timeout=5)
        assert client.uuid_exists(uuid)
        client.uuid_kill(uuid)
        with gevent.Timeout(5):
            while uuid not in hangups:
                gevent.sleep(0.02)
        with pytest.raises(OriginateError) as info:
            client.originate("user/nobody", "&park", timeout=2)
        assert info.value.cause
        other.stop()
        with gevent.Timeout(5):
            while client.connected:
                gevent.sleep(0.02)
        other = Switch(password="ClueCon", esl=("127.0.0.1", port)).start()
        assert client.wait_connected(10) and client.connects == 2
        assert client.api("status").startswith("UP")
    finally:
        client.stop()
        other.stop()


def test_json_event_format(rig):
    sw, _ = rig
    srv = OutboundServer(lambda call: None, "127.0.0.1:0", command_timeout=5, app_timeout=20,
                         event_format="json").start()
    seen = {}

    def handler(call):
        call.answer()
        seen["playback"] = call.playback(TONE)
        seen["digits"] = call.play_and_get_digits(1, 2, 1, 3000, "#", MENU, BAD)
        call.hangup()

    try:
        number = str(next(_numbers))
        sw.dialplan.add(rf"^{number}$", Socket(f"127.0.0.1:{srv.port} async full"))
        srv.handler = handler
        sw.place_call(CallerScript(dial=number, steps=[WaitPrompt("600"), Press("5#")])).wait(30)
    finally:
        srv.stop(timeout=2)
    assert seen == {"playback": "FILE PLAYED", "digits": "5"}


def test_record_terminators_each_key_one_set_per_call(rig, tmp_path):
    """record_with_audio: the record application stops on `*` only unless
    playback_terminators says otherwise. Call.record(terminators="#") sets it once per
    call; `5` and `*` are taken by the recording (neither ends it nor becomes type-ahead),
    `#` ends it; a second record with the same keys sends no second `set`."""
    seen, sent = {}, []

    def handler(call):
        execute = call.execute

        def spy(app, args=None, timeout=None):
            sent.append((app, args))
            return execute(app, args, timeout)

        call.execute = spy
        call.answer()
        call.playback(TONE)
        seen["a"] = call.record(str(tmp_path / "a.wav"), 10, 200, 2)
        seen["typeahead"] = call.typeahead
        call.playback(TONE)
        seen["b"] = call.record(str(tmp_path / "b.wav"), 10, 200, 1)
        call.hangup()

    # Wait(0.3): people start talking a moment after the beep (and the record command's
    # round trip stays out of the measured speech on a busy machine)
    place(rig, handler, [WaitPrompt("800"), Wait(0.3), Speak(1.0), Press("5"), Press("*"), Speak(0.5), Press("#"),
                         WaitPrompt("800"), Wait(0.3), Speak(1.0), Silence(3.0)])
    a, b = seen["a"], seen["b"]
    assert a.terminator == "#" and not a.silence_hits_exhausted
    assert 1.2 <= a.duration_s <= 1.6, a.duration_s        # 1.5 s of speech, heard 0.12 s late
    assert a.event["variable_playback_terminator_used"] == "#"
    assert seen["typeahead"] == ""
    assert b.terminator is None and b.silence_hits_exhausted     # silence ended it
    assert b.event["variable_playback_terminator_used"] == "#"   # left over from the first
    assert 1.8 <= b.duration_s <= 2.3, b.duration_s        # 1 s speech + 1 s silence (hits 1)
    assert [s for s in sent if s[0] == "set"] == [("set", "playback_terminators=#")]


def test_record_terminator_words_and_bad_keys(rig, tmp_path):
    seen = {}

    def handler(call):
        call.answer()
        with pytest.raises(ValueError, match="bad: x"):
            call.record(str(tmp_path / "x.wav"), 5, terminators="#x")
        seen["none"] = call.record(str(tmp_path / "n.wav"), 2, 200, 5, terminators="")
        seen["any"] = call.record(str(tmp_path / "y.wav"), 10, 200, 5, terminators="any")
        call.hangup()

    place(rig, handler, [Wait(0.2), Speak(0.5), Press("*#"), Speak(1.8), Press("7")])
    assert seen["none"].terminator is None and seen["none"].event["variable_playback_terminators"] == "none"
    assert seen["any"].terminator == "7"


def test_other_channels_events_never_reach_a_call():
    """A socket subscribed to every channel's events (no `myevents`) also gets other
    calls' DTMF and hangups: they must not become this call's type-ahead or end it."""
    from fsapp.esl.call import Call
    from fsapp.esl.wire import Parser

    def event(**headers):
        body = "".join(f"{k.replace('_', '-')}: {v}\n" for k, v in headers.items()) + "\n"
        return Parser().feed(f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n{body}".encode())[0]

    call = Call(conn=None, channel_data={"Unique-ID": "mine"})
    call._on_message(event(Event_Name="DTMF", Unique_ID="other", DTMF_Digit="5"))
    call._on_message(event(Event_Name="CHANNEL_HANGUP", Unique_ID="other", Hangup_Cause="NORMAL_CLEARING"))
    assert call.typeahead == "" and not call.ended
    call._on_message(event(Event_Name="DTMF", Unique_ID="mine", DTMF_Digit="7"))
    assert call.typeahead == "7"

"""Applications and APIs against a scripted caller, through a raw outbound socket."""
import math
import struct
import wave

import gevent
import pytest

from fsapp.sim import CallerScript, Hangup, Press, Socket, Speak, Wait, WaitPrompt
from fsapp.sim import media
from fsapp.sim.apps.dptools import LOOPBACK_MEDIA_DELAY_S


def run_call(switch, outbound, script, app, timeout=30, hangup=True):
    """Route 7000 to the raw socket, run `app(conn, results)` against the call."""
    switch.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{outbound.port} async full"))
    results = {}

    def handler():
        o = outbound.accept()
        results["uuid"] = o.cmd("connect").h["Unique-ID"]
        o.cmd("myevents")
        o.cmd("linger")
        o.execute("answer")
        app(o, results)
        results["done"] = True
        if hangup:
            o.cmd("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")
            o.close()

    g = gevent.spawn(handler)
    report = switch.place_call(script).wait(timeout=timeout)
    g.join(timeout=10)
    if not g.successful():
        raise g.exception
    return report, results


def test_media_durations(prompt_wav):
    assert media.media_seconds(prompt_wav) == pytest.approx(0.4)
    assert media.tone_seconds("tone_stream://%(500,0,800)") == pytest.approx(0.5)
    assert media.tone_seconds("tone_stream://%(200,100,440);%(300,0,480)") == pytest.approx(0.6)
    assert media.tone_seconds("tone_stream://%(100,100,440);loops=3") == pytest.approx(0.6)
    assert media.tone_seconds("tone_stream://%(2000,4000,440,480);loops=-1") == math.inf
    assert media.media_seconds("silence_stream://250") == pytest.approx(0.25)
    assert media.media_seconds("/nonexistent/file.wav") is None
    # music on hold: the vanilla streams play until broken, an unknown stream is missing
    assert media.media_seconds("local_stream://moh") == math.inf
    assert media.media_seconds("local_stream://no_such_stream") is None


def test_pagd_invalid_then_valid_and_regex(switch, outbound, prompt_wav):
    def app(o, r):
        r["first"] = o.execute("play_and_get_digits",
                               f"2 4 3 800 # {prompt_wav} tone_stream://%(100,0,300) choice ^1 300")
        r["no_input"] = o.execute("play_and_get_digits", f"1 1 2 300 # {prompt_wav} silence_stream://50 nothing")
        r["read"] = o.execute("read", f"1 3 {prompt_wav} rv 500 #")

    steps = [WaitPrompt("main_menu"), Press("23#"),                  # regex ^1 fails -> invalid prompt
             WaitPrompt("tone_stream://%(100,0,300)"), WaitPrompt("main_menu", after="start"), Press("15#"),
             WaitPrompt("main_menu"), WaitPrompt("main_menu"), WaitPrompt("main_menu"),
             Press("7")]
    report, r = run_call(switch, outbound, CallerScript(dial="7000", steps=steps), app)
    first = r["first"]
    assert first["variable_choice"] == "15" and first["variable_choice_invalid"] == "23"
    assert first["variable_read_result"] == "success" and first["variable_read_terminator_used"] == "#"
    no_input = r["no_input"]
    assert "variable_nothing" not in no_input and no_input["variable_read_result"] == "failure"
    assert r["read"]["variable_rv"] == "7" and r["read"]["variable_read_result"] == "timeout"
    assert report.heard.count("silence_stream://50") == 2   # invalid prompt after each failed try


def test_pagd_a_terminator_during_the_prompt_and_the_target_cleared_first(switch, outbound, prompt_wav):
    """switch_ivr_read: the key that stops the prompt is the entry's first key, so a # there
    ends the entry empty; the target variable is cleared when a read starts, so a failed
    read never shows the previous answer."""
    def app(o, r):
        r["first"] = o.execute("play_and_get_digits", f"1 4 1 2000 # {prompt_wav} silence_stream://50 same \\d+")
        r["second"] = o.execute("play_and_get_digits", f"1 4 1 300 # {prompt_wav} silence_stream://50 same \\d+")
        r["hash"] = o.execute("play_and_get_digits", f"1 4 1 2000 # {prompt_wav} silence_stream://50 h \\d+")

    steps = [WaitPrompt("main_menu", after="start"), Press("12#"), WaitPrompt("main_menu"),
             WaitPrompt("main_menu", after="start"), Press("#")]
    _, r = run_call(switch, outbound, CallerScript(dial="7000", steps=steps), app)
    assert r["first"]["variable_same"] == "12" and r["first"]["variable_read_result"] == "success"
    assert "variable_same" not in r["second"] and r["second"]["variable_read_result"] == "failure"
    assert "variable_h" not in r["hash"] and r["hash"]["variable_read_result"] == "failure"
    assert r["hash"]["variable_read_terminator_used"] == "#"


def test_record_limit_terminator_and_caller_audio(switch, outbound, tmp_path):
    paths = [str(tmp_path / n) for n in ("limit.wav", "term.wav")]

    def app(o, r):
        r["limit"] = o.execute("record", f"{paths[0]} 1")
        r["term"] = o.execute("record", f"{paths[1]} 20 200 5")

    steps = [Speak(3.0), Speak(0.5), Press("*")]
    report, r = run_call(switch, outbound, CallerScript(dial="7000", steps=steps), app)
    # The limit caps the file at 1 s; the caller's speech crosses the loopback pair
    # LOOPBACK_MEDIA_DELAY_S late, so the first frames of the window carry no media yet.
    assert 1000 - LOOPBACK_MEDIA_DELAY_S * 1000 - 40 <= int(r["limit"]["variable_record_ms"]) <= 1000
    assert "variable_silence_hits_exhausted" not in r["limit"]
    with wave.open(paths[0]) as w:
        frames = w.readframes(w.getnframes())
    assert max(abs(v) for v in struct.unpack(f"<{len(frames)//2}h", frames)) > 1000  # voiced
    assert 1.0 <= int(r["term"]["variable_record_ms"]) / 1000 <= 3.0
    assert report.recordings == paths


def test_record_keys_as_captured(switch, outbound, tmp_path):
    """record_with_audio: with playback_terminators unset only `*` ends a recording (`#`
    and other keys are taken and ignored, a DTMF event each); after
    `set playback_terminators=#`, `#` ends it and is playback_terminator_used;
    silence_hits_exhausted is `false` when something other than silence ended it."""
    beep = "tone_stream://%(100,0,800)"
    paths = [str(tmp_path / n) for n in ("hash.wav", "star.wav", "set.wav")]

    def app(o, r):
        o.execute("playback", beep)
        r["hash"] = o.execute("record", f"{paths[0]} 10 200 1")
        o.execute("playback", beep)
        r["star"] = o.execute("record", f"{paths[1]} 10 200 3")
        o.execute("set", "playback_terminators=#")
        o.execute("playback", beep)
        r["set"] = o.execute("record", f"{paths[2]} 10 200 3")

    steps = [WaitPrompt("800"), Wait(0.2), Speak(0.6), Press("#"), Press("5"), Speak(0.4),
             WaitPrompt("800"), Wait(0.2), Speak(0.6), Press("#"), Speak(0.4), Press("*"),
             WaitPrompt("800"), Wait(0.2), Speak(0.6), Press("*"), Speak(0.4), Press("#")]
    report, r = run_call(switch, outbound, CallerScript(dial="7000", steps=steps), app)
    hash_, star, set_ = r["hash"], r["star"], r["set"]
    assert hash_["variable_silence_hits_exhausted"] == "true"       # `#` and `5` went on
    assert "variable_playback_terminator_used" not in hash_
    assert 900 <= int(hash_["variable_record_ms"]) <= 1100          # all of the speech
    assert star["variable_silence_hits_exhausted"] == "false"
    assert star["variable_playback_terminator_used"] == "*"
    assert set_["variable_silence_hits_exhausted"] == "false"
    assert set_["variable_playback_terminator_used"] == "#"         # `*` no longer ends it
    assert 800 <= int(set_["variable_record_ms"]) <= 1000
    for ev in (hash_, star, set_):
        samples = int(ev["variable_record_samples"])
        assert samples % 160 == 0 and int(ev["variable_record_file_size"]) == 44 + 2 * samples


def test_say_set_export_unset_sleep_and_vars(switch, outbound):
    def app(o, r):
        r["say"] = o.execute("say", "en number pronounced 1234")
        o.execute("set", "foo=bar")
        r["export"] = o.execute("export", "x=y")
        o.execute("unset", "foo")
        r["sleep"] = o.execute("sleep", "200")
        r["getvar"] = o.cmd(f"api uuid_getvar {r['uuid']} x").body
        o.execute("hangup", "USER_BUSY")

    report, r = run_call(switch, outbound, CallerScript(dial="7000"), app)
    assert r["say"]["variable_sound_prefix"].endswith("/sounds/en/us/callie")
    assert r["export"]["variable_export_vars"] == "x" and r["export"]["variable_foo"] == "bar"
    assert "variable_foo" not in r["sleep"]
    assert r["getvar"] == "y"
    # no sound files: like FreeSWITCH, nothing is played (was a 0.5 s "say:..." stand-in)
    assert report.heard == []
    assert report.hangup_cause == "USER_BUSY"


def test_playback_missing_file_break_and_hangup_mid_playback(switch, outbound, inbound):
    def app(o, r):
        r["missing"] = o.execute("playback", "/tmp/does_not_exist.wav")
        gevent.spawn_later(0.3, inbound.cmd, f"api uuid_break {r['uuid']}")
        r["broken"] = o.execute("playback", "tone_stream://%(10000,0,500)")
        gevent.spawn_later(0.3, inbound.cmd, f"api uuid_kill {r['uuid']}")
        r["killed"] = o.execute("playback", "tone_stream://%(10000,0,500)")
        r["after"] = o.cmd("sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: x.wav")

    report, r = run_call(switch, outbound, CallerScript(dial="7000"), app)
    assert r["missing"]["Application-Response"] == "FILE NOT FOUND"
    assert r["broken"]["Application-Response"] == "FILE PLAYED"
    assert int(r["broken"]["variable_playback_ms"]) < 5000
    assert r["killed"]["Application-Response"] == "PLAYBACK ERROR"
    assert r["after"].h["Reply-Text"] == "+OK"       # observation 29
    assert report.hangup_cause == "NORMAL_CLEARING"


def test_digits_while_idle_are_eaten_with_dtmf_events(switch, outbound, prompt_wav):
    def app(o, r):
        r["dtmf"] = [o.wait_event("DTMF").event["DTMF-Digit"] for _ in range(2)]
        r["pagd"] = o.execute("play_and_get_digits", f"1 2 1 300 # {prompt_wav}")

    report, r = run_call(switch, outbound, CallerScript(dial="7000", steps=[Wait(0.3), Press("59")]), app)
    assert r["dtmf"] == ["5", "9"]
    assert "variable_pagd_input" not in r["pagd"]


def test_transfer_and_uuid_transfer_reroute(switch, outbound, inbound, prompt_wav):
    from fsapp.sim import Apps
    switch.dialplan.add(r"^8100$", Apps([("answer", ""), ("playback", prompt_wav), ("hangup", "CALL_REJECTED")]))

    def app(o, r):
        o.execute("transfer", "8100 XML default", timeout=5)

    report, r = run_call(switch, outbound, CallerScript(dial="7000"), app, hangup=False)
    assert report.heard == [prompt_wav] and report.hangup_cause == "CALL_REJECTED"


def test_uuid_bridge_joins_two_calls_and_send_dtmf(switch, inbound):
    from fsapp.sim import Park
    switch.dialplan.add(r"^1$", Park())
    c1 = switch.place_call(CallerScript(dial="1", steps=[Wait(1.0), Hangup()]))
    c2 = switch.place_call(CallerScript(dial="1"))
    gevent.sleep(0.2)
    u1, u2 = c1.report.uuid, c2.report.uuid
    # record_with_audio: `+OK <uuid> sent DTMF <digits>.` (was `+OK Success`)
    assert inbound.cmd(f"api uuid_send_dtmf {u1} 42").body == f"+OK {u1} sent DTMF 42.\n"
    assert inbound.cmd(f"api uuid_bridge {u1} {u2}").body == f"+OK {u2}\n"
    r1, r2 = c1.wait(10), c2.wait(10)
    assert r1.received_dtmf == ["42"]
    assert r1.hangup_cause == r2.hangup_cause == "NORMAL_CLEARING"
    assert inbound.cmd(f"api uuid_bridge {u1} {u2}").body == "-ERR Invalid uuid\n"


def test_show_channels_plain_status_and_errors(switch, inbound):
    from fsapp.sim import Park
    assert inbound.cmd("api show channels").body == "\n0 total.\n"
    switch.dialplan.add(r"^1$", Park())
    c = switch.place_call(CallerScript(dial="1", steps=[Wait(60), Hangup()]))
    with gevent.Timeout(60, AssertionError("the call never showed up")):
        while inbound.cmd("api show channels").body.endswith("\n0 total.\n"):
            gevent.sleep(0.01)
    body = inbound.cmd("api show channels").body
    assert body.startswith("uuid,direction,created,") and body.endswith("\n\n2 total.\n")
    assert "1 session(s) - peak" not in inbound.cmd("api status").body
    assert inbound.cmd("api uuid_kill 00000000-0000-0000-0000-000000000000").body == "-ERR No such channel!\n"
    assert inbound.cmd("sendmsg 00000000-0000-0000-0000-000000000000\ncall-command: hangup").h["Reply-Text"] \
        .startswith("-ERR invalid session id")
    assert inbound.cmd(f"api uuid_kill {c.report.uuid}").body == "+OK\n"
    c.wait(60)


def test_caller_wait_prompt_timeout_is_reported(switch):
    from fsapp.sim import Park
    switch.dialplan.add(r"^1$", Park())
    report = switch.place_call(CallerScript(dial="1", steps=[WaitPrompt("never", timeout=0.3)])).wait(10)
    assert "WaitPrompt('never') not heard within 0.3 s" in report.error
    assert report.hung_up_by == "caller"


def test_bad_scripts_are_rejected_with_clear_errors():
    with pytest.raises(ValueError, match="digits must be"):
        Press("12x")
    with pytest.raises(TypeError, match="step 1"):
        CallerScript(dial="1", steps=[Wait(1), "press 1"])
    with pytest.raises(ValueError, match="after must be"):
        WaitPrompt("x", after="middle")


def _session(switch, outbound, number, subscribe):
    """Route `number` to the raw socket; the session sends `subscribe` instead of myevents."""
    switch.dialplan.add(rf"^{number}$", Socket(f"127.0.0.1:{outbound.port} async full"))
    caller = switch.place_call(CallerScript(dial=number, steps=[Wait(1.0), Hangup()]))
    o = outbound.accept()
    uuid = o.cmd("connect").h["Unique-ID"]
    for command in subscribe:
        assert o.cmd(command).h["Reply-Text"].startswith("+OK")
    return o, uuid, caller


def _other_channels(o, own: str, seconds: float) -> set:
    seen, deadline = set(), gevent.get_hub().loop.now() + seconds
    while True:
        left = deadline - gevent.get_hub().loop.now()
        if left <= 0:
            return seen
        try:
            m = o.next(timeout=left)
        except AssertionError:
            return seen
        if m is None:
            return seen
        if m.event is not None and m.event.get("Unique-ID") not in (None, own):
            seen.add(m.event.get("Unique-ID"))


def test_outbound_events_without_myevents_are_every_channels(switch, outbound):
    """mod_event_socket limits an outbound socket's events to its channel only through
    `myevents`; `event plain ...` alone subscribes to every channel's events."""
    from fsapp.sim import Park
    switch.dialplan.add(r"^7777$", Park())
    o, own, _ = _session(switch, outbound, "7001", ["event plain CHANNEL_ANSWER CHANNEL_PARK CHANNEL_HANGUP"])
    other = switch.place_call(CallerScript(dial="7777", steps=[Wait(0.3), Hangup()]))
    seen = _other_channels(o, own, 2.0)
    assert {other.report.uuid, other.report.caller_uuid} <= seen, seen
    o.close()


def test_outbound_filter_before_event_keeps_other_channels_out(switch, outbound):
    """`filter Unique-ID <own uuid>` first, then `event ...`: no event of another channel
    ever arrives (the other order leaves a window where they do)."""
    from fsapp.sim import Park
    switch.dialplan.add(r"^7777$", Park())
    o, own, _ = _session(switch, outbound, "7002", [])
    assert o.cmd(f"filter Unique-ID {own}").h["Reply-Text"] == f"+OK filter added. [Unique-ID]=[{own}]"
    assert o.cmd("event plain CHANNEL_ANSWER CHANNEL_PARK CHANNEL_HANGUP DTMF").h["Reply-Text"] == \
        "+OK event listener enabled plain"
    switch.place_call(CallerScript(dial="7777", steps=[Press("5"), Wait(0.3), Hangup()]))
    assert _other_channels(o, own, 2.0) == set()
    o.close()

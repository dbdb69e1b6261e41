"""The emulator end to end: inbound commands, outbound sessions, apps, callers, agents."""
import os
import wave

import gevent

from fsapp.sim import (Agent, Echo, CallerScript, Hangup, Park, Press, Silence, Socket, Speak, Switch, Wait,
                       WaitPrompt)

from .eslclient import Conn


def test_inbound_basics(switch, inbound):
    status = inbound.cmd("api status").body
    assert status.startswith("UP 0 years, 0 days") and status.endswith("\n") and "1000 session(s) max" in status
    assert inbound.cmd("api uuid_exists 00000000-0000-0000-0000-000000000000").body == "false"
    assert inbound.cmd("api no_such_command").body == "-ERR no_such_command Command not found!\n"
    assert inbound.cmd("api show channels as json").body == '{"row_count": 0}\n'
    assert inbound.cmd("filter delete").h["Reply-Text"] == "-ERR invalid syntax"
    assert inbound.cmd("bogus").h["Reply-Text"] == "-ERR command not found"
    assert inbound.cmd("exit").h["Reply-Text"] == "+OK bye"
    notice = inbound.next()
    assert notice.content_type == "text/disconnect-notice"
    assert notice.body == "Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"
    assert inbound.next() is None  # closed


def test_wrong_password_is_refused_and_closed(switch):
    c = Conn.connect(switch.esl_port)
    c.next()
    assert c.cmd("auth WrongPassword").h["Reply-Text"] == "-ERR invalid"
    assert c.next().content_type == "text/disconnect-notice"
    assert c.next() is None


def test_heartbeat_interval_is_configurable():
    sw = Switch(heartbeat=0.2).start()
    try:
        c = Conn.connect(sw.esl_port)
        c.next()
        c.cmd("auth ClueCon")
        c.cmd("event plain HEARTBEAT")
        ev = c.wait_event("HEARTBEAT", timeout=5).event
        assert ev["Event-Info"] == "System Ready" and "Up-Time" in ev
    finally:
        sw.stop()


def _ivr(outbound, prompt_wav, rec_path, results):
    """A small IVR written against the raw socket: menu, digits, record, bridge."""
    o = outbound.accept()
    data = o.cmd("connect")
    results["connect"] = data.h
    o.cmd("myevents")
    o.cmd("linger")
    o.execute("answer")
    results["play"] = o.execute("playback", prompt_wav)
    results["pagd"] = o.execute("play_and_get_digits",
                                f"1 8 3 3000 # {prompt_wav} silence_stream://200 digits \\d+ 1000")
    results["record"] = o.execute("record", f"{rec_path} 10 200 1")
    results["bridge"] = o.execute("bridge", "user/1001", timeout=20)
    o.execute("hangup")
    results["done"] = True


def test_scripted_caller_through_socket(switch, outbound, prompt_wav, tmp_path):
    switch.dialplan.add(r"^12345$", Socket(f"127.0.0.1:{outbound.port} async full"))
    switch.add_agent("1001", ring_s=0.3, talk_s=0.5)
    rec = str(tmp_path / "rec.wav")
    results = {}
    ivr = gevent.spawn(_ivr, outbound, prompt_wav, rec, results)
    caller = switch.place_call(CallerScript(dial="12345", caller_id="13800138000", steps=[
        WaitPrompt("main_menu"), WaitPrompt("main_menu", after="start"), Press("4321#", gap_ms=50),
        Speak(1.0), Silence(1.5)]))
    report = caller.wait(timeout=30)
    ivr.join(timeout=10)
    assert results.get("done"), results
    assert results["connect"]["Caller-Caller-ID-Number"] == "13800138000"
    assert results["connect"]["Control"] == "full"
    assert results["play"]["Application-Response"] == "FILE PLAYED"
    assert results["play"]["variable_playback_ms"] == "400"
    assert results["pagd"]["variable_digits"] == "4321"
    assert results["pagd"]["variable_read_result"] == "success"
    rec_ev = results["record"]
    assert rec_ev["variable_silence_hits_exhausted"] == "true"
    # 1.0 s voice + 1.0 s silence (silence_hits 1 s), bounded by the caller's real timing
    assert 1.8 <= int(rec_ev["variable_record_ms"]) / 1000 <= 3.5, rec_ev["variable_record_ms"]
    with wave.open(rec) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2)
        assert w.getnframes() == int(rec_ev["variable_record_samples"])
    assert os.path.getsize(rec) == int(rec_ev["variable_record_file_size"])
    assert results["bridge"]["variable_DIALSTATUS"] == "SUCCESS"
    assert report.heard[:2] == [prompt_wav, prompt_wav]
    assert report.pressed == ["4321#"]
    assert report.recordings == [rec]
    assert report.bridged_to and "1001" in report.bridged_to[0]
    assert report.hangup_cause == "NORMAL_CLEARING"
    assert report.uuid == results["connect"]["Unique-ID"]
    assert report.error is None


def test_agent_failures_give_freeswitch_causes(switch, outbound):
    switch.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{outbound.port} async full"))
    switch.add_agent("2001", ring_s=0.2, answer=False)
    switch.add_agent("2002", ring_s=0.2, answer="busy")
    switch.add_agent("2003", ring_s=0.2, answer="reject")
    switch.add_agent("2004", ring_s=5.0)
    results = {}

    def app():
        o = outbound.accept()
        o.cmd("connect")
        o.cmd("myevents")
        o.execute("answer")
        for agent in ("2001", "2002", "2003", "9999"):
            results[agent] = o.execute("bridge", f"user/{agent}")
        results["2004"] = o.execute("bridge", "{leg_timeout=1}user/2004")
        o.execute("hangup")

    g = gevent.spawn(app)
    switch.place_call(CallerScript(dial="7000")).wait(timeout=30)
    g.join(timeout=5)
    causes = {k: (v["variable_originate_disposition"], v["variable_DIALSTATUS"]) for k, v in results.items()}
    assert causes == {"2001": ("NO_ANSWER", "NOANSWER"), "2002": ("USER_BUSY", "BUSY"),
                      "2003": ("CALL_REJECTED", "CALL_REJECTED"), "9999": ("USER_NOT_REGISTERED", "USER_NOT_REGISTERED"),
                      "2004": ("NO_ANSWER", "NOANSWER")}


def test_agent_route_and_caller_hangup_at_time(switch):
    switch.add_agent("1001", ring_s=0.2, talk_s=30)
    switch.dialplan.add(r"^8000$", Agent("1001"))
    report = switch.place_call(CallerScript(dial="8000", steps=[Hangup(at=0.8)])).wait(timeout=60)
    assert report.bridged_to and report.hung_up_by == "caller"
    agent_call = switch.agents["1001"].calls[0]
    with gevent.Timeout(60, AssertionError(f"the agent leg never ended: {agent_call}")):
        while agent_call["ended_at"] is None:    # the agent leg ends just after the caller's leg
            gevent.sleep(0.01)
    assert agent_call["answered_at"] is not None and agent_call["ended_at"] is not None


def test_not_full_socket_refuses_api_and_unknown_app_hangs_up(switch, outbound, inbound):
    switch.dialplan.add(r"^7001$", Socket(f"127.0.0.1:{outbound.port} async"))
    inbound.cmd("event plain BACKGROUND_JOB")
    inbound.cmd("bgapi originate loopback/7001/default &park")
    o = outbound.accept()
    assert o.cmd("connect").h["Control"] == "single-channel"
    for refused in ("api status", "bgapi status", "event plain ALL"):
        assert o.cmd(refused).h["Reply-Text"] == "-ERR command not found"
    assert o.cmd("myevents").h["Reply-Text"] == "+OK Events Enabled"
    r = o.cmd("sendmsg\ncall-command: execute\nexecute-app-name: no_such_app\nevent-lock: true")
    assert r.h["Reply-Text"] == "+OK"
    assert o.until(lambda m: m.content_type == "text/disconnect-notice", timeout=10)
    job = inbound.wait_event("BACKGROUND_JOB", timeout=10)
    assert job.body.endswith("-ERR DESTINATION_OUT_OF_ORDER\n")


def test_without_event_lock_apps_nest_lifo(switch, outbound):
    switch.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{outbound.port} async full"))
    done = []

    def app():
        o = outbound.accept()
        o.cmd("connect")
        o.cmd("myevents")
        o.execute("answer")
        for n, freq in (("1", 400), ("2", 600)):
            o.cmd(f"sendmsg\ncall-command: execute\nexecute-app-name: playback\n"
                  f"execute-app-arg: tone_stream://%(300,0,{freq})\nEvent-UUID: 11111111-0000-0000-0000-00000000000{n}")
        for _ in range(2):
            done.append(o.wait_event("CHANNEL_EXECUTE_COMPLETE", Application="playback").event["Application-UUID"][-1])
        o.cmd("sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING")

    g = gevent.spawn(app)
    switch.place_call(CallerScript(dial="7000")).wait(timeout=20)
    g.join(timeout=5)
    assert done == ["2", "1"]


def test_two_switches_in_one_process(outbound):
    a, b = Switch().start(), Switch().start()
    try:
        assert a.esl_port != b.esl_port
        a.dialplan.add(r"^1$", Park())
        b.dialplan.add(r"^1$", Park())
        ca = a.place_call(CallerScript(dial="1", steps=[Wait(0.2), Hangup()]))
        cb = b.place_call(CallerScript(dial="1", steps=[Wait(0.1), Hangup()]))
        assert ca.wait(10).hangup_cause == cb.wait(10).hangup_cause == "NORMAL_CLEARING"
        assert not a.channels and not b.channels
    finally:
        a.stop()
        b.stop()


def test_inbound_api_channel_commands(switch, inbound):
    switch.dialplan.add(r"^9196$", Echo())
    inbound.cmd("event plain CHANNEL_ANSWER DTMF CHANNEL_HANGUP")
    r = inbound.cmd("api originate {origination_caller_id_number=555}loopback/9196 &park", timeout=10)
    assert r.body.startswith("+OK ") and r.body.endswith("\n")
    a_uuid = r.body.split()[1]
    assert inbound.cmd(f"api uuid_exists {a_uuid}").body == "true"
    assert inbound.cmd(f"api uuid_setvar {a_uuid} foo bar baz").body == "+OK\n"
    assert inbound.cmd(f"api uuid_getvar {a_uuid} foo").body == "bar baz"
    assert inbound.cmd(f"api uuid_getvar {a_uuid} nope").body == "_undef_"
    dump = inbound.cmd(f"api uuid_dump {a_uuid}").body
    assert "Answer-State: answered" in dump and "variable_foo: bar%20baz" in dump
    rows = inbound.cmd("api show channels as json").body
    assert '"row_count":2' in rows
    assert inbound.cmd(f"api uuid_recv_dtmf {a_uuid} 59").body == f"+OK {a_uuid} received DTMF 59.\n"
    d1 = inbound.wait_event("DTMF").event
    assert d1["DTMF-Digit"] in ("5", "9")
    assert inbound.cmd(f"api uuid_kill {a_uuid}").body == "+OK\n"
    inbound.wait_event("CHANNEL_HANGUP", **{"Unique-ID": a_uuid})
    assert inbound.cmd("api hupall").body == "+OK hangup all channels with cause MANAGER_REQUEST\n"
    assert inbound.cmd("api reloadxml").body == "+OK [Success]\n"


def test_originate_agent_and_uuid_transfer(switch, inbound):
    from fsapp.sim import Apps
    switch.add_agent("1001", ring_s=0.2, talk_s=30)
    switch.add_agent("1002", ring_s=0.2, answer="busy")
    switch.dialplan.add(r"^8200$", Apps([("pre_answer", ""), ("playback", "silence_stream://100"),
                                         ("hangup", "NORMAL_UNSPECIFIED")]))
    inbound.cmd("event plain CHANNEL_PROGRESS_MEDIA CHANNEL_HANGUP_COMPLETE")
    assert inbound.cmd("api originate user/1002 &park", timeout=10).body == "-ERR USER_BUSY\n"
    r = inbound.cmd("api originate {origination_caller_id_number=100}user/1001 &park", timeout=10)
    assert r.body.startswith("+OK ")
    uuid = r.body.split()[1].strip()
    assert inbound.cmd(f"api uuid_transfer {uuid} 8200 XML default").body == "+OK\n"
    done = inbound.wait_event("CHANNEL_HANGUP_COMPLETE", timeout=10, **{"Unique-ID": uuid}).event
    assert done["Hangup-Cause"] == "NORMAL_UNSPECIFIED"
    assert done["variable_last_app"] == "hangup"


def test_pre_answer_gives_early_media_without_answer(switch, inbound):
    from fsapp.sim import Apps
    switch.dialplan.add(r"^8300$", Apps([("pre_answer", ""), ("playback", "silence_stream://100")]))
    inbound.cmd("event plain CHANNEL_PROGRESS_MEDIA")
    report = switch.place_call(CallerScript(dial="8300")).wait(timeout=10)
    assert report.heard == ["silence_stream://100"] and not report.answered
    ev = inbound.wait_event("CHANNEL_PROGRESS_MEDIA").event
    assert ev["Answer-State"] == "early"


def test_a_caller_driven_live_presses_and_hangs_up(switch):
    """The caller's public actions (what `fsapp simulate` uses to answer each question
    as it is asked): press keys now, hang up now; both refuse once the call ended."""
    from fsapp.sim import Apps
    switch.dialplan.add(r"^8300$", Apps([("answer", ""), ("read", "2 2 silence_stream://100 got 5000 #"),
                                         ("playback", "tone_stream://%(100,0,440)"), ("park", "")]))
    caller = switch.place_call(CallerScript(dial="8300", steps=[]))
    assert caller.in_call
    assert caller.press("42", gap_s=0.05) is True
    with gevent.Timeout(10):  # the read took both keys: the tone after it starts
        while not any(p.startswith("tone_stream") for p in caller.report.heard):
            gevent.sleep(0.01)
    assert switch.channels[caller.report.uuid].get_var("got") == "42"
    assert caller.hang_up() is True
    report = caller.wait(10)
    assert report.pressed == ["42"] and report.hung_up_by == "caller"
    assert not caller.in_call and caller.hang_up() is False and caller.press("1") is False

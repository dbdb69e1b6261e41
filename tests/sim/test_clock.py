"""Clocks: scaled real time, and the virtual clock that jumps only when nobody acts."""
import time

import gevent
import pytest

from fsapp.sim import CallerScript, Hangup, RealClock, Socket, Speak, Switch, VirtualClock, Wait, WaitPrompt


def test_real_clock_scale_and_bad_scale():
    clock = RealClock(scale=10)
    assert clock.to_wall(1.0) == pytest.approx(0.1)
    # emulated time runs exactly 10x wall time, however long a busy machine takes to wake
    # the sleeper: the emulated reads are bracketed by wall reads, inside and out
    wb = time.monotonic()
    t0 = clock.now()
    w0 = time.monotonic()
    clock.sleep(1.0)
    w1 = time.monotonic()
    t1 = clock.now()
    wa = time.monotonic()
    assert t1 - t0 >= 1.0
    assert 10 * (w1 - w0) - 1e-5 <= t1 - t0 <= 10 * (wa - wb) + 1e-5   # (float rounding of epoch seconds)
    with pytest.raises(ValueError, match="scale must be > 0"):
        RealClock(scale=0)


def _long_flow(call, recording):
    call.answer()
    call.playback("tone_stream://%(10000,0,440)")            # 10 s prompt
    call.play_and_get_digits(1, 4, 3, 5000, "#", "tone_stream://%(400,0,440)", var="pin")  # no input: 3 x 5.4 s
    call.set("fsapp_pin", call.get("pin") or "none")
    call.record(recording, 30, silence_threshold=200, silence_hits=3)
    call.hangup()


def test_virtual_clock_runs_long_scenarios_fast_with_fsapp(tmp_path):
    from fsapp.esl.outbound import OutboundServer
    recording = str(tmp_path / "vclock.wav")
    clock = VirtualClock()
    sw = Switch(esl=("127.0.0.1", 0), clock=clock).start()
    app = OutboundServer(lambda call: _long_flow(call, recording), ("127.0.0.1", 0), linger=5).start()
    try:
        sw.dialplan.add(r"^1$", Socket(f"127.0.0.1:{app.port} async full"))
        wall0, emu0 = time.monotonic(), clock.now()
        report = sw.place_call(CallerScript(dial="1", steps=[
            WaitPrompt("%(400,0,440)"), WaitPrompt("%(400,0,440)"), WaitPrompt("%(400,0,440)"),
            Wait(5.5), Speak(8.0)])).wait(timeout=60)
        wall, emulated = time.monotonic() - wall0, clock.now() - emu0
    finally:
        app.stop()
        sw.stop()
    assert report.error is None and report.hangup_cause == "NORMAL_CLEARING"
    assert report.recordings == [recording]
    # 10 s prompt + 3 x (0.4 s prompt + 5 s timeout + invalid prompt) + 0.25 s before the
    # caller speaks + 8 s of speech + 3 s of silence hits: about 38 s of emulated time
    assert emulated >= 35, emulated
    assert wall < emulated / 3, (wall, emulated)
    import wave
    with wave.open(recording) as w:
        # only what the caller sent is written: 8 s of voice (idle time has no media)
        assert 7.9 <= w.getnframes() / 8000 <= 8.1


def test_virtual_clock_does_not_jump_while_the_app_works():
    """The app takes 1 s of wall time (a slow database, say) before it plays the menu:
    the caller's Hangup(at=40) must not be reached while the app has the turn."""
    from fsapp.esl.outbound import OutboundServer

    def slow_app(call):
        call.answer()
        gevent.sleep(1.0)
        call.playback("tone_stream://%(2000,0,440)")
        call.sleep(60000)

    clock = VirtualClock()
    sw = Switch(esl=("127.0.0.1", 0), clock=clock).start()
    app = OutboundServer(slow_app, ("127.0.0.1", 0), linger=5).start()
    try:
        sw.dialplan.add(r"^1$", Socket(f"127.0.0.1:{app.port} async full"))
        report = sw.place_call(CallerScript(dial="1", steps=[Hangup(at=40)])).wait(timeout=30)
    finally:
        app.stop()
        sw.stop()
    assert report.heard == ["tone_stream://%(2000,0,440)"]
    assert report.hung_up_by == "caller" and clock.jumped > 30

"""A worker at [serve] max_calls hands the call back to the dialplan, which goes on to the
next worker (or the fallback). On FreeSWITCH 1.10.12 a bare close strands the caller in
the `socket` application's park (captures outbound_refused_close and
outbound_refused_hand_back in tests/data/esl-captures); the emulator does the same."""
from pathlib import Path

import gevent
import gevent.event

from fsapp.esl import OutboundServer
from fsapp.sim import Apps, CallerScript, Hangup, RealClock, Switch

ROOT = Path(__file__).resolve().parents[2]
PROMPT = str(ROOT / "sounds" / "zh-CN" / "common" / "thanks.wav")
APOLOGY = str(ROOT / "sounds" / "zh-CN" / "common" / "db_unavailable.wav")


def test_a_call_over_max_calls_goes_on_to_the_next_worker():
    release = gevent.event.Event()

    def busy(call):
        call.answer()
        release.wait(30)
        call.hangup()

    def second(call):
        call.answer()
        call.playback(PROMPT)
        call.hangup()

    full = OutboundServer(busy, ("127.0.0.1", 0), linger=5, max_calls=1).start()
    other = OutboundServer(second, ("127.0.0.1", 0), linger=5).start()
    switch = Switch(esl=("127.0.0.1", 0), clock=RealClock(scale=5)).start()
    switch.dialplan.add(r"^20000$", Apps([("socket", f"127.0.0.1:{full.port} async full"),
                                          ("socket", f"127.0.0.1:{other.port} async full"),
                                          ("answer", ""), ("playback", APOLOGY), ("hangup", "")]))
    try:
        first = switch.place_call(CallerScript(dial="20000"))
        while full.active_calls < 1:
            gevent.sleep(0.01)
        # the caller gives up after 60 s (emulated) if nobody takes the call
        report = switch.place_call(CallerScript(dial="20000", steps=[Hangup(at=60)])).wait(60)
        assert full.refused_calls == 1
        assert [Path(p).stem for p in report.heard] == ["thanks"], report
        assert report.hung_up_by == "switch"
        release.set()
        first.wait(30)
    finally:
        release.set()
        full.stop(timeout=1)
        other.stop(timeout=1)
        switch.stop()


def test_the_emulator_strands_a_call_whose_app_closes_before_the_park():
    """What the old refusal (close at once) did on a real switch: the caller sits in the
    socket application's park, hearing nothing, until they hang up."""
    from gevent.server import StreamServer

    closer = StreamServer(("127.0.0.1", 0), lambda sock, addr: sock.close())
    closer.start()
    switch = Switch(esl=("127.0.0.1", 0), clock=RealClock(scale=5)).start()
    switch.dialplan.add(r"^20000$", Apps([("socket", f"127.0.0.1:{closer.server_port} async full"),
                                          ("answer", ""), ("playback", APOLOGY), ("hangup", "")]))
    try:
        report = switch.place_call(CallerScript(dial="20000", steps=[Hangup(at=20)])).wait(60)
        assert report.heard == [] and report.hung_up_by == "caller"
    finally:
        closer.stop()
        switch.stop()


def test_a_handler_that_returns_at_once_lets_the_dialplan_go_on():
    """After connect, myevents and linger the park has begun (4 of 4 trials on the real
    switch): the session's `exit` ends it and the next action runs."""
    server = OutboundServer(lambda call: None, ("127.0.0.1", 0), linger=5).start()
    switch = Switch(esl=("127.0.0.1", 0), clock=RealClock(scale=5)).start()
    switch.dialplan.add(r"^20000$", Apps([("socket", f"127.0.0.1:{server.port} async full"),
                                          ("answer", ""), ("playback", APOLOGY), ("hangup", "")]))
    try:
        report = switch.place_call(CallerScript(dial="20000", steps=[Hangup(at=60)])).wait(60)
        assert [Path(p).stem for p in report.heard] == ["db_unavailable"] and report.hung_up_by == "switch"
    finally:
        server.stop(timeout=1)
        switch.stop()

"""fsapp.conf.testcall: what a test call did, from its loopback B leg's events."""
from fsapp.conf.testcall import CallTrace

A = "a-uuid"


def ev(name, app=None, data=None, **extra):
    headers = {"Event-Name": name, "Unique-ID": "b-uuid", "Channel-Name": "loopback/20000-b",
               "variable_other_loopback_leg_uuid": A, "variable_loopback_leg": "B", **extra}
    if app:
        headers.update({"Application": app, "Application-Data": data or ""})
    return headers


def test_a_handed_back_call_goes_on_to_the_next_worker():
    call = CallTrace(A)
    steps = [ev("CHANNEL_EXECUTE", "set", "fsapp_flow=live"),
             ev("CHANNEL_EXECUTE", "socket", "127.0.0.1:8084 async full"),
             ev("CHANNEL_EXECUTE", "set", "fsapp_refused=max_calls")]
    for step in steps:
        assert not call.feed(step)
    assert not call.in_worker                      # a refusal: --hold does not start
    call.feed(ev("CHANNEL_EXECUTE_COMPLETE", "socket", "127.0.0.1:8084 async full"))
    call.feed(ev("CHANNEL_EXECUTE", "socket", "127.0.0.1:8085 async full"))
    call.feed(ev("CHANNEL_EXECUTE", "answer"))
    assert call.in_worker
    call.feed(ev("CHANNEL_EXECUTE", "playback", "/s/welcome.wav"))
    call.feed(ev("CHANNEL_EXECUTE", "answer", **{"variable_other_loopback_leg_uuid": "other"}))  # another call
    assert call.feed(ev("CHANNEL_HANGUP_COMPLETE", **{"Hangup-Cause": "NORMAL_CLEARING"}))
    assert call.worker == "127.0.0.1:8085"
    assert call.report() == [
        "call on loopback/20000-b b-uuid",
        "socket 127.0.0.1:8084 async full: worker ran set",
        "socket 127.0.0.1:8085 async full: worker ran answer, playback",
        "answered by worker 127.0.0.1:8085",
        "hangup: NORMAL_CLEARING"]


def test_the_a_leg_and_other_calls_are_not_counted():
    call = CallTrace(A)
    call.feed({**ev("CHANNEL_EXECUTE", "park"), "variable_loopback_leg": "A"})
    call.feed(ev("CHANNEL_EXECUTE", "socket", "127.0.0.1:8084 async full"))
    call.feed(ev("CHANNEL_EXECUTE_COMPLETE", "socket", "127.0.0.1:8084 async full"))
    call.feed(ev("CHANNEL_EXECUTE", "hangup", "NORMAL_CLEARING"))
    assert call.worker is None and call.fallback == ["hangup NORMAL_CLEARING"]
    assert "socket 127.0.0.1:8084 async full: no worker took the call" in call.report()

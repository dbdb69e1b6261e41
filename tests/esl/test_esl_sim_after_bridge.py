"""What the routing module relies on, end to end over real TCP against the emulator:
an agent leg named by origination_uuid, uuid_bridge of the caller's socket-controlled leg
to it, and park_after_bridge giving the caller's leg back to the flow when the agent
hangs up; InboundClient.sendevent reaching CUSTOM subscribers."""
import itertools
import uuid as uuidlib

import gevent
import pytest

from fsapp.esl import CallHangup, InboundClient, OutboundServer
from fsapp.sim import CallerScript, Socket, Switch, WaitPrompt

AFTER = "silence_stream://200"
_numbers = itertools.count(31000)


@pytest.fixture(scope="module")
def rig():
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0), heartbeat=0.5).start()
    sw.add_agent("1001", ring_s=0.2, talk_s=0.5)
    srv = OutboundServer(lambda call: None, "127.0.0.1:0", command_timeout=5, app_timeout=20).start()
    esl = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=5.0).start()
    yield sw, srv, esl
    esl.stop()
    srv.stop(timeout=2)
    sw.stop()


def agent_then(rig, park: bool, steps):
    """The router's sequence: answer, ring the agent with origination_uuid, uuid_bridge,
    wait for the agent to hang up, then play AFTER to the caller."""
    sw, srv, esl = rig
    seen = {}

    def handler(call):
        call.answer()
        if park:
            call.set("park_after_bridge", "true")
        agent_uuid = str(uuidlib.uuid4())
        seen["leg"] = esl.originate("user/1001", "&park", {"origination_uuid": agent_uuid}, timeout=5)
        seen["agent_uuid"] = agent_uuid
        esl.uuid_bridge(call.uuid, agent_uuid)
        with gevent.Timeout(10):
            while esl.uuid_exists(agent_uuid):
                gevent.sleep(0.05)
        try:
            seen["after"] = call.playback(AFTER)
            call.hangup()
        except CallHangup:
            seen["after"] = "hung up"

    number = str(next(_numbers))
    sw.dialplan.add(rf"^{number}$", Socket(f"127.0.0.1:{srv.port} async full"))
    srv.handler = handler
    report = sw.place_call(CallerScript(dial=number, steps=steps)).wait(timeout=20)
    with gevent.Timeout(10):
        while srv.active_calls:
            gevent.sleep(0.02)
    return report, seen


def test_park_after_bridge_gives_the_caller_back_to_the_flow(rig):
    report, seen = agent_then(rig, park=True, steps=[WaitPrompt("silence_stream")])
    assert seen["leg"] == seen["agent_uuid"]        # originate reports the requested uuid
    assert seen["after"] == "FILE PLAYED"
    assert report.heard == [AFTER] and report.error is None
    assert report.hung_up_by == "switch" and report.hangup_cause == "NORMAL_CLEARING"
    assert any(seen["agent_uuid"] in leg or "1001" in leg for leg in report.bridged_to)
    mine = [name for name, uuid in report.events if uuid == report.uuid]
    # the socket app is interrupted by uuid_bridge; the bridge ends; the leg parks again
    bridge, unbridge = mine.index("CHANNEL_BRIDGE"), mine.index("CHANNEL_UNBRIDGE")
    assert bridge < unbridge < mine.index("CHANNEL_PARK", unbridge) < mine.index("CHANNEL_EXECUTE", unbridge)


def test_without_park_after_bridge_the_caller_goes_when_the_agent_does(rig):
    report, seen = agent_then(rig, park=False, steps=[])
    assert seen["after"] == "hung up"
    assert report.heard == [] and report.hung_up_by == "switch"


def test_sendevent_reaches_custom_subscribers_and_keeps_heartbeat(rig):
    sw = rig[0]
    listener = InboundClient("127.0.0.1", sw.esl_port, "ClueCon", command_timeout=5.0)
    got, beats = [], []
    listener.on("fsapp::queue", got.append)
    listener.on("HEARTBEAT", beats.append)
    # subscribed before connecting: one `event` command with HEARTBEAT and CUSTOM
    # fsapp::queue; FreeSWITCH reads every word after CUSTOM as a subclass
    listener.subscribe("CUSTOM fsapp::queue")
    listener.start()
    try:
        event_uuid = rig[2].sendevent("CUSTOM", {"Event-Subclass": "fsapp::queue", "Action": "member-answered",
                                                "Queue": "sales", "Agent": ""})
        with gevent.Timeout(10):
            while not got or not beats:
                gevent.sleep(0.05)
    finally:
        listener.stop()
    ev = got[0]
    assert ev.get("Event-Name") == "CUSTOM" and ev.get("Event-Subclass") == "fsapp::queue"
    assert ev.get("Action") == "member-answered" and ev.get("Queue") == "sales"
    assert ev.get("Event-UUID") == event_uuid and ev.get("Core-UUID") == sw.core_uuid


def test_sendevent_refuses_what_would_break_the_frame(rig):
    esl = rig[2]
    with pytest.raises(ValueError, match="Event-Subclass"):
        esl.sendevent("CUSTOM", {"Action": "x"})
    with pytest.raises(ValueError, match="newline"):
        esl.sendevent("CUSTOM", {"Event-Subclass": "fsapp::queue", "Action": "a\nEvent-Name: HEARTBEAT"})
    with pytest.raises(ValueError, match="one word"):
        esl.sendevent("CUSTOM fsapp::queue", {"Event-Subclass": "fsapp::queue"})
    with pytest.raises(ValueError, match="Content-Length"):
        esl.sendevent("NOTIFY", {"Content-Length": "3"}, body="abc")

"""origination_uuid, park_after_bridge / hangup_after_bridge in the dialplan, and
`sendevent`, on the emulator's wire (FreeSWITCH behaviour from its source: see
docs/emulator.md, "Origination uuid, after-bridge variables, sendevent")."""
import json
import uuid as uuidlib

import pytest

from fsapp.sim import Apps, CallerScript, Echo, Hangup, Socket, Wait

from .eslclient import Conn

SHORT = "silence_stream://100"


def new_uuid() -> str:
    return str(uuidlib.uuid4())


def event_body(msg) -> str:
    """The body a plain event carries after its own header block."""
    return msg.body.split("\n\n", 1)[1]


def quiet(conn: Conn, seconds: float) -> None:
    """Nothing at all arrives on conn within `seconds`."""
    with pytest.raises(AssertionError, match="no message"):
        conn.next(timeout=seconds)


def authed(switch) -> Conn:
    c = Conn.connect(switch.esl_port)
    assert c.next().content_type == "auth/request"
    assert c.cmd("auth ClueCon").h["Reply-Text"] == "+OK accepted"
    return c


# ---- origination_uuid -------------------------------------------------------------------------

def test_originate_gives_the_agent_leg_the_requested_uuid(switch, inbound):
    switch.add_agent("1001", ring_s=0.2, talk_s=30)
    wanted = new_uuid()
    inbound.cmd("event plain CHANNEL_HANGUP")
    r = inbound.cmd(f"api originate {{origination_uuid={wanted},origination_caller_id_number=100}}user/1001 &park",
                    timeout=10)
    assert r.body == f"+OK {wanted}\n"
    dump = json.loads(inbound.cmd(f"api uuid_dump {wanted} json").body)
    assert dump["Unique-ID"] == wanted and dump["variable_uuid"] == wanted
    assert dump["Channel-Name"] == "sofia/internal/1001@127.0.0.1"
    # FreeSWITCH deletes origination_uuid from the variables once it named the channel
    assert "variable_origination_uuid" not in dump
    assert switch.agents["1001"].calls[0]["uuid"] == wanted
    assert inbound.cmd(f"api uuid_kill {wanted}").body == "+OK\n"
    inbound.wait_event("CHANNEL_HANGUP", **{"Unique-ID": wanted})


def test_a_ringing_leg_can_be_cancelled_by_its_origination_uuid(switch):
    """What the router does when the caller hangs up while an agent rings: bgapi
    originate with origination_uuid, then uuid_kill that uuid before the answer."""
    switch.add_agent("1001", ring_s=30, talk_s=30)
    c = authed(switch)
    try:
        wanted = new_uuid()
        c.cmd("event plain BACKGROUND_JOB CHANNEL_CREATE")
        reply = c.cmd(f"bgapi originate {{origination_uuid={wanted}}}user/1001 &park")
        assert reply.h["Reply-Text"].startswith("+OK Job-UUID: ")
        c.wait_event("CHANNEL_CREATE", **{"Unique-ID": wanted})
        assert c.cmd(f"api uuid_exists {wanted}").body == "true"
        assert c.cmd(f"api uuid_kill {wanted} ORIGINATOR_CANCEL").body == "+OK\n"
        job = c.wait_event("BACKGROUND_JOB", timeout=10)
        assert event_body(job) == "-ERR ORIGINATOR_CANCEL\n"
        assert switch.agents["1001"].calls[0]["result"] == "ORIGINATOR_CANCEL"
    finally:
        c.close()


def test_loopback_originate_names_the_a_leg(switch, inbound):
    switch.dialplan.add(r"^9196$", Echo())
    wanted = new_uuid()
    r = inbound.cmd(f"api originate {{origination_uuid={wanted}}}loopback/9196 &park", timeout=10)
    assert r.body == f"+OK {wanted}\n"
    b_leg = inbound.cmd(f"api uuid_getvar {wanted} other_loopback_leg_uuid").body
    assert b_leg not in ("", "_undef_", wanted)
    assert inbound.cmd(f"api uuid_getvar {b_leg} loopback_leg").body == "B"
    inbound.cmd(f"api uuid_kill {wanted}")


def test_a_uuid_already_in_use_is_refused(switch, inbound):
    switch.add_agent("1001", ring_s=0.1, talk_s=30)
    switch.add_agent("1002", ring_s=0.1, talk_s=30)
    wanted = new_uuid()
    assert inbound.cmd(f"api originate {{origination_uuid={wanted}}}user/1001 &park", timeout=10).body == \
        f"+OK {wanted}\n"
    again = inbound.cmd(f"api originate {{origination_uuid={wanted}}}user/1002 &park", timeout=10)
    assert again.body == "-ERR DESTINATION_OUT_OF_ORDER\n"
    assert switch.agents["1002"].calls == []   # never rang
    inbound.cmd(f"api uuid_kill {wanted}")


def test_bridge_dial_string_origination_uuid_names_the_b_leg(switch):
    switch.add_agent("1001", ring_s=0.1, talk_s=0.3)
    wanted = new_uuid()
    switch.dialplan.add(r"^8400$", Apps([("answer", ""), ("bridge", f"{{origination_uuid={wanted}}}user/1001")]))
    report = switch.place_call(CallerScript(dial="8400")).wait(timeout=15)
    assert report.error is None
    assert switch.agents["1001"].calls[0]["uuid"] == wanted
    assert ("CHANNEL_BRIDGE", report.uuid) in report.events


# ---- park_after_bridge / hangup_after_bridge for the bridge application -------------------------

def after_agent(switch, number, variables):
    """A dialplan call: set variables, bridge to an agent who hangs up after 0.3 s, then
    play SHORT. Returns the caller's report."""
    switch.add_agent("1001", ring_s=0.1, talk_s=0.3)
    steps = [("answer", "")] + [("set", f"{k}={v}") for k, v in variables.items()] + \
        [("bridge", "user/1001"), ("playback", SHORT)]
    switch.dialplan.add(rf"^{number}$", Apps(steps))
    return switch.place_call(CallerScript(dial=number, steps=[Wait(1.5), Hangup()])).wait(timeout=15)


def test_after_bridge_without_variables_the_dialplan_goes_on(switch):
    report = after_agent(switch, "8501", {})
    assert report.heard == [SHORT]
    assert report.hung_up_by == "switch"


def test_hangup_after_bridge_hangs_the_caller_up_with_the_agents_cause(switch):
    report = after_agent(switch, "8502", {"hangup_after_bridge": "true"})
    assert report.heard == []
    assert report.hung_up_by == "switch" and report.hangup_cause == "NORMAL_CLEARING"


def test_park_after_bridge_parks_instead_of_running_the_rest(switch):
    report = after_agent(switch, "8503", {"park_after_bridge": "true"})
    assert report.heard == []
    assert report.hung_up_by == "caller"          # parked until the caller left at 1.5 s
    names = [name for name, uuid in report.events if uuid == report.uuid]
    unbridge = names.index("CHANNEL_UNBRIDGE")
    assert "CHANNEL_PARK" in names[unbridge:]


# ---- sendevent --------------------------------------------------------------------------------

def test_sendevent_custom_reaches_subscribers_of_its_subclass(switch, inbound):
    other = authed(switch)
    plain_custom = authed(switch)
    try:
        inbound.cmd("event plain CUSTOM fsapp::queue")
        other.cmd("event json CUSTOM callcenter::info")
        plain_custom.cmd("event plain CUSTOM")
        sender = authed(switch)
        try:
            reply = sender.cmd("sendevent CUSTOM\nEvent-Subclass: fsapp::queue\nAction: member-answered\n"
                               "Queue: sales")
        finally:
            sender.close()
        assert reply.h["Reply-Text"].startswith("+OK ")
        event_uuid = reply.h["Reply-Text"][4:]
        ev = inbound.wait_event("CUSTOM")
        e = ev.event
        assert e["Event-Subclass"] == "fsapp::queue" and e["Action"] == "member-answered" and e["Queue"] == "sales"
        assert e["Event-UUID"] == event_uuid and e["Core-UUID"] == switch.core_uuid
        names = ev.event_header_names
        # the client's headers first, then Event-UUID, the subclass, the core headers
        assert names[:6] == ["Command", "Action", "Queue", "Event-UUID", "Event-Subclass", "Event-Name"]
        assert names[-1] == "Event-Sequence" and e["Command"] == "sendevent CUSTOM"
        quiet(other, 0.5)          # subscribed to another subclass
        quiet(plain_custom, 0.2)   # CUSTOM alone: only subclass-less CUSTOM events
    finally:
        other.close()
        plain_custom.close()


def test_sendevent_with_a_body_and_a_plain_event_name(switch, inbound):
    inbound.cmd("event plain NOTIFY")
    body = "line one\nline two\n"
    inbound.send(f"sendevent notify\nprofile: internal\nContent-Length: {len(body)}\n\n{body}")
    reply = inbound.until(lambda m: m.content_type == "command/reply")
    assert reply.h["Reply-Text"].startswith("+OK ")
    ev = inbound.wait_event("NOTIFY")
    assert ev.event["profile"] == "internal" and event_body(ev) == body


def test_sendevent_for_a_live_channel_is_not_fired_to_listeners(switch, inbound):
    switch.dialplan.add(r"^9196$", Echo())
    a_leg = inbound.cmd("api originate loopback/9196 &park", timeout=10).body.split()[1]
    inbound.cmd("event plain CUSTOM fsapp::queue")
    reply = inbound.cmd(f"sendevent CUSTOM\nEvent-Subclass: fsapp::queue\nUnique-ID: {a_leg}")
    assert reply.h["Reply-Text"].startswith("+OK ")
    quiet(inbound, 0.5)
    inbound.cmd(f"api uuid_kill {a_leg}")


def test_sendevent_on_outbound_sockets_full_only(switch, outbound, inbound):
    """mod_event_socket refuses sendevent on a single-channel (not full) outbound socket."""
    switch.dialplan.add(r"^7001$", Socket(f"127.0.0.1:{outbound.port} async"))
    switch.dialplan.add(r"^7000$", Socket(f"127.0.0.1:{outbound.port} async full"))
    inbound.cmd("event plain CUSTOM fsapp::queue")
    inbound.cmd("bgapi originate loopback/7001/default &park")
    single = outbound.accept()
    single.cmd("connect")
    assert single.cmd("sendevent CUSTOM\nEvent-Subclass: fsapp::queue").h["Reply-Text"] == "-ERR command not found"
    single.close()
    inbound.cmd("bgapi originate loopback/7000/default &park")
    full = outbound.accept()
    full.cmd("connect")
    reply = full.cmd("sendevent CUSTOM\nEvent-Subclass: fsapp::queue\nAction: from-outbound")
    assert reply.h["Reply-Text"].startswith("+OK ")
    assert inbound.wait_event("CUSTOM", Action="from-outbound").event["Event-UUID"] == reply.h["Reply-Text"][4:]
    full.close()

"""The eavesdrop application on the emulator's wire: `originate <contact> &eavesdrop(<uuid>)`
attaches a media bug to the target (MEDIA_BUG_START/STOP on the target's channel), the
eavesdrop_whisper_* variables and DTMF 0/1/2/3/* choose who hears the eavesdropper, and
the eavesdropper's leg ends when the target goes down (switch_ivr_eavesdrop_session)."""
import gevent

from fsapp.sim import Agent, CallerScript, Wait
from fsapp.sim.apps.eavesdrop import spies

from .eslclient import Conn


def authed(switch) -> Conn:
    c = Conn.connect(switch.esl_port)
    assert c.next().content_type == "auth/request"
    assert c.cmd("auth ClueCon").h["Reply-Text"] == "+OK accepted"
    return c


def bridged_agent_leg(switch, agent="1001", wait_s=20):
    """A scripted caller bridged to agent `agent`; returns (caller, agent leg uuid)."""
    endpoint = switch.add_agent(agent, ring_s=0.1, talk_s=wait_s)
    switch.dialplan.add(r"^7000$", Agent(agent))
    caller = switch.place_call(CallerScript(dial="7000", caller_id="13800138000", steps=[Wait(wait_s)]))
    with gevent.Timeout(10):
        while not endpoint.calls or endpoint.calls[0]["answered_at"] is None:
            gevent.sleep(0.05)
        leg = switch.channels[endpoint.calls[0]["uuid"]]
        while leg.links.bridged_to is None:
            gevent.sleep(0.05)
    return caller, leg.uuid


def test_eavesdrop_listen_then_dtmf_modes_then_leave(switch):
    caller, target = bridged_agent_leg(switch)
    switch.add_agent("2001", ring_s=0.1, talk_s=30)
    c = authed(switch)
    c.cmd("event plain MEDIA_BUG_START MEDIA_BUG_STOP CHANNEL_HANGUP")
    r = c.cmd(f"api originate {{eavesdrop_whisper_aleg=false,eavesdrop_whisper_bleg=false}}user/2001 "
              f"&eavesdrop({target})", timeout=10)
    assert r.body.startswith("+OK "), r.body
    sup = r.body[4:].strip()
    start = c.wait_event("MEDIA_BUG_START", **{"Unique-ID": target}).event
    assert start["Media-Bug-Function"] == "eavesdrop" and start["Media-Bug-Target"] == target
    [spy] = spies(switch, target)
    assert (spy.eavesdropper, spy.mode, spy.hears_read, spy.hears_write) == (sup, "listen", True, True)
    # DTMF on the supervisor's leg switch the mode, as in the source's eavesdrop loop
    for digits, mode in (("2", "whisper-target"), ("3", "barge"), ("1", "whisper-peer"), ("0", "listen")):
        assert c.cmd(f"api uuid_recv_dtmf {sup} {digits}").body.startswith("+OK")
        with gevent.Timeout(5):
            while spy.mode != mode:
                gevent.sleep(0.02)
    # `*` leaves: the bug goes, the app returns and the originated leg hangs up
    c.cmd(f"api uuid_recv_dtmf {sup} *")
    stop = c.wait_event("MEDIA_BUG_STOP", **{"Unique-ID": target}).event
    assert stop["Media-Bug-Target"] == target
    c.wait_event("CHANNEL_HANGUP", **{"Unique-ID": sup})
    assert spies(switch) == []
    assert not switch.channels[target].status.hungup          # the agent's call goes on
    c.close()


def test_whisper_variables_and_target_hangup_ends_the_eavesdropper(switch):
    caller, target = bridged_agent_leg(switch)
    switch.add_agent("2001", ring_s=0.1, talk_s=30)
    c = authed(switch)
    c.cmd("event plain MEDIA_BUG_STOP CHANNEL_HANGUP")
    r = c.cmd(f"api originate {{eavesdrop_whisper_bleg=true,eavesdrop_enable_dtmf=false}}user/2001 "
              f"&eavesdrop({target})", timeout=10)
    sup = r.body[4:].strip()
    with gevent.Timeout(5):
        while not spies(switch, target):
            gevent.sleep(0.02)
    [spy] = spies(switch, target)
    assert spy.mode == "whisper-target" and not spy.dtmf
    c.cmd(f"api uuid_recv_dtmf {sup} 3")             # DTMF off: no mode change
    gevent.sleep(0.3)
    assert spy.mode == "whisper-target"
    assert c.cmd(f"api uuid_kill {target}").body == "+OK\n"
    c.wait_event("MEDIA_BUG_STOP", **{"Unique-ID": target})
    c.wait_event("CHANNEL_HANGUP", **{"Unique-ID": sup}, timeout=5)
    caller.wait(10)
    c.close()


def test_eavesdrop_on_a_missing_uuid_returns_at_once(switch):
    switch.add_agent("2001", ring_s=0.1, talk_s=30)
    c = authed(switch)
    c.cmd("event plain CHANNEL_HANGUP MEDIA_BUG_START")
    r = c.cmd("api originate user/2001 &eavesdrop(00000000-0000-0000-0000-000000000000)", timeout=10)
    sup = r.body[4:].strip()
    hangup = c.wait_event("CHANNEL_HANGUP", **{"Unique-ID": sup}).event
    assert hangup["Hangup-Cause"] == "NORMAL_CLEARING"   # the app returned; not an unknown app
    c.close()


def test_require_group_refuses_a_target_outside_the_group(switch):
    caller, target = bridged_agent_leg(switch)
    switch.add_agent("2001", ring_s=0.1, talk_s=30)
    c = authed(switch)
    c.cmd("event plain CHANNEL_HANGUP MEDIA_BUG_START")
    c.cmd(f"api uuid_setvar {target} eavesdrop_group sales,support")
    r = c.cmd(f"api originate {{eavesdrop_require_group=billing}}user/2001 &eavesdrop({target})", timeout=10)
    sup = r.body[4:].strip()
    c.wait_event("CHANNEL_HANGUP", **{"Unique-ID": sup})
    assert spies(switch) == []
    r = c.cmd(f"api originate {{eavesdrop_require_group=support}}user/2001 &eavesdrop({target})", timeout=10)
    c.wait_event("MEDIA_BUG_START", **{"Unique-ID": target})
    c.close()

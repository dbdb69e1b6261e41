"""Two legs bridged: connect them until one side ends, then what
switch_ivr_multi_threaded_bridge does with the legs still up (park_after_bridge,
hangup_after_bridge). Shared by the `bridge` application (fsapp/sim/apps/bridge.py),
uuid_bridge (the switch) and mod_callcenter; below the applications, so none of those
import each other for it."""
from __future__ import annotations

import math

import gevent

from .channel import Channel
from .fsstrings import switch_true as is_true


def connect(ch: Channel, leg: Channel, joined: bool = False, inner: bool = False, on_dtmf=None) -> None:
    """Bridge two up legs until one ends (or ch's bridge is broken); ch is the A side.
    joined: the legs were joined by uuid_bridge (no originator relation between them).
    inner: CF_INNER_BRIDGE (att_xfer's consultation): afterwards neither leg is parked or
    hung up, the application that bridged decides. on_dtmf(digit) -> bool: ch's digits
    during the bridge (the bridge's DTMF callback); False ends the bridge."""
    ch.links.other, ch.links.other_type = leg, "originatee"
    leg.links.other, leg.links.other_type = ch, "originator"
    ch.links.bridged_to, leg.links.bridged_to = leg, ch
    ch.links.bridged.set()
    leg.links.bridged.set()
    now = ch.now_us()
    ch.profile.times["Channel-Bridged-Time"] = leg.profile.times["Channel-Bridged-Time"] = now
    leg.set_var("bridge_uuid", ch.uuid)
    ch.fire("CHANNEL_BRIDGE", pre=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", leg.uuid)])
    # Variable order as captured: these follow CHANNEL_BRIDGE; bridge_to goes at unbridge.
    for name, value in (("bridge_to", leg.uuid), ("last_bridge_to", leg.uuid), ("bridge_channel", leg.name),
                        ("bridge_uuid", leg.uuid), ("signal_bond", leg.uuid),
                        ("last_sent_callee_id_name", "Outbound Call"),
                        ("last_sent_callee_id_number", leg.profile.destination), ("last_bridge_role", "originator")):
        ch.set_var(name, value)
    # The bridged-to leg gets the mirror image (its own bridge thread sets these).
    for name, value in (("call_uuid", leg.uuid), ("bridge_to", ch.uuid), ("last_bridge_to", ch.uuid),
                        ("bridge_channel", ch.name), ("bridge_uuid", ch.uuid), ("signal_bond", ch.uuid),
                        ("last_sent_callee_id_name", ch.profile.cid_name or ch.profile.cid_num),
                        ("last_sent_callee_id_number", ch.profile.cid_num)):
        leg.set_var(name, value)
    if ch.far is not None and ch.far.caller is not None:
        ch.far.caller.on_bridge(leg)
    while not ch.status.hungup and not leg.status.hungup:
        reason, _ = ch.wait_media(math.inf, dtmf="collect" if on_dtmf else "keep", nested=False,
                                  wake_returns=True)
        if reason == "dtmf" and on_dtmf is not None and not on_dtmf(ch.take_dtmf()):
            break
        if reason == "break":
            break
    if joined and ch.status.hungup and not leg.status.hungup:
        _unwind_joined(ch, leg)
    ch.set_var("bridge_to", None)
    ch.set_var("bridge_hangup_cause", leg.status.hangup_cause or ch.status.hangup_cause or "NORMAL_CLEARING")
    leg.set_var("bridge_to", None)
    if not leg.status.hungup:   # a leg that already ended recorded it itself (_unwind_joined)
        leg.set_var("last_bridge_hangup_cause", ch.status.hangup_cause or "NORMAL_CLEARING")
    ch.fire("CHANNEL_UNBRIDGE", pre=[("Bridge-A-Unique-ID", ch.uuid), ("Bridge-B-Unique-ID", leg.uuid)])
    ch.links.bridged_to = None
    leg.links.bridged_to = None
    if not leg.status.hungup and not leg.run.transfer_to and not inner:   # a leg uuid_bridge'd away lives on
        if is_true(leg.get_var("park_after_bridge")):
            # audio_bridge_on_exchange_media: the bridged-to leg parks instead of hanging up
            leg.run.program = park_after_bridge
            leg.queue.wake.set()
        else:
            leg.hangup("NORMAL_CLEARING")


def release_partner(ch: Channel, timeout: float = 2.0) -> None:
    """ch's loopback partner leaves its app (still answered) and ends, as FreeSWITCH's media
    thread makes it one frame after ch hung up (captured in the callcenter transcripts)."""
    peer = ch.links.peer
    if peer is not None and not peer.status.hungup:
        peer.run.break_out = True
        peer.run.break_requested = True
        peer.queue.wake.set()
        gevent.wait([peer.status.ended], timeout=timeout)


def _unwind_joined(ch: Channel, leg: Channel) -> None:
    """ch of a uuid_bridge hung up (callcenter_queue capture, member killed): its bridge
    thread notices one frame later, so first its loopback partner leaves its app (still
    answered) and ends, then the joined leg ends, and only then ch unbridges."""
    release_partner(ch)
    leg.set_var("last_bridge_hangup_cause", ch.status.hangup_cause or "NORMAL_CLEARING")
    leg.hangup(ch.status.hangup_cause or "NORMAL_CLEARING")
    gevent.wait([leg.status.ended], timeout=2.0)


def after_bridge(ch: Channel, peer: Channel, uuid_bridge: bool = False) -> None:
    """The end of switch_ivr_multi_threaded_bridge for the leg that ran it (ch), when the
    bridge ended because the peer went away: park_after_bridge parks ch (an outbound socket
    that controls it gets the channel back: its next sendmsg runs), hangup_after_bridge
    hangs it up with the peer's cause (only if the peer answered, unless "explicit").
    Otherwise a `bridge` app simply returns; after `uuid_bridge` the channel goes back to
    CS_EXECUTE and runs the rest of its extension (uuid_bridge_on_soft_execute)."""
    if ch.status.hungup or ch.run.transfer_to or ch.run.program is not None:
        return   # gone, transferred, or already sent somewhere else
    if is_true(ch.get_var("park_after_bridge")):
        if not uuid_bridge and ("socket" in ch.run.app_stack or "park" in ch.run.app_stack):
            return   # `bridge` run from a park loop (an outbound socket's): it stays parked there
        ch.run.program = park_after_bridge
        return
    hup = (ch.get_var("hangup_after_bridge") or "").strip().lower()
    peer_answered = peer.profile.times["Channel-Answered-Time"] > 0
    if hup == "explicit" or (peer_answered and is_true(hup)):
        ch.hangup(peer.status.hangup_cause or "NORMAL_CLEARING")
        return
    if uuid_bridge:
        ch.run.program = Channel.run_extension


def park_after_bridge(ch: Channel) -> None:
    """switch_ivr_park_session(): CS_PARK, CHANNEL_PARK, then park until hangup (or until
    the socket app that controls the channel goes away)."""
    ch.set_state("CS_PARK")
    ch.park_loop()

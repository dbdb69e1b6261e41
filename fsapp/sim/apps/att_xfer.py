"""att_xfer: the attended transfer of mod_dptools (att_xfer_function / att_thread_run in
FreeSWITCH 1.10), usually run on an agent's leg by a bind_meta_app key during a call.

    att_xfer <dial string>          e.g. att_xfer user/1003

On the channel that runs it (the transferer, A), bridged to a partner (the bond, B: the
caller):
1. soft_holding_uuid = B; A dials the dial string (switch_ivr_originate from A). If that
   fails, signal_bond = B and the application ends: A is still with B.
2. A and the consulted party (C) are bridged as an inner bridge (CF_INNER_BRIDGE: neither
   is hung up or parked when it ends). A's keys during it (xfer_on_dtmf): `*` hangs up A
   (the transfer completes), `#` hangs up C (back to the caller). `0` (three_way) is not
   emulated.
3. When that bridge ends: signal_bond = B on A. If C is still up and A is not (the agent
   hung up: the usual way to complete), `uuid_bridge C B` puts the caller through to C
   and att_xfer_result (success or failure) is set on C. Otherwise (C hung up or was
   sent away) `uuid_bridge A B` takes A back to the caller and att_xfer_result goes on A.
4. soft_holding_uuid is cleared.

So A's CHANNEL_HANGUP after a completed transfer carries current_application=att_xfer,
current_application_data=the dial string, soft_holding_uuid=B and last_bridge_to=C:
fsapp.routing.transfers reads a completed attended transfer from exactly that.
"""
from __future__ import annotations

from ..bridging import connect
from ..channel import Channel
from ..legs import DialError, new_leg, originate_timeout, parse_vars, start_leg, wait_answer
from ..registry import application


@application("att_xfer")
def att_xfer(ch: Channel, arg: str) -> None:
    bond = ch.links.bridged_to                                  # switch_channel_get_partner_uuid
    bond_uuid = bond.uuid if bond is not None else ""
    ch.set_var("soft_holding_uuid", bond_uuid or None)
    try:
        peer = _dial(ch, arg)
        if peer is None:
            ch.set_var("signal_bond", bond_uuid or None)
            return
        connect(ch, peer, inner=True, on_dtmf=lambda digit: _xfer_on_dtmf(ch, peer, digit))
        if bond is None:
            return
        ch.set_var("signal_bond", bond_uuid)
        if not peer.status.hungup and ch.status.hungup:
            # the transferer left while talking to C: the caller goes to C
            peer.set_var("att_xfer_result", _uuid_bridge(ch, peer.uuid, bond_uuid))
            return
        if not ch.status.hungup:
            # C is gone (or the bridge broke): back to the caller
            ch.links.bridged_to = bond if not bond.status.hungup else None
            ch.set_var("att_xfer_result", _uuid_bridge(ch, ch.uuid, bond_uuid))
    finally:
        ch.set_var("soft_holding_uuid", None)


def _dial(ch: Channel, arg: str) -> Channel | None:
    """switch_ivr_originate(session, ...) with the dial string: the answered leg, or None."""
    try:
        vars_, endpoint = parse_vars(arg)
        peer = new_leg(ch.services, endpoint.strip(), vars_, vars_.get("origination_caller_id_number") or ch.profile.cid_num,
                       vars_.get("origination_caller_id_name") or ch.profile.cid_name)
    except DialError:
        return None
    ch.services.record_originate("att_xfer", arg, vars_, endpoint)
    # not peer.links.originator: the consultation is an inner bridge (CF_INNER_BRIDGE), so the
    # transferer's hangup does not take the consulted leg with it (the bridge app's would)
    peer.links.other, peer.links.other_type = ch, "originator"
    start_leg(ch.services, peer)
    timeout = originate_timeout({**ch.vars, **vars_})
    if wait_answer(peer, timeout, early_ok=False, dialler=ch) is not None:
        return None
    return peer


def _xfer_on_dtmf(ch: Channel, peer: Channel, digit: str) -> bool:
    """The consultation's DTMF callback: * hangs up the transferer, # the consulted party."""
    if digit == "*":
        ch.hangup("NORMAL_CLEARING")
        return False
    if digit == "#":
        peer.hangup("NORMAL_CLEARING")
        return False
    return True


def _uuid_bridge(ch: Channel, a: str, b: str) -> str:
    """switch_ivr_uuid_bridge, as the application calls it; its result as att_xfer_result."""
    answer = ch.services.api.execute("uuid_bridge", f"{a} {b}")
    return "success" if answer.startswith("+OK") else "failure"

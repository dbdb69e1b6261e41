"""Transfers made from the agent's phone, read from the agent leg's CHANNEL_HANGUP.

mod_sofia handles a phone's REFER itself (sofia_handle_sip_i_refer): a blind transfer
moves the bridged caller to the Refer-To extension and sets the agent leg's
endpoint_disposition to BLIND_TRANSFER (sip_refer_to holds the target); an attended
one (REFER with Replaces) bridges the caller with the consulted party and sets
ATTENDED_TRANSFER. The agent's leg then hangs up: its CHANNEL_HANGUP carries both
variables, so the router can tell a transfer from a plain end of the talk.

An attended transfer made by FreeSWITCH itself (mod_dptools' att_xfer, run on the agent's
leg by a bind_meta_app key) leaves other marks on that leg's CHANNEL_HANGUP: the
application is att_xfer with the dial string as its data, soft_holding_uuid still names
the caller it holds (cleared when att_xfer ends without a transfer) and last_bridge_to is
the consulted leg (not the caller): the agent hung up while talking to the colleague, and
att_xfer then bridges the caller to them.
"""
from __future__ import annotations

import re

DISPOSITIONS = {"BLIND_TRANSFER": "blind", "ATTENDED_TRANSFER": "attended"}
_REFER_USER = re.compile(r"sips?:([^@;>]+)")
_SAFE = re.compile(r"[^0-9A-Za-z+*#._-]")
_VARS = re.compile(r"^(?:\s*(?:\{[^}]*\}|\[[^\]]*\]|<[^>]*>))*")   # {a=b}[c=d]<e=f> before the endpoint


def phone_transfer(event) -> str | None:
    """'blind:2000' (the Refer-To user), 'attended', or None when the leg's end was not a
    transfer. The target comes from the network: only a short run of dial-string-safe
    characters is kept."""
    kind = DISPOSITIONS.get(event.get("variable_endpoint_disposition") or "")
    if kind is None:
        return att_xfer_transfer(event)
    found = _REFER_USER.search(event.get("variable_sip_refer_to") or "")
    target = _SAFE.sub("", found.group(1))[:60] if found else ""
    return f"{kind}:{target}" if target else kind


def att_xfer_transfer(event) -> str | None:
    """'attended:1003' when the leg hung up in att_xfer's consultation (see above): the
    target is the dial string's last part (user/1003, sofia/gateway/gw/95598), cut to a
    short run of dial-string-safe characters."""
    if (event.get("variable_current_application") or "") != "att_xfer":
        return None
    held = event.get("variable_soft_holding_uuid") or ""
    consulted = event.get("variable_last_bridge_to") or ""
    if not held or not consulted or consulted == held:
        return None
    dial = _VARS.sub("", event.get("variable_current_application_data") or "")
    target = _SAFE.sub("", dial.rsplit("/", 1)[-1].split("@", 1)[0])[:60]
    return f"attended:{target}" if target else "attended"

"""Transfers made from the agent's phone, read from the agent leg's CHANNEL_HANGUP.

mod_sofia handles a phone's REFER itself (sofia_handle_sip_i_refer): a blind transfer
moves the bridged caller to the Refer-To extension and sets the agent leg's
endpoint_disposition to BLIND_TRANSFER (sip_refer_to holds the target); an attended
one (REFER with Replaces) bridges the caller with the consulted party and sets
ATTENDED_TRANSFER. The agent's leg then hangs up: its CHANNEL_HANGUP carries both
variables, so the router can tell a transfer from a plain end of the talk.
"""
from __future__ import annotations

import re

DISPOSITIONS = {"BLIND_TRANSFER": "blind", "ATTENDED_TRANSFER": "attended"}
_REFER_USER = re.compile(r"sips?:([^@;>]+)")
_SAFE = re.compile(r"[^0-9A-Za-z+*#._-]")


def phone_transfer(event) -> str | None:
    """'blind:2000' (the Refer-To user), 'attended', or None when the leg's end was not a
    transfer. The target comes from the network: only a short run of dial-string-safe
    characters is kept."""
    kind = DISPOSITIONS.get(event.get("variable_endpoint_disposition") or "")
    if kind is None:
        return None
    found = _REFER_USER.search(event.get("variable_sip_refer_to") or "")
    target = _SAFE.sub("", found.group(1))[:60] if found else ""
    return f"{kind}:{target}" if target else kind

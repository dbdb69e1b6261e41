"""What fsapp accepts as a caller's number and name when it forwards them.

Caller ids come from the network (a SIP From header, a trunk's ANI) and are hostile:
fsapp never passes them on as they came. The policy (docs/esl.md, "Caller data and
FreeSWITCH syntax"):

* number: an optional leading `+`, then digits, `*` and `#`, 1 to 32 of them. Anything
  else (letters, spaces, brackets, `anonymous`, 10 kB of junk) means the number is
  unknown: None. It is never trimmed into a number that looks real, since a callback
  or an affinity lookup would then reach someone else.
* name: printable text (any script, emoji included), at most 64 characters. Line
  breaks, tabs and FreeSWITCH syntax characters (`{ } [ ] < > | $ \\ ^ :`) become
  spaces; other control and format characters (NUL, bidi overrides) are removed; runs of
  spaces become one. An empty result is None.

What is changed or dropped is logged once, as a warning with the raw value's repr
(cut at 64 characters) and length. Nothing here raises: a bad caller id never stops
a call.
"""
from __future__ import annotations

import re
import unicodedata

from fsapp.log import get_logger

log = get_logger("fsapp.esl.callerid")

NUMBER = re.compile(r"\+?[0-9*#]{1,32}")
NAME_MAX = 64
NAME_SYNTAX = set("{}[]<>|$\\^:")
_SPACES = re.compile(r"\s+")


def _shown(raw) -> str:
    text = str(raw)
    return repr(text if len(text) <= 64 else text[:64] + "...")


def number(raw, field: str = "caller id number") -> str | None:
    """The number if it is one (see the module doc), else None (logged)."""
    if raw is None or raw == "":
        return None
    text = str(raw)
    if NUMBER.fullmatch(text):
        return text
    log.warning("caller number not forwarded: not +, digits, * or # (1-32)",
                extra={"field": field, "raw": _shown(text), "length": len(text)})
    return None


def name(raw, field: str = "caller id name") -> str | None:
    """The name made safe to show and forward (see the module doc); None if nothing is left."""
    if raw is None or raw == "":
        return None
    text = str(raw)
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if ch in NAME_SYNTAX or category.startswith("Z") or ch.isspace():
            kept.append(" ")
        elif category[0] == "C":      # Cc control, Cf format (bidi overrides), Cs, Co, Cn
            continue
        else:
            kept.append(ch)
    clean = _SPACES.sub(" ", "".join(kept)).strip()[:NAME_MAX].strip()
    if clean != text:
        log.warning("caller name changed before forwarding",
                    extra={"field": field, "raw": _shown(text), "length": len(text), "forwarded": clean})
    return clean or None

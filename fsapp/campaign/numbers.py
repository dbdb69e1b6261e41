"""Contact numbers come from customer data and are hostile: only digits with an optional
leading + reach a dial string. Until fsapp.esl has one escaping mechanism for dial
strings, anything else is refused (the contact ends 'invalid', with the reason)."""
from __future__ import annotations

import re

_NUMBER = re.compile(r"^\+?[0-9]{3,20}$")
_SEPARATORS = str.maketrans("", "", " -")   # "138 0013 8000", "0755-1234567" are common in lists


def clean_number(raw) -> str | None:
    """The number to dial, or None when it is not a plain phone number."""
    if not isinstance(raw, (str, int)) or isinstance(raw, bool):
        return None
    text = str(raw).strip().translate(_SEPARATORS)
    return text if _NUMBER.match(text) else None


def dial_string(template: str, number: str, gateway: str) -> str:
    """Fill a validated template (fsapp.campaign.loader.TEMPLATE_RE) with a clean number."""
    if clean_number(number) != number:
        raise ValueError(f"not a clean number: {number!r}")
    return template.replace("{gateway}", gateway).replace("{number}", number)

"""Turning what a flow hands the say engine (ints, strings from a database, Decimals,
dates) into exact values, with errors that say what was wrong.

Floats are accepted but go through their shortest repr, so 1.1 is 1.1 and not
1.100000000000000088817841970012523 (Decimal(1.1) would be).
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal


class SayError(ValueError):
    """A value, kind, language or option the say engine cannot read out."""


_NUMBER_TEXT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")


def to_decimal(value, what: str = "number") -> Decimal:
    if isinstance(value, bool):
        raise SayError(f"{what}: got a boolean {value!r}; pass a number")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        result = Decimal(repr(value)) if value == value and abs(value) != float("inf") else None
    elif isinstance(value, str) and _NUMBER_TEXT.match(value.strip()):
        result = Decimal(value.strip())
    else:
        result = None
    if result is None or not result.is_finite():
        raise SayError(f"{what}: {value!r} is not a number (expected e.g. 123, -5, '123.45')")
    return result


def to_int(value, what: str) -> int:
    number = to_decimal(value, what)
    if number != number.to_integral_value():
        raise SayError(f"{what}: {value!r} is not a whole number")
    return int(number)


def to_cents(value, what: str = "money") -> int:
    """Amount in hundredths (fen / cents), rounded half up: billing systems hand out
    computed amounts like 12.345, and callers are told the amount they will pay."""
    amount = to_decimal(value, what).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return int(amount * 100)


def fraction_digits(number: Decimal) -> tuple[str, str]:
    """('123', '45') for 123.45, keeping the fraction digits as given ('1.10' -> '10')."""
    text = format(abs(number), "f")
    whole, _, fraction = text.partition(".")
    return whole, fraction


def to_date(value, what: str = "date") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SayError(f"{what}: {value!r} is not a date (expected datetime.date or 'YYYY-MM-DD')")


def to_time(value, what: str = "time") -> dt.time:
    if isinstance(value, dt.datetime):
        return value.time()
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        try:
            return dt.time.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SayError(f"{what}: {value!r} is not a time (expected datetime.time or 'HH:MM[:SS]')")


def digit_string(value, what: str = "digits") -> str:
    """Phone numbers, serials and ID numbers: digits, '*', '#' and the letter X (the check
    character of China's resident ID, upper or lower case; returned as 'X'); spaces and
    dashes are dropped because numbers often arrive formatted ('138-0013-8000')."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise SayError(f"{what}: {value!r} is not a digit string")
    if isinstance(value, int) and value < 0:
        raise SayError(f"{what}: {value!r} is negative; pass the digits as a string")
    text = re.sub(r"[\s-]", "", str(value)).replace("x", "X")
    bad = sorted(set(ch for ch in text if ch not in "0123456789*#X"))
    if bad or not text:
        raise SayError(f"{what}: {value!r} has characters other than digits, '*', '#' and X"
                       + (f": {''.join(bad)!r}" if bad else " (it is empty)"))
    return text


def to_datetime(value, what: str = "datetime") -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip())
        except ValueError:
            pass
    raise SayError(f"{what}: {value!r} is not a date and time (expected datetime.datetime or "
                   f"'YYYY-MM-DD HH:MM[:SS]')")

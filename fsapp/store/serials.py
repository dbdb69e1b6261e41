"""Ticket serial numbers: 8 digits, the last a Luhn check digit.

A caller reads the serial back over the phone later, digit by digit, often from a
scribbled note; the check digit lets the status-lookup flow reject a mistyped serial
("that number is not valid") before asking the database. Luhn (ISO/IEC 7812-1) catches
every single-digit error and almost every swap of two adjacent digits.

    serial = f"{n:07d}" + check digit      n in 1 .. 9_999_999

Algorithm (the same one payment cards use): going from the rightmost payload digit
leftwards, double every other digit starting with the rightmost; subtract 9 from any
result above 9; sum everything; the check digit is (10 - sum % 10) % 10.
Example: payload 0000001 -> doubled 2 -> check 8 -> serial 00000018.

Numbers come from hi/lo blocks reserved in the fsapp_serial_blocks table (see
fsapp.store.serial_alloc), so every worker draws from its own range.
"""
from __future__ import annotations

PAYLOAD_DIGITS = 7
MAX_NUMBER = 10 ** PAYLOAD_DIGITS - 1


def luhn_check_digit(payload: str) -> str:
    if not payload.isdigit():
        raise ValueError(f"Luhn payload must be digits, got {payload!r}")
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # rightmost payload digit is doubled (the check digit will sit right of it)
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def format_serial(number: int) -> str:
    if not 1 <= number <= MAX_NUMBER:
        raise ValueError(f"ticket number {number} is outside 1..{MAX_NUMBER}")
    payload = f"{number:0{PAYLOAD_DIGITS}d}"
    return payload + luhn_check_digit(payload)


def is_valid_serial(s: object) -> bool:
    """True for an 8-digit string whose last digit is the Luhn check digit of the first 7."""
    if not isinstance(s, str) or len(s) != PAYLOAD_DIGITS + 1 or not s.isascii() or not s.isdigit():
        return False
    if s[:-1] == "0" * PAYLOAD_DIGITS:
        return False
    return luhn_check_digit(s[:-1]) == s[-1]

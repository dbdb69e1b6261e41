"""US English (en-US): numbers, money, dates, times, digits and ordinals as prompt names.

Every name is "say/en/<piece>"; sounds/catalog.yaml holds the text of each piece.
Numbers are US style without "and" (101 = one hundred one); 21 is two prompts
("twenty", "one"), so 0-19, the tens and the scale words cover every number.
Money defaults to CNY, because the utilities fsapp serves bill in yuan:
"twelve yuan and fifty fen" (fen, the hundredth, plays the role of cents; jiao is
not used in English). currency="USD" gives dollars and cents.
"""
from __future__ import annotations

from fsapp.say.values import (SayError, digit_string, fraction_digits, to_cents, to_date,
                              to_datetime, to_decimal, to_int, to_time)

LANG = "en-US"
P = "say/en/"
MAX_NUMBER = 10 ** 15  # up to 999 trillion

MINUS, POINT, AND, OH, AM, PM = P + "minus", P + "point", P + "and", P + "oh", P + "am", P + "pm"
HUNDRED = P + "hundred"
SCALES = [(10 ** 12, "trillion"), (10 ** 9, "billion"), (10 ** 6, "million"), (10 ** 3, "thousand")]
CURRENCIES = {  # code -> (whole singular, whole plural, hundredth singular, hundredth plural)
    "CNY": ("yuan", "yuan", "fen", "fen"),
    "USD": ("dollar", "dollars", "cent", "cents"),
}
STAR, POUND, X = P + "star", P + "pound", P + "x"


def _word(n: int) -> str:
    return f"{P}{n}"  # 0-19 and 20, 30, ... 90


def _below_1000(n: int) -> list[str]:
    out: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        out += [_word(hundreds), HUNDRED]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        out.append(_word(tens * 10))
        if ones:
            out.append(_word(ones))
    elif rest:
        out.append(_word(rest))
    return out


def _integer(n: int) -> list[str]:
    if n == 0:
        return [_word(0)]
    out: list[str] = []
    for size, name in SCALES:
        if n >= size:
            out += _below_1000(n // size) + [P + name]
            n %= size
    return out + _below_1000(n)


def _check_range(n: int, what: str) -> None:
    if abs(n) >= MAX_NUMBER:
        raise SayError(f"{what}: {n} is too large for en-US (limit {MAX_NUMBER - 1})")


def _ordinalize(names: list[str]) -> list[str]:
    """The last word of a cardinal takes the ordinal form: twenty one -> twenty first."""
    last = names[-1][len(P):]
    return names[:-1] + [f"{P}ord/{last}"]


def number(value) -> list[str]:
    """Integer or decimal: -12.05 -> minus twelve point zero five (fraction digit by digit)."""
    num = to_decimal(value, "en-US number")
    whole, fraction = fraction_digits(num)
    _check_range(int(whole), "en-US number")
    out = [MINUS] if num < 0 and num != 0 else []
    out += _integer(int(whole))
    if fraction:
        out.append(POINT)
        out += [_word(int(d)) for d in fraction]
    return out


def digits(value) -> list[str]:
    """Digit by digit: 911 -> nine one one; '*' star, '#' pound, the ID letter X "X"."""
    names = {"*": STAR, "#": POUND, "X": X}
    return [names.get(ch) or _word(int(ch)) for ch in digit_string(value, "en-US digits")]


def money(value, *, currency: str = "CNY") -> list[str]:
    """12.50 -> twelve yuan and fifty fen (CNY, default) or twelve dollars and fifty
    cents (USD); 0.05 -> five fen; 1 -> one yuan / one dollar. Rounded half up."""
    if currency not in CURRENCIES:
        raise SayError(f"en-US money: currency {currency!r} is not supported; "
                       f"use {' or '.join(CURRENCIES)}")
    one, many, hundredth, hundredths = CURRENCIES[currency]
    cents = to_cents(value, "en-US money")
    _check_range(abs(cents) // 100, "en-US money")
    whole, part = divmod(abs(cents), 100)
    out = [MINUS] if cents < 0 else []
    if whole or not part:
        out += _integer(whole) + [P + (one if whole == 1 else many)]
    if part:
        if whole:
            out.append(AND)
        out += _integer(part) + [P + (hundredth if part == 1 else hundredths)]
    return out


def ordinal(value) -> list[str]:
    """21 -> twenty first; 100 -> one hundredth; 0 -> zeroth."""
    n = to_int(value, "en-US ordinal")
    if n < 0:
        raise SayError(f"en-US ordinal: {n} is negative")
    _check_range(n, "en-US ordinal")
    return _ordinalize(_integer(n))


def _year(year: int) -> list[str]:
    """US usage: 2026 twenty twenty-six, 1905 nineteen oh five, 1900 nineteen hundred,
    2000-2009 two thousand (five)."""
    high, low = divmod(year, 100)
    if not 1000 <= year <= 9999 or (high % 10 == 0 and low < 10):
        return _integer(year)
    if low == 0:
        return _integer(high) + [HUNDRED]
    if low < 10:
        return _integer(high) + [OH, _word(low)]
    return _integer(high) + _integer(low)


def date(value, *, weekday: bool = True, year: bool = True) -> list[str]:
    """2026-11-28 -> Saturday, November twenty-eighth, twenty twenty-six."""
    day = to_date(value, "en-US date")
    out = [f"{P}weekday/{day.isoweekday()}"] if weekday else []
    out += [f"{P}month/{day.month}"] + _ordinalize(_integer(day.day))
    if year:
        out += _year(day.year)
    return out


def time(value, *, clock: int = 12) -> list[str]:
    """15:05 -> three oh five PM; 15:00 -> three PM; clock=24: fifteen oh five,
    fifteen hundred."""
    moment = to_time(value, "en-US time")
    if clock not in (12, 24):
        raise SayError(f"en-US time: clock must be 12 or 24, not {clock!r}")
    hour, minute = moment.hour, moment.minute
    out = _integer(hour % 12 or 12) if clock == 12 else _integer(hour)
    if minute == 0 and clock == 24:
        out.append(HUNDRED)
    elif minute:
        out += ([OH] if minute < 10 else []) + _integer(minute)
    if clock == 12:
        out.append(AM if hour < 12 else PM)
    return out


def datetime(value, *, weekday: bool = True, year: bool = True, clock: int = 12) -> list[str]:
    """2026-11-28 15:05 -> Saturday, November twenty-eighth, twenty twenty-six, three oh five PM."""
    moment = to_datetime(value, "en-US datetime")
    return date(moment, weekday=weekday, year=year) + time(moment, clock=clock)


# `currency` is FreeSWITCH's name for the say type (`money` is not one); both stay.
KINDS = {"digits": digits, "number": number, "money": money, "currency": money, "date": date,
         "time": time, "datetime": datetime, "ordinal": ordinal}

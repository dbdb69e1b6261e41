"""Mandarin (zh-CN): numbers, money, dates, times, digits and ordinals as prompt names.

Every name is "say/zh/<piece>"; sounds/catalog.yaml holds the text of each piece.

Rules implemented (see docs/prompts.md for examples):
- grouping by 万 (10^4) and 亿 (10^8), recursively, so 10^12 is 一万亿;
- 零: one 零 for any run of zeros *between* non-zero digits, none for trailing zeros
  (1001 一千零一, 1000 一千, 10010 一万零一十, 100010000 一亿零一万);
- 十 at the very start drops its 一 (10 十, 100000 十万) but not inside (110 一百一十);
- 两 (liang) instead of 二 before 百/千 (两百, 一千两百), for a bare 2 before 万/亿
  (两万, 两亿) and before measure words (两元, 两角, 两点); 二 elsewhere (二十, 十二万,
  零二分). liang=False gives the formal 二 everywhere;
- digits: 1 is 幺 (yao) by default, as in phone numbers and ticket serials.
"""
from __future__ import annotations

from fsapp.say.values import (SayError, digit_string, fraction_digits, to_cents, to_date,
                              to_datetime, to_decimal, to_int, to_time)

LANG = "zh-CN"
P = "say/zh/"
MAX_NUMBER = 10 ** 16  # up to 9999万亿; above that Chinese needs 兆/亿亿, rarely spoken

_DIGIT = [P + str(d) for d in range(10)]
LING, LIANG, YAO = P + "0", P + "liang", P + "yao"
SHI, BAI, QIAN, WAN, YI = P + "shi", P + "bai", P + "qian", P + "wan", P + "yi"
FU, DIAN, DI = P + "fu", P + "dian", P + "di"
YUAN, JIAO, FEN, ZHENG = P + "yuan", P + "jiao", P + "fen", P + "zheng"
MEIYUAN, MEIFEN = P + "meiyuan", P + "meifen"
NIAN, YUE, RI = P + "nian", P + "yue", P + "ri"
WEEKDAY = {n: f"{P}weekday/{n}" for n in range(1, 8)}  # ISO: 1 = 星期一 ... 7 = 星期日
STAR, POUND, X = P + "star", P + "pound", P + "x"
PERIODS = [  # (first hour, prompt): 12-hour clock periods of the day
    (0, P + "lingchen"), (6, P + "zaoshang"), (9, P + "shangwu"), (12, P + "zhongwu"),
    (13, P + "xiawu"), (18, P + "wanshang")]


def _below_10000(n: int, *, leading: bool, bare_two: bool, liang: bool) -> list[str]:
    """1..9999. leading: first group of the whole number (十 drops its 一).
    bare_two: if the whole group is 2, say 两 (a unit or measure word follows it)."""
    out: list[str] = []
    pending_zero = False
    places = [(1000, QIAN), (100, BAI), (10, SHI), (1, None)]
    for value, unit in places:
        digit = n // value % 10
        if digit == 0:
            pending_zero = bool(out)  # zeros count only after a non-zero digit
            continue
        if pending_zero:
            out.append(LING)
            pending_zero = False
        if unit == SHI and digit == 1 and not out and leading:
            pass  # 十, 十五: not 一十 at the start of a number
        elif digit == 2 and liang and (unit in (QIAN, BAI) or (unit is None and n == 2 and bare_two)):
            out.append(LIANG)
        else:
            out.append(_DIGIT[digit])
        if unit:
            out.append(unit)
    return out


def _integer(n: int, *, leading: bool = True, measure: bool = False, liang: bool = True) -> list[str]:
    """0 <= n < MAX_NUMBER, grouped by 亿 then 万. measure: a measure word (元, 角, 点)
    follows, so a number that is just 2 is 两 (两元); after other digits it stays 二
    (一百零二元), while a bare 2 before 万/亿 is always 两 (两万, 一亿零两万)."""
    if n == 0:
        return [LING]
    for size, unit in ((10 ** 8, YI), (10 ** 4, WAN)):
        if n >= size:
            high, low = divmod(n, size)
            out = _integer(high, leading=leading, measure=True, liang=liang) + [unit]
            if low:
                if low < size // 10:  # a gap of zeros right after the unit: 一万零五
                    out.append(LING)
                out += _integer(low, leading=False, measure=False, liang=liang)
            return out
    return _below_10000(n, leading=leading, bare_two=measure, liang=liang)


def _check_range(n: int, what: str) -> None:
    if abs(n) >= MAX_NUMBER:
        raise SayError(f"{what}: {n} is too large for zh-CN (limit {MAX_NUMBER - 1})")


def number(value, *, liang: bool = True, measure: bool = False) -> list[str]:
    """Integer or decimal, e.g. -12.05 -> 负十二点零五. Fraction digits are read one by
    one, as given ('1.10' -> 一点一零). measure: a measure word follows (位, 分钟, 个),
    so a whole number that is just 2 is 两 (两位, 两分钟) and not 二."""
    num = to_decimal(value, "zh-CN number")
    whole, fraction = fraction_digits(num)
    _check_range(int(whole), "zh-CN number")
    out = [FU] if num < 0 and num != 0 else []
    out += _integer(int(whole), liang=liang, measure=measure and not fraction)
    if fraction:
        out.append(DIAN)
        out += [_DIGIT[int(d)] for d in fraction]
    return out


def digits(value, *, yao: bool = True) -> list[str]:
    """Digit by digit: 13800138000 -> 幺三八零零幺三八零零零 (yao=False: 一三八...);
    the resident ID's check letter X is read as the letter, * and # as 星号 and 井号."""
    names = {"*": STAR, "#": POUND, "X": X}
    return [names.get(ch) or (YAO if ch == "1" and yao else _DIGIT[int(ch)])
            for ch in digit_string(value, "zh-CN digits")]


def money(value, *, currency: str = "CNY", zheng: bool = False, liang: bool = True) -> list[str]:
    """CNY: 123.45 -> 一百二十三元四角五分; 100.05 -> 一百元零五分; 0.5 -> 五角;
    zheng=True adds 整 to amounts without fen (一百元整). USD: 美元 and 美分.
    Amounts are rounded half up to the fen."""
    cents = to_cents(value, "zh-CN money")
    _check_range(abs(cents) // 100, "zh-CN money")
    whole, part = divmod(abs(cents), 100)
    out = [FU] if cents < 0 else []
    if currency == "USD":
        if whole or not part:
            out += _integer(whole, measure=True, liang=liang) + [MEIYUAN]
        if part:
            out += _integer(part, measure=True, liang=liang) + [MEIFEN]
        return out
    if currency != "CNY":
        raise SayError(f"zh-CN money: currency {currency!r} is not supported; use CNY or USD")
    jiao, fen = divmod(part, 10)
    if whole or not part:
        out += _integer(whole, measure=True, liang=liang) + [YUAN]
    if jiao:
        out += _integer(jiao, measure=True, liang=liang) + [JIAO]
    if fen:
        if whole and not jiao:
            out.append(LING)  # 一百元零五分: the missing 角 is spoken as 零
        out += [_DIGIT[fen], FEN]
    elif zheng:
        out.append(ZHENG)
    return out


def ordinal(value, *, liang: bool = False) -> list[str]:
    """第 + number: 第一, 第二, 第十一, 第二百 (ordinals keep the formal 二)."""
    n = to_int(value, "zh-CN ordinal")
    if n < 0:
        raise SayError(f"zh-CN ordinal: {n} is negative")
    _check_range(n, "zh-CN ordinal")
    return [DI] + _integer(n, liang=liang)


def date(value, *, weekday: bool = True, year: bool = True) -> list[str]:
    """2026-11-28 -> 二零二六年十一月二十八日 星期六. The year is read digit by digit."""
    day = to_date(value, "zh-CN date")
    out = [_DIGIT[int(d)] for d in str(day.year)] + [NIAN] if year else []
    out += _integer(day.month, liang=False) + [YUE] + _integer(day.day, liang=False) + [RI]
    if weekday:
        out.append(WEEKDAY[day.isoweekday()])
    return out


def time(value, *, clock: int = 12) -> list[str]:
    """15:05 -> 下午三点零五分 (clock=24: 十五点零五分); 14:00 -> 下午两点.
    Hour 0 is 零点 (凌晨零点三十分), as midnight is said in Mandarin."""
    moment = to_time(value, "zh-CN time")
    if clock not in (12, 24):
        raise SayError(f"zh-CN time: clock must be 12 or 24, not {clock!r}")
    hour = moment.hour
    out: list[str] = []
    if clock == 12:
        out.append([name for first, name in PERIODS if hour >= first][-1])
        if hour > 12:
            hour -= 12
    out += _integer(hour, measure=True) + [DIAN]
    if moment.minute:
        if moment.minute < 10:
            out.append(LING)
        out += _integer(moment.minute, liang=False) + [FEN]
    return out


def datetime(value, *, weekday: bool = True, year: bool = True, clock: int = 12) -> list[str]:
    """2026-11-28 15:05 -> 二零二六年十一月二十八日 星期六 下午三点零五分."""
    moment = to_datetime(value, "zh-CN datetime")
    return date(moment, weekday=weekday, year=year) + time(moment, clock=clock)


# `currency` is FreeSWITCH's name for the say type (`money` is not one); both stay.
KINDS = {"digits": digits, "number": number, "money": money, "currency": money, "date": date,
         "time": time, "datetime": datetime, "ordinal": ordinal}

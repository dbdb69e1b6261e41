"""The `say` application as FreeSWITCH 1.10.12 runs it (captures: say_zh_money).

`say <lang> <type> <method> [gender] <text>` first looks up the language in the phrase
configuration (`sw.say_languages`: name -> (say module, sound-prefix); the vanilla
config has only `en`). An unknown language logs `Can't find language <lang>.` and plays
nothing. Otherwise the channel's sound_prefix becomes the language's (unless
`sound_prefix_enforced=true`), and the say module turns the text into sound files under
that prefix:

* mod_say_en builds one `file_string://a!b!...` of relative paths and plays it: one
  PLAYBACK_START/STOP pair when a file exists; each missing file logs mod_sndfile's
  WARNING and mod_dptools' `Can't open file` ERR and is skipped.
* mod_say_zh plays file by file (absolute paths, a PLAYBACK pair each). A missing file
  logs the WARNING only; it abandons the rest of that number, and a missing unit word
  (currency/...) ends the say. `zh` reads currency in dollar/cent, `zh_CN` in
  yuan/jiao/fen. A type it does not know logs `Unknown Say type=[19]`.

What is emulated: the types `number` and `currency` (`money` is not a FreeSWITCH say
type), amounts below 10^8; other types play nothing (logged on fsapp.sim only). Every
say ends with Application-Response `_none_`: nothing on the wire shows a failure except
the log lines (sent to sockets that asked with `log <level>`).
"""
from __future__ import annotations

import logging
import os
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .. import media
from ..registry import application
from .dptools import play_one

log = logging.getLogger("fsapp.sim")


SAY_TYPES = ("number", "items", "persons", "messages", "currency", "time_measurement", "current_date",
             "current_time", "current_date_time", "telephone_number", "telephone_extension", "url",
             "ip_address", "email_address", "postal_address", "account_number", "name_spelled",
             "name_phonetic", "short_date_time")
UNKNOWN_TYPE = 19   # switch_ivr_get_say_type_by_name's answer for a name not in SAY_TYPES


class _Missing(Exception):
    pass


@application("say")
def app_say(ch, arg: str) -> None:
    words = arg.split()
    if len(words) < 4:
        log.info("sim: say needs <lang> <type> <method> <text>, got %r", arg)
        return
    lang, say_type, text = words[0], words[1], words[-1]
    services = ch.services
    language = services.say_languages.get(lang)
    if language is None:
        services.log_line(3, "switch_xml.c", "switch_xml_locate_language_ex", 3326, f"Can't find language {lang}.")
        return
    module, prefix = language
    if (ch.get_var("sound_prefix_enforced") or "").lower() != "true":
        ch.set_var("sound_prefix", prefix)
    prefix = ch.get_var("sound_prefix") or prefix
    if module == "en":
        _say_en(ch, say_type, text, prefix)
    else:
        _say_zh(ch, module, say_type, text, prefix)


# ---- mod_say_en ---------------------------------------------------------------------
def _en_group(n: int) -> list[str]:
    out = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        out += [f"digits/{hundreds}.wav", "digits/hundred.wav"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        out.append(f"digits/{tens * 10}.wav")
        if ones:
            out.append(f"digits/{ones}.wav")
    elif rest or not out:
        out.append(f"digits/{rest}.wav")
    return out


def _en_count(n: int) -> list[str]:
    out = []
    for size, word in ((10 ** 6, "million"), (10 ** 3, "thousand")):
        if n >= size:
            out += _en_group(n // size) + [f"digits/{word}.wav"]
            n %= size
    return out + (_en_group(n) if n or not out else [])


def _amount(text: str) -> tuple[int, int] | None:
    try:
        cents = int((Decimal(text) * 100).quantize(Decimal("1"), rounding=ROUND_HALF_UP))
    except InvalidOperation:
        return None
    return divmod(abs(cents), 100) if abs(cents) < 10 ** 10 else None


def _say_en(ch, say_type: str, text: str, prefix: str) -> None:
    if say_type == "currency":
        amount = _amount(text)
        if amount is None:
            return
        dollars, cents = amount
        files = _en_count(dollars) + ["currency/dollar.wav" if dollars == 1 else "currency/dollars.wav",
                                      "currency/and.wav"] + \
            _en_count(cents) + ["currency/cent.wav" if cents == 1 else "currency/cents.wav"]
    elif say_type == "number" and text.isdigit() and int(text) < 10 ** 9:
        files = _en_count(int(text))
    else:
        log.info("sim: say en %s is not emulated", say_type)
        return
    seconds, found = 0.0, False
    for name in files:
        length = _file_seconds(prefix, name)
        if length is None:
            _log_missing(ch, os.path.join(prefix, name), next_file=True)
            continue
        seconds, found = seconds + length, True
    if found:
        _play(ch, "file_string://" + "!".join(files), seconds)


# ---- mod_say_zh ---------------------------------------------------------------------
def _zh_number(n: int) -> list[str]:
    """digit + unit file per place (123: 1 100 2 10 3), one 0 for a gap, grouped by 10000."""
    if n == 0:
        return ["digits/0.wav"]
    if n >= 10000:
        high, low = divmod(n, 10000)
        return _zh_number(high) + ["digits/10000.wav"] + \
            ((["digits/0.wav"] if low < 1000 else []) + _zh_number(low) if low else [])
    out, gap = [], False
    for place in (1000, 100, 10, 1):
        digit = n // place % 10
        if not digit:
            gap = bool(out)
            continue
        if gap:
            out.append("digits/0.wav")
            gap = False
        out.append(f"digits/{digit}.wav")
        if place > 1:
            out.append(f"digits/{place}.wav")
    return out


def _say_zh(ch, module: str, say_type: str, text: str, prefix: str) -> None:
    if say_type not in SAY_TYPES:
        ch.services.log_line(3, "mod_say_zh.c", "zh_say", 525, f"Unknown Say type=[{UNKNOWN_TYPE}]")
        return
    amount = _amount(text) if say_type in ("currency", "number") else None
    if amount is None or amount[0] >= 10 ** 8:
        log.info("sim: say %s %s %r is not emulated", module, say_type, text)
        return
    whole, part = amount
    if say_type == "number":
        groups = [(_zh_number(whole), False)]
    elif module == "zh_CN":
        jiao, fen = divmod(part, 10)
        groups = [(_zh_number(whole), False), (["currency/yuan.wav"], True)]
        if jiao:
            groups += [([f"digits/{jiao}.wav"], False), (["currency/jiao.wav"], True)]
        if fen:
            groups += [([f"digits/{fen}.wav"], False), (["currency/fen.wav"], True)]
    else:
        groups = [(_zh_number(whole), False), (["currency/dollar.wav"], True),
                  (_zh_number(part), False), (["currency/cent.wav"], True)]
    try:
        for files, unit in groups:
            for name in files:
                path = os.path.join(prefix, name)
                length = _file_seconds(prefix, name)
                if length is None:
                    _log_missing(ch, path, next_file=False)
                    if unit:
                        raise _Missing(path)
                    break          # the rest of this number is abandoned
                if not _play(ch, path, length):
                    return
    except _Missing:
        return


# ---- shared ---------------------------------------------------------------------------
def _file_seconds(prefix: str, name: str) -> float | None:
    return media.media_seconds(os.path.join(prefix, name))


def _log_missing(ch, path: str, next_file: bool) -> None:
    services = ch.services
    services.log_line(4, "mod_sndfile.c", "sndfile_file_open", 281,
                f"Error Opening File [{path}] [System error : No such file or directory.]")
    if next_file:
        services.log_line(3, "mod_dptools.c", "next_file", 5024, f"Can't open file {path}")


def _play(ch, path: str, seconds: float) -> bool:
    """PLAYBACK_START, the media time, PLAYBACK_STOP; False when the call went away."""
    status, _ = play_one(ch, path, seconds=seconds)
    return status == "played"

"""render(): languages as modules, options checked, bad input named clearly."""
import datetime as dt

import pytest

from fsapp import say
from fsapp.say import SayError


def test_languages_are_discovered_from_modules():
    assert say.languages() == ["en-US", "zh-CN"]
    # currency (FreeSWITCH's name for money) and datetime were added
    assert say.kinds("zh-CN") == ["currency", "date", "datetime", "digits", "money", "number", "ordinal", "time"]
    assert say.kinds("en-US") == say.kinds("zh-CN")


def test_options_with_defaults():
    assert say.options("zh-CN", "digits") == {"yao": True}
    assert say.options("en-US", "money") == {"currency": "CNY"}


@pytest.mark.parametrize("args, opts, message", [
    (("fr-FR", "number", 1), {}, r"language 'fr-FR' is not supported; supported: en-US, zh-CN"),
    (("zh", "number", 1), {}, r"not a tag like 'zh-CN'"),
    (("../x", "number", 1), {}, r"not a tag"),
    (("zh-CN", "colour", 1), {}, r"unknown say kind 'colour'; known: currency, date, datetime, digits"),
    (("zh-CN", "money", 1), {"currancy": "USD"}, r"unknown option\(s\) currancy; known: currency"),
    (("zh-CN", "money", 1), {"currency": "EUR"}, r"currency 'EUR' is not supported"),
    (("en-US", "money", 1), {"currency": "EUR"}, r"currency 'EUR' is not supported; use CNY or USD"),
    (("zh-CN", "number", "12a"), {}, r"'12a' is not a number"),
    (("zh-CN", "number", "1,234"), {}, r"is not a number"),
    (("en-US", "number", float("nan")), {}, r"is not a number"),
    (("en-US", "number", True), {}, r"boolean"),
    (("zh-CN", "number", 10 ** 16), {}, r"too large for zh-CN"),
    (("en-US", "number", 10 ** 15), {}, r"too large for en-US"),
    (("zh-CN", "digits", "12a4"), {}, r"other than digits.*'a'"),
    (("zh-CN", "digits", ""), {}, r"empty"),
    (("en-US", "digits", -1), {}, r"negative"),
    (("zh-CN", "date", "2026-13-01"), {}, r"not a date"),
    (("en-US", "time", "25:00"), {}, r"not a time"),
    (("en-US", "time", "10:00"), {"clock": 13}, r"clock must be 12 or 24"),
    (("zh-CN", "ordinal", "1.5"), {}, r"not a whole number"),
    (("en-US", "ordinal", -1), {}, r"negative"),
])
def test_bad_input_is_a_clear_error(args, opts, message):
    with pytest.raises(SayError, match=message):
        say.render(*args, **opts)


def test_say_error_is_a_value_error():
    assert issubclass(SayError, ValueError)


def test_currency_is_freeswitchs_name_for_money_and_reads_each_currency():
    """say_zh_money: FreeSWITCH knows `currency`, not `money`. fsapp's engine answers
    both; CNY is yuan/jiao/fen (元角分), USD dollars and cents, in each language."""
    zh = "say/zh/"
    assert say.render("zh-CN", "currency", "123.45") == say.render("zh-CN", "money", "123.45") == [
        zh + "1", zh + "bai", zh + "2", zh + "shi", zh + "3", zh + "yuan", zh + "4", zh + "jiao", zh + "5", zh + "fen"]
    en = "say/en/"
    assert say.render("en-US", "currency", "123.45", currency="USD") == [
        en + "1", en + "hundred", en + "20", en + "3", en + "dollars", en + "and", en + "40", en + "5", en + "cents"]
    assert say.render("en-US", "currency", "123.45")[-1] == en + "fen"      # CNY: yuan and fen
    assert say.render("zh-CN", "currency", "2", currency="USD") == [zh + "liang", zh + "meiyuan"]


def test_datetime_and_the_id_letter_x():
    zh, en = "say/zh/", "say/en/"
    assert say.render("zh-CN", "datetime", "2026-11-28 15:05") == \
        say.render("zh-CN", "date", "2026-11-28") + say.render("zh-CN", "time", "15:05")
    assert say.render("en-US", "datetime", dt.datetime(2026, 11, 28, 15, 5), weekday=False, clock=24) == \
        say.render("en-US", "date", "2026-11-28", weekday=False) + say.render("en-US", "time", "15:05", clock=24)
    # China's resident ID ends in a check character that may be X: read as the letter
    assert say.render("zh-CN", "digits", "11010519491231002X")[-1] == zh + "x"
    assert say.render("en-US", "digits", "1x")[-1] == en + "x"
    assert say.render("en-US", "digits", "*#") == [en + "star", en + "pound"]
    with pytest.raises(SayError, match="not a date and time"):
        say.render("zh-CN", "datetime", "tomorrow")

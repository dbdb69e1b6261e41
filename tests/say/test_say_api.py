"""render(): languages as modules, options checked, bad input named clearly."""
import pytest

from fsapp import say
from fsapp.say import SayError


def test_languages_are_discovered_from_modules():
    assert say.languages() == ["en-US", "zh-CN"]
    assert say.kinds("zh-CN") == ["date", "digits", "money", "number", "ordinal", "time"]
    assert say.kinds("en-US") == say.kinds("zh-CN")


def test_options_with_defaults():
    assert say.options("zh-CN", "digits") == {"yao": True}
    assert say.options("en-US", "money") == {"currency": "CNY"}


@pytest.mark.parametrize("args, opts, message", [
    (("fr-FR", "number", 1), {}, r"language 'fr-FR' is not supported; supported: en-US, zh-CN"),
    (("zh", "number", 1), {}, r"not a tag like 'zh-CN'"),
    (("../x", "number", 1), {}, r"not a tag"),
    (("zh-CN", "colour", 1), {}, r"unknown say kind 'colour'; known: date, digits"),
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

"""The caller-id policy (fsapp.esl.callerid): what a number and a name may be when fsapp
forwards them, what happens otherwise (None or a cleaned name, one warning, no error)."""
import logging

import pytest

from fsapp.esl import callerid
from tests.hostile import HOSTILE, REPORTED


@pytest.mark.parametrize("raw, number", [
    ("13800138000", "13800138000"), ("+8613800138000", "+8613800138000"), ("*86#", "*86#"),
    ("1" * 32, "1" * 32), ("1" * 33, None), ("anonymous", None), ("138 0013 8000", None),
    ("138-0013-8000", None), (REPORTED, None), ("1\r\n", None), ("1\0", None), ("", None), (None, None),
    ("１３８", None),                     # full-width digits are not ASCII digits
])
def test_number(raw, number):
    assert callerid.number(raw) == number


@pytest.mark.parametrize("raw, name", [
    ("张伟", "张伟"), ("O'Brien, J", "O'Brien, J"), ("😀📞", "😀📞"), ("\u202eevil\u202c", "evil"),
    ("a\r\nb\0c", "a bc"), ("${system rm -rf /}", "system rm -rf /"), ("x:_:y", "x _ y"),
    ("  many   spaces ", "many spaces"), ("x" * 100, "x" * 64), ("{}[]<>|$\\^:", None), (None, None),
])
def test_name(raw, name):
    assert callerid.name(raw) == name


@pytest.mark.parametrize("raw", HOSTILE, ids=lambda v: repr(v[:24]))
def test_every_hostile_string_gives_a_safe_value_and_never_raises(raw):
    number, name = callerid.number(raw), callerid.name(raw)
    assert number is None or number == raw
    if name is not None:
        assert len(name) <= 64 and not set(name) & (callerid.NAME_SYNTAX | set("\r\n\0\u202e"))


def test_what_is_changed_is_logged_once_with_the_raw_value(caplog):
    with caplog.at_level(logging.WARNING, logger="fsapp.esl.callerid"):
        assert callerid.number("x" * 10_000) is None
        assert callerid.name("a\nb") == "a b"
        assert callerid.number("13800138000") == "13800138000"
    assert [r.getMessage() for r in caplog.records] == [
        "caller number not forwarded: not +, digits, * or # (1-32)", "caller name changed before forwarding"]
    first = caplog.records[0]
    assert first.length == 10_000 and len(first.raw) < 80

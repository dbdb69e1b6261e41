"""Digits through the Call API against the emulator, as the captures pagd_* show them.

Runs on the virtual clock (timeouts of seconds take no wall time; nothing here depends
on how fast the machine is).
"""
import itertools

import gevent
import pytest

from fsapp.esl import OutboundServer
from fsapp.sim import CallerScript, Press, Socket, Switch, VirtualClock, Wait, WaitPrompt

MENU = "tone_stream://%(200,0,600)"
BAD = "tone_stream://%(100,0,300)"
STATUS = "tone_stream://%(800,0,500)"   # "your ticket is closed": the caller's # arrives meanwhile
_numbers = itertools.count(30000)


@pytest.fixture(scope="module")
def rig():
    clock = VirtualClock(idle_s=0.3)   # a loaded machine must not look idle between steps
    sw = Switch(password="ClueCon", esl=("127.0.0.1", 0), clock=clock).start()
    srv = OutboundServer(lambda call: None, "127.0.0.1:0", command_timeout=5, app_timeout=60).start()
    yield sw, srv
    srv.stop(timeout=2)
    sw.stop()
    clock.close()   # no greenlet of ours outlives the module (test_esl_hangup_stress counts them)


def run(rig, handler, steps):
    sw, srv = rig
    number = str(next(_numbers))
    sw.dialplan.add(rf"^{number}$", Socket(f"127.0.0.1:{srv.port} async full"))
    seen = {}

    def wrapped(call):
        call.answer()
        handler(call, seen)
        call.hangup()

    srv.handler = wrapped
    report = sw.place_call(CallerScript(dial=number, steps=steps)).wait(60)
    with gevent.Timeout(10):
        while srv.active_calls:
            gevent.sleep(0.02)
    assert report.error is None, report.error
    return seen


def test_digits_ended_by_the_timeout_are_the_answer(rig):
    """pagd_timeout_with_digits: read_result=timeout, the variable holds the digits."""
    def handler(call, seen):
        seen["b"] = call.get_digits(4, 8, 1, 3000, "#", MENU, BAD, regex=r"\d+")
        seen["c"] = call.play_and_get_digits(1, 2, 1, 3000, "#", MENU, BAD, regex=r"\d+")
        seen["read"] = call.read(2, 4, MENU, 3000, "#")

    seen = run(rig, lambda call, s: handler(call, s),
               [WaitPrompt("600", after="start"), Press("1234", gap_ms=20),
                WaitPrompt("600", after="start"), Press("1"),
                WaitPrompt("600", after="start"), Press("42")])
    b = seen["b"]
    assert (b.digits, b.result, b.terminator, b.no_input) == ("1234", "timeout", "", False)
    assert seen["c"] == "1" and seen["read"] == "42"


def test_nothing_entered_is_no_input_and_too_short_is_not(rig):
    def handler(call, seen):
        seen["silent"] = call.get_digits(1, 4, 1, 2000, "#", MENU, BAD)
        seen["short"] = call.get_digits(4, 8, 1, 2000, "#", MENU, BAD)
        seen["lone"] = call.get_digits(1, 4, 1, 2000, "#", MENU, BAD)

    seen = run(rig, handler, [WaitPrompt("600"), WaitPrompt("600", after="start"), Press("12"),
                              WaitPrompt("600", after="start"), Press("#")])
    silent, short, lone = seen["silent"], seen["short"], seen["lone"]
    assert (silent.digits, silent.result, silent.no_input) == ("", "failure", True)
    assert (short.digits, short.entered, short.result, short.no_input) == ("", "12", "failure", False)
    # a lone terminator is an answer, not silence (FreeSWITCH's menu counts it as a failure)
    assert (lone.digits, lone.keys, lone.terminator, lone.no_input) == ("", "#", "#", False)


def test_a_refused_entry_is_read_from_var_invalid(rig):
    """pagd_invalid_then_valid: the retry shows only in <var>_invalid."""
    def handler(call, seen):
        seen["retry"] = call.get_digits(1, 1, 3, 3000, "#", MENU, BAD, regex="^[12]$", var="digits_v")
        seen["once"] = call.get_digits(1, 1, 1, 3000, "#", MENU, BAD, regex="^[12]$", var="digits_v")

    seen = run(rig, handler, [WaitPrompt("600", after="start"), Press("9"),
                              WaitPrompt("600", after="start"), Press("1"),
                              WaitPrompt("600", after="start"), Press("7")])
    retry, once = seen["retry"], seen["once"]
    assert (retry.digits, retry.invalid, retry.keys) == ("1", "9", "91")
    assert (once.digits, once.entered, once.invalid, once.no_input) == ("", "7", "7", False)


@pytest.mark.parametrize("gap_ms", [0, 100])
def test_terminator_after_a_full_entry_is_dropped(rig, gap_ms):
    """pagd_terminator_after_full_entry: `1234#` into max 4 returns at 4 digits; the # never
    reaches the next question (fsapp's type-ahead used to hand it on)."""
    def handler(call, seen):
        seen["serial"] = call.play_and_get_digits(1, 4, 1, 3000, "#", MENU, BAD)
        call.playback(STATUS)
        seen["buffered"] = call.typeahead
        seen["next"] = call.get_digits(1, 1, 1, 2000, "#", MENU, BAD)

    seen = run(rig, handler, [WaitPrompt("600", after="start"), Press("1234#", gap_ms=gap_ms)])
    assert seen["serial"] == "1234" and seen["buffered"] == ""
    assert seen["next"].no_input


def test_other_typeahead_answers_the_next_question(rig):
    """Keys beyond a full entry (not a terminator) stay: the caller who knows the menus types ahead."""
    def handler(call, seen):
        seen["serial"] = call.play_and_get_digits(1, 4, 1, 3000, "#", MENU, BAD)
        call.playback(STATUS)
        seen["buffered"] = call.typeahead
        seen["next"] = call.get_digits(1, 1, 1, 2000, "#", MENU, BAD)

    seen = run(rig, handler, [WaitPrompt("600", after="start"), Press("12342", gap_ms=0)])
    assert seen["serial"] == "1234" and seen["buffered"] == "2"
    assert (seen["next"].digits, seen["next"].result) == ("2", "typeahead")


def test_typeahead_takes_one_entry_and_keeps_the_rest(rig):
    def handler(call, seen):
        call.playback(STATUS)
        seen["first"] = call.play_and_get_digits(1, 4, 1, 3000, "#", MENU, BAD)
        seen["left"] = call.typeahead
        seen["second"] = call.play_and_get_digits(1, 2, 1, 3000, "#", MENU, BAD)
        call.playback(STATUS)
        seen["third"] = call.play_and_get_digits(1, 4, 1, 3000, "#", MENU, BAD)
        seen["after"] = call.typeahead

    seen = run(rig, handler, [WaitPrompt("500", after="start"), Press("1234#56#", gap_ms=20),
                              WaitPrompt("500", after="start"), Press("12#", gap_ms=20)])
    # the # right after a full entry goes with it; "56#" is the next question's whole answer
    assert (seen["first"], seen["left"], seen["second"]) == ("1234", "56#", "56")
    assert (seen["third"], seen["after"]) == ("12", "")

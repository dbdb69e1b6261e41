"""hotline_12345 end to end: emulated FreeSWITCH -> outbound socket -> flow -> real database.

Every menu path runs as a scripted call; each checks the exact prompt sequence the caller
heard, the rows written, and the recorded WAV. The calls of one phase run concurrently
(one greenlet each); announcements are switched between phases because they apply to
every call of the line.
"""
from __future__ import annotations

import datetime as dt
import os

from fsapp.say import render
from fsapp.sim import Hangup, Press, Silence, Speak

from .harness import (BEEP, DAY, HOLIDAY, NIGHT, SILENCE_END, Line, check, digits, recording_problem,
                      run_all, wav_seconds, WaitPrompt)

CALLER = "13800138000"



def rows(store, table: str, uuid: str, order: str = "id") -> list[dict]:
    return store.execute(f"SELECT * FROM {table} WHERE call_uuid = ? ORDER BY {order}", [uuid])


def call_record(store, uuid: str) -> dict | None:
    found = store.execute("SELECT * FROM fsapp_call_records WHERE idem_key = ?", [f"{uuid}:call"])
    return found[0] if found else None


def check_recording(failures, name, result, store, speech: float, tail: float, ticket: dict | None,
                    recording_row: bool = True) -> None:
    """The WAV exists, has the length the caller spoke, and the rows point at it."""
    if len(set(result.report.recordings)) != 1:
        failures.append(f"{name}: expected one recorded file, got {result.report.recordings}")
        return
    path = result.report.recordings[-1]
    length = wav_seconds(path)
    problem = recording_problem(path, speech, tail)
    if problem:
        failures.append(f"{name}: recording: {problem}")
    if ticket is not None:
        check(failures, name, "ticket recording_path", path, ticket["recording_path"])
    recs = rows(store, "fsapp_recordings", result.report.uuid)
    if recording_row:
        if len(recs) != 1:
            failures.append(f"{name}: expected one fsapp_recordings row, got {recs}")
        else:
            check(failures, name, "recording path", path, recs[0]["path"])
            if abs(recs[0]["duration_ms"] - round(length * 1000)) > 2:
                failures.append(f"{name}: duration_ms {recs[0]['duration_ms']} != WAV {length * 1000:.0f} ms")
            check(failures, name, "recording ticket_serial", ticket and ticket["serial"], recs[0]["ticket_serial"])
    elif recs:
        failures.append(f"{name}: unexpected fsapp_recordings rows {recs}")


def start(lang_key: str | None = None) -> list:
    """Greeting and language offer; None stays in Mandarin by pressing nothing."""
    if lang_key:     # keys are pressed as the question starts: no race with its timeout
        return [WaitPrompt("hotline/language_offer", after="start"), Press(lang_key)]
    return [WaitPrompt("hotline/language_offer")]


GREETING = ["hotline/welcome", "hotline/language_offer"]


# ---- scenarios: each returns a list of failures --------------------------------------------

def mailbox_saved(line, store):
    name = "mailbox saved"
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("1"), WaitPrompt(BEEP), Speak(4.0), Silence(SILENCE_END + 1),
        WaitPrompt("hotline/review_menu", after="start"), Press("3"), WaitPrompt("hotline/serial_menu")])
    f: list[str] = []
    serial = r.vars.get("serial", "")
    check(f, name, "heard", GREETING + [
        "hotline/main_menu", "hotline/mailbox/intro", "hotline/record_after_beep", BEEP, "hotline/review_menu",
        "hotline/mailbox/saved", "hotline/ticket_number_is", *digits("zh-CN", serial), "hotline/serial_menu",
        "common/goodbye"], r.heard)
    tickets = rows(store, "fsapp_tickets", r.report.uuid)
    if len(tickets) != 1:
        return f + [f"{name}: expected one ticket, got {tickets}\n{r.describe()}"]
    t = tickets[0]
    check(f, name, "ticket", {"serial": serial, "kind": "mailbox", "category": "citizen", "status": "accepted",
                              "handling_unit": "data_entry", "caller_number": CALLER, "language": "zh-CN",
                              "reminder_at": DAY + dt.timedelta(days=2)},
          {k: t[k] for k in ("serial", "kind", "category", "status", "handling_unit", "caller_number", "language",
                             "reminder_at")})
    if not t["menu_path"].endswith("main_menu>mailbox>mailbox_intro>mailbox_serial>mailbox_record>mailbox_ticket"):
        f.append(f"{name}: menu_path {t['menu_path']!r}")
    check_recording(f, name, r, store, 4.0, SILENCE_END, t)
    cr = call_record(store, r.report.uuid)
    check(f, name, "call record", ("hotline_12345", "goodbye", "NORMAL_CLEARING", "zh-CN", "12345"),
          cr and (cr["flow"], cr["outcome"], cr["hangup_cause"], cr["language"], cr["destination"]))
    return f


def mailbox_discarded(line, store):
    name = "mailbox message discarded"
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("1"), WaitPrompt(BEEP), Speak(2.0),
        Silence(SILENCE_END + 1), WaitPrompt("hotline/review_menu", after="start"), Press("4"),
        WaitPrompt("hotline/main_menu", after="start"), Hangup()], caller_id="13700137000")
    f: list[str] = []
    check(f, name, "heard", GREETING + [
        "hotline/main_menu", "hotline/mailbox/intro", "hotline/record_after_beep", BEEP, "hotline/review_menu",
        "hotline/mailbox/discarded", "hotline/main_menu"], r.heard)
    check(f, name, "tickets", [], rows(store, "fsapp_tickets", r.report.uuid))
    check(f, name, "recordings", [], rows(store, "fsapp_recordings", r.report.uuid))
    check(f, name, "recorded file removed", [False], [os.path.exists(p) for p in set(r.report.recordings)])
    return f


def complaint_english_listen_rerecord(line, store):
    name = "English complaint, listen, record again"
    r = line.call("12345", start("2") + [
        WaitPrompt("hotline/main_menu", after="start"), Press("2"), WaitPrompt("hotline/complaint/category_menu", after="start"), Press("2"),
        WaitPrompt(BEEP), Speak(4.0), Silence(SILENCE_END + 1), WaitPrompt("hotline/review_menu", after="start"), Press("1"),
        WaitPrompt("hotline/review_menu", after="start"), Press("2"), WaitPrompt(BEEP), Speak(2.5), Silence(SILENCE_END + 1),
        WaitPrompt("hotline/review_menu", after="start"), Press("3"), WaitPrompt("hotline/serial_menu", after="start"), Press("1"),
        WaitPrompt("hotline/serial_menu", after="start"), Press("*"), WaitPrompt("hotline/main_menu"), Hangup()])
    f: list[str] = []
    serial = r.vars.get("serial", "")
    say = digits("en-US", serial)
    check(f, name, "heard", GREETING + [
        "hotline/main_menu", "hotline/complaint/category_menu", "hotline/complaint/record", BEEP,
        "hotline/review_menu", "<recording>", "hotline/review_menu", "hotline/complaint/record", BEEP,
        "hotline/review_menu", "hotline/complaint/accepted", "hotline/ticket_number_is", *say,
        "hotline/serial_menu", "hotline/ticket_number_is", *say, "hotline/serial_menu", "hotline/main_menu"],
        r.heard)
    tickets = rows(store, "fsapp_tickets", r.report.uuid)
    if len(tickets) != 1:
        return f + [f"{name}: expected one ticket, got {tickets}\n{r.describe()}"]
    t = tickets[0]
    check(f, name, "ticket", {"serial": serial, "kind": "complaint", "category": "power", "language": "en-US",
                              "summary": "power complaint, voice recording"},
          {k: t[k] for k in ("serial", "kind", "category", "language", "summary")})
    check_recording(f, name, r, store, 2.5, SILENCE_END, t)
    cr = call_record(store, r.report.uuid)
    check(f, name, "call record outcome", ("main_menu", "en-US"), cr and (cr["outcome"], cr["language"]))
    return f


def status_lookup(line, store, known):
    name = "status lookup"
    closed, in_progress, unknown = known
    bad = unknown[:-1] + str((int(unknown[-1]) + 1) % 10)      # one mistyped digit: fails the check
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("3"),
        WaitPrompt("hotline/status/enter_serial", after="start"), Press(closed), WaitPrompt("hotline/status/after_menu", after="start"), Press("1"),
        WaitPrompt("hotline/status/enter_serial", after="start"), Press(in_progress), WaitPrompt("hotline/status/after_menu", after="start"),
        Press("1"),
        WaitPrompt("hotline/status/enter_serial", after="start"), Press(unknown), WaitPrompt("hotline/status/after_menu", after="start"),
        Press("1"),
        WaitPrompt("hotline/status/enter_serial", after="start"), Press(bad), WaitPrompt("hotline/status/invalid_serial"),
        WaitPrompt("hotline/status/enter_serial"), Hangup()])
    f: list[str] = []
    check(f, name, "heard", GREETING + [
        "hotline/main_menu", "hotline/status/enter_serial",
        "hotline/status/ticket", *digits("zh-CN", closed), "hotline/status/closed", "hotline/status/handled_by",
        "hotline/unit/water_bureau", "hotline/status/result_is", "hotline/result/resolved",
        "hotline/status/after_menu", "hotline/status/enter_serial",
        "hotline/status/ticket", *digits("zh-CN", in_progress), "hotline/status/in_progress",
        "hotline/status/handled_by", "hotline/unit/traffic_police", "hotline/status/after_menu",
        "hotline/status/enter_serial", "hotline/status/not_found", *digits("zh-CN", unknown),
        "hotline/status/after_menu", "hotline/status/enter_serial", "hotline/status/invalid_serial",
        "hotline/status/enter_serial"], r.heard)
    return f


def status_serial_ended_with_hash(line, store, known):
    """`12345678#` into the 8-digit status collect: the entry is complete at 8 digits and
    FreeSWITCH drops the # (capture pagd_terminator_after_full_entry), so it must not
    answer the after-status menu with "invalid choice"; the caller's own * does."""
    name = "status serial ended with #"
    closed = known[0]
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("3"),
        WaitPrompt("hotline/status/enter_serial", after="start"), Press(closed + "#"),
        WaitPrompt("hotline/status/after_menu", after="start"), Press("*"),
        WaitPrompt("hotline/main_menu", after="start"), Hangup()])
    f: list[str] = []
    check(f, name, "heard", GREETING + [
        "hotline/main_menu", "hotline/status/enter_serial",
        "hotline/status/ticket", *digits("zh-CN", closed), "hotline/status/closed", "hotline/status/handled_by",
        "hotline/unit/water_bureau", "hotline/status/result_is", "hotline/result/resolved",
        "hotline/status/after_menu", "hotline/main_menu"], r.heard)
    return f


def consultation(line, store):
    name = "consultation * back, # top"
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("4"), WaitPrompt("hotline/consult/menu", after="start"), Press("1"),
        WaitPrompt("hotline/consult/policy/menu", after="start"), Press("2"), WaitPrompt("hotline/consult/after_info", after="start"), Press("*"),
        WaitPrompt("hotline/consult/policy/menu", after="start"), Press("*"), WaitPrompt("hotline/consult/menu", after="start"), Press("3"),
        WaitPrompt("hotline/consult/howto/menu", after="start"), Press("1"), WaitPrompt("hotline/consult/after_info", after="start"), Press("#"),
        WaitPrompt("hotline/main_menu", after="start"), Press("4"), WaitPrompt("hotline/consult/menu", after="start"), Press("2"),
        WaitPrompt("hotline/consult/guide/menu", after="start"), Press("3"), WaitPrompt("hotline/consult/after_info", after="start"), Press("*"),
        WaitPrompt("hotline/consult/guide/menu", after="start"), Press("#"), WaitPrompt("hotline/main_menu"), Hangup()])
    f: list[str] = []
    check(f, name, "heard", GREETING + [
        "hotline/main_menu", "hotline/consult/menu", "hotline/consult/policy/menu",
        "hotline/consult/policy/social_security", "hotline/consult/after_info", "hotline/consult/policy/menu",
        "hotline/consult/menu", "hotline/consult/howto/menu", "hotline/consult/howto/id_card",
        "hotline/consult/after_info", "hotline/main_menu", "hotline/consult/menu", "hotline/consult/guide/menu",
        "hotline/consult/guide/service_centers", "hotline/consult/after_info", "hotline/consult/guide/menu",
        "hotline/main_menu"], r.heard)
    cr = call_record(store, r.report.uuid)
    check(f, name, "call record", ("main_menu",), cr and (cr["outcome"],))
    return f


def complaint_category(line, store, key: str, category: str):
    name = f"complaint category {category}"
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("2"), WaitPrompt("hotline/complaint/category_menu", after="start"), Press(key),
        WaitPrompt(BEEP), Speak(1.0), Silence(SILENCE_END + 1), WaitPrompt("hotline/review_menu", after="start"), Press("3"),
        WaitPrompt("hotline/serial_menu"), Hangup()], caller_id="13911112222")
    f: list[str] = []
    tickets = [(t["kind"], t["category"], t["serial"]) for t in rows(store, "fsapp_tickets", r.report.uuid)]
    check(f, name, "ticket", [("complaint", category, r.vars.get("serial"))], tickets)
    return f


def survey_complete(line, store):
    name = "opinion survey answered"
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("5"), WaitPrompt("hotline/survey/q1_rating", after="start"), Press("4"),
        WaitPrompt("hotline/survey/q2_used_services", after="start"), Press("1"), WaitPrompt("hotline/survey/q3_recommend", after="start"),
        Press("2"), WaitPrompt("hotline/main_menu"), Hangup()])
    f: list[str] = []
    check(f, name, "heard", GREETING + [
        "hotline/main_menu", "hotline/survey/intro", "hotline/survey/q1_rating", "hotline/survey/q2_used_services",
        "hotline/survey/q3_recommend", "hotline/survey/thanks", "hotline/main_menu"], r.heard)
    answers = [(a["survey"], a["question"], a["answer"], a["caller_number"])
               for a in rows(store, "fsapp_survey_answers", r.report.uuid)]
    check(f, name, "answers", [("hotline_opinion", "q1_rating", "4", CALLER),
                               ("hotline_opinion", "q2_used_services", "yes", CALLER),
                               ("hotline_opinion", "q3_recommend", "no", CALLER),
                               ("hotline_opinion", "status", "complete", CALLER)], answers)
    return f


def survey_hangup(line, store):
    name = "opinion survey left half-way"
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("5"), WaitPrompt("hotline/survey/q1_rating", after="start"), Press("2"),
        WaitPrompt("hotline/survey/q2_used_services", after="start"), Hangup()])
    f: list[str] = []
    answers = [(a["question"], a["answer"]) for a in rows(store, "fsapp_survey_answers", r.report.uuid)]
    check(f, name, "answers", [("q1_rating", "2"), ("status", "incomplete")], answers)
    check(f, name, "ended", ("caller_hangup", "survey_q2"), r.outcome and (r.outcome.reason, r.outcome.node))
    return f


def wrong_and_missing_input(line, store):
    name = "wrong key, then silence, ends politely"
    r = line.call("12345", start() + [WaitPrompt("hotline/main_menu", after="start"), Press("7")])
    f: list[str] = []
    # one wrong key (1 of max_failures 3), then silence until max_timeouts (3): counted
    # apart, as FreeSWITCH's ivr menu does
    check(f, name, "heard", GREETING + [
        "hotline/main_menu", "common/invalid_choice", "hotline/main_menu", "common/no_input", "hotline/main_menu",
        "common/no_input", "hotline/main_menu", "common/no_input", "common/too_many_attempts", "common/goodbye"],
        r.heard)
    check(f, name, "hung up by", "switch", r.report.hung_up_by)
    cr = call_record(store, r.report.uuid)
    check(f, name, "call record", ("too_many_tries", "NORMAL_CLEARING"), cr and (cr["outcome"], cr["hangup_cause"]))
    return f


def hangup_while_recording(line, store):
    name = "hang-up while recording the mailbox message"
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("1"), WaitPrompt(BEEP), Speak(3.0), Hangup()])
    f: list[str] = []
    tickets = rows(store, "fsapp_tickets", r.report.uuid)
    if len(tickets) != 1:
        return [f"{name}: expected the on_hangup ticket, got {tickets}\n{r.describe()}"]
    t = tickets[0]
    check(f, name, "ticket", ("mailbox", "citizen", "mayor's mailbox voice message (caller hung up before saving)",
                              r.vars.get("serial")),
          (t["kind"], t["category"], t["summary"], t["serial"]))
    check_recording(f, name, r, store, 3.0, 0.0, t, recording_row=False)
    return f


def night_agent_key(line, store):
    name = "night: 0 leads to the mailbox"
    r = line.call("12345", start() + [
        WaitPrompt("hotline/main_menu", after="start"), Press("0"), WaitPrompt(BEEP), Speak(2.0), Silence(SILENCE_END + 1),
        WaitPrompt("hotline/review_menu", after="start"), Press("3"), WaitPrompt("hotline/serial_menu", after="start"), Press("*"),
        WaitPrompt("hotline/main_menu"), Hangup()])
    f: list[str] = []
    serial = r.vars.get("serial", "")
    check(f, name, "heard", GREETING + [
        "hotline/night_greeting", "hotline/main_menu", "hotline/agents_closed", "hotline/record_after_beep", BEEP,
        "hotline/review_menu", "hotline/mailbox/saved", "hotline/ticket_number_is", *digits("zh-CN", serial),
        "hotline/serial_menu", "hotline/main_menu"], r.heard)
    tickets = rows(store, "fsapp_tickets", r.report.uuid)
    check(f, name, "ticket", [("mailbox", "night", serial)], [(t["kind"], t["category"], t["serial"]) for t in tickets])
    return f


def holiday_greeting(line, store):
    name = "holiday service"
    r = line.call("12345", start() + [WaitPrompt("hotline/main_menu"), Hangup()])
    f: list[str] = []
    check(f, name, "heard", GREETING + ["hotline/holiday_greeting", "hotline/main_menu"], r.heard)
    return f


def notice_on(line, store, ends_at: dt.datetime):
    name = "announcement switched on"
    r = line.call("12345", start() + [WaitPrompt("hotline/main_menu"), Hangup()])
    f: list[str] = []
    check(f, name, "heard", GREETING + [
        "hotline/notice/severe_weather", "hotline/notice/until", *render("zh-CN", "date", ends_at),
        *render("zh-CN", "time", ends_at), "hotline/main_menu"], r.heard)
    return f


def notice_off(line, store):
    name = "announcement switched off"
    r = line.call("12345", start("2") + [WaitPrompt("hotline/main_menu"), Hangup()])
    f: list[str] = []
    check(f, name, "heard", GREETING + ["hotline/main_menu"], r.heard)
    return f


# ---- the tests -----------------------------------------------------------------------------

def _known_tickets(store) -> tuple[str, str, str]:
    closed, in_progress, unknown = (store.next_ticket_serial() for _ in range(3))
    store.write("ticket", {"serial": closed, "kind": "complaint", "category": "water", "status": "closed",
                           "handling_unit": "water_bureau", "result": "resolved"}, key=f"seed:{closed}")
    store.write("ticket", {"serial": in_progress, "kind": "complaint", "category": "traffic",
                           "status": "in_progress", "handling_unit": "traffic_police"}, key=f"seed:{in_progress}")
    return closed, in_progress, unknown


def test_hotline_every_path(store, make_services):
    known = _known_tickets(store)
    day, night, holiday = (Line(make_services(store, at)) for at in (DAY, NIGHT, HOLIDAY))
    try:
        results = run_all({
            "mailbox": lambda: mailbox_saved(day, store),
            "complaint": lambda: complaint_english_listen_rerecord(day, store),
            "discard": lambda: mailbox_discarded(day, store),
            "status": lambda: status_lookup(day, store, known),
            "status_hash": lambda: status_serial_ended_with_hash(day, store, known),
            "consultation": lambda: consultation(day, store),
            **{f"category_{cat}": (lambda k=key, c=cat: complaint_category(day, store, k, c))
               for key, cat in (("1", "water"), ("3", "traffic"), ("4", "environment"), ("5", "other"))},
            "survey": lambda: survey_complete(day, store),
            "survey_hangup": lambda: survey_hangup(day, store),
            "wrong_input": lambda: wrong_and_missing_input(day, store),
            "hangup_recording": lambda: hangup_while_recording(day, store),
            "night": lambda: night_agent_key(night, store),
            "holiday": lambda: holiday_greeting(holiday, store),
        })
        failures = []
        for name, result in results.items():
            if isinstance(result, BaseException):
                failures.append(f"{name}: {type(result).__name__}: {result}")
            else:
                failures.extend(result)
        assert not failures, "\n".join(failures)

        # Announcements: a row in ivr_notices switches one on, active = 'N' switches it off.
        now = dt.datetime.now().replace(microsecond=0)
        ends_at = (now + dt.timedelta(days=1)).replace(hour=18, minute=0, second=0)
        store.execute("INSERT INTO ivr_notices (line, district_code, kind, starts_at, ends_at, active) "
                      "VALUES ('hotline', NULL, 'severe_weather', ?, ?, 'Y')",
                      [now - dt.timedelta(hours=1), ends_at])
        assert notice_on(day, store, ends_at) == []
        store.execute("UPDATE ivr_notices SET active = 'N' WHERE line = 'hotline'")
        assert notice_off(day, store) == []
    finally:
        for line in (day, night, holiday):
            line.close()

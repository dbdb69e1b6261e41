"""utility_billing and satisfaction_survey end to end, against the example billing
database (examples/billing: the utility's own schema, read through queries/utility.sql)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fsapp.say import render
from fsapp.sim import Hangup, Press, Silence, Speak

from .harness import (BEEP, DAY, NIGHT, SILENCE_END, Line, check, digits, recording_problem,
                      run_all, wav_seconds, WaitPrompt)
from .test_hotline import call_record, rows

GREETING = ["water/welcome", "water/language_offer"]


def start(lang_key: str | None = None) -> list:
    if lang_key:     # keys are pressed as the question starts: no race with its timeout
        return [WaitPrompt("water/language_offer", after="start"), Press(lang_key)]
    return [WaitPrompt("water/language_offer")]


def say(lang, kind, value) -> list[str]:
    return render(lang, kind, value)


def overdue(bills: list[tuple[str, str]], today: dt.date) -> Decimal:
    """What queries/utility.sql calls overdue on `today`: open amounts due before it."""
    return sum((Decimal(amount) for due, amount in bills if dt.date.fromisoformat(due) < today), Decimal("0"))


def bill_prompts(lang, account, prepaid, due, due_date, overdue_amount, paid_at, paid, read_on, reading, usage,
                 estimated) -> list[str]:
    out = ["water/bill/account", *digits(lang, account), "water/bill/balance", *say(lang, "money", prepaid)]
    if Decimal(due) > 0:
        out += ["water/bill/amount_due", *say(lang, "money", due), "water/bill/due_date", *say(lang, "date", due_date)]
        if overdue_amount > 0:
            out += ["water/bill/overdue", *say(lang, "money", overdue_amount)]
    else:
        out += ["water/bill/nothing_due"]
    out += ["water/bill/last_payment", *say(lang, "date", paid_at), "water/bill/payment_amount",
            *say(lang, "money", paid)]
    out += ["water/bill/last_reading", *say(lang, "date", read_on), "water/bill/reading_value",
            *say(lang, "number", reading), "water/bill/usage", *say(lang, "number", usage), "water/bill/cubic_meters"]
    if estimated:
        out += ["water/bill/estimated"]
    return out + ["water/bill/after_menu"]


# ---- scenarios ------------------------------------------------------------------------------

def one_account_bill(line, store):
    name = "one account on the caller's number: the bill"
    r = line.call("96116", start() + [WaitPrompt("water/main_menu", after="start"), Press("1"), WaitPrompt("water/bill/after_menu", after="start"),
                                      Press("*"), WaitPrompt("water/main_menu"), Hangup()], caller_id="13900139000")
    today = dt.date.today()
    late = overdue([("2026-09-20", "134.72"), ("2026-10-20", "135.50"), ("2026-11-20", "120.50")], today)
    f: list[str] = []
    check(f, name, "heard", GREETING + ["water/main_menu"] + bill_prompts(
        "zh-CN", "100200300501", "0.00", "390.72", "2026-09-20", late, "2026-07-18", "120.00", "2026-10-05",
        "3399", "31", estimated=True) + ["water/main_menu"], r.heard)
    cr = call_record(store, r.report.uuid)
    check(f, name, "call record", ("utility_billing", "96116", "main_menu"),
          cr and (cr["flow"], cr["destination"], cr["outcome"]))
    return f


def three_accounts_english_outage(line, store):
    name = "three accounts, English, outage notice in the chosen account's district"
    r = line.call("96116", start("2") + [
        WaitPrompt("water/account/press_0_other", after="start"), Press("2"), WaitPrompt("water/main_menu", after="start"), Press("1"),
        WaitPrompt("water/bill/after_menu"), Hangup()], caller_id="13800138000")
    today = dt.date.today()
    late = overdue([("2026-11-20", "314.31"), ("2026-12-20", "298.10")], today)
    f: list[str] = []
    accounts = []
    for no, key in (("0401", "press_1"), ("0402", "press_2"), ("0403", "press_3")):
        accounts += ["water/account/ending_in", *digits("en-US", no), f"water/account/{key}"]
    until = line.notice_until
    check(f, name, "heard", GREETING + ["water/account/several", *accounts, "water/account/press_0_other",
                                        "water/outage/supply_interrupted", "water/outage/until",
                                        *say("en-US", "date", until), *say("en-US", "time", until),
                                        "water/main_menu"] + bill_prompts(
        "en-US", "100200300402", "50.00", "612.41", "2026-11-20", late, "2026-10-19", "300.00", "2026-11-05",
        "8279", "78", estimated=True), r.heard)
    check(f, name, "account", "100200300402", r.vars.get("account_no"))
    return f


def keyed_account_repair(line, store):
    name = "keyed account (a closed one first), burst-pipe repair"
    r = line.call("96116", start() + [
        WaitPrompt("water/account/enter_number", after="start"), Press("100200300404"), WaitPrompt("water/account/closed"),
        WaitPrompt("water/account/enter_number", after="start"), Press("100200300601"), WaitPrompt("water/main_menu", after="start"), Press("2"),
        WaitPrompt("water/repair/category_menu", after="start"), Press("1"), WaitPrompt(BEEP), Speak(5.0), Silence(SILENCE_END + 1),
        WaitPrompt("water/repair/after_menu")], caller_id="13000000000")
    f: list[str] = []
    serial = r.vars.get("serial", "")
    check(f, name, "heard", GREETING + [
        "water/account/enter_number", "water/account/closed", "water/account/enter_number", "water/main_menu",
        "water/repair/category_menu", "water/repair/record", BEEP, "water/repair/accepted", *digits("zh-CN", serial),
        "water/repair/due_within", *say("zh-CN", "number", 4), "water/repair/hours", "water/repair/after_menu",
        "common/goodbye"], r.heard)
    tickets = rows(store, "fsapp_tickets", r.report.uuid)
    if len(tickets) != 1:
        return f + [f"{name}: expected one work order, got {tickets}\n{r.describe()}"]
    t = tickets[0]
    check(f, name, "work order", {"serial": serial, "kind": "work_order", "category": "pipe_burst",
                                  "handling_unit": "pipe_network", "status": "accepted",
                                  "due_at": DAY + dt.timedelta(hours=4), "caller_number": "13000000000",
                                  "summary": "pipe_burst repair report for account 100200300601"},
          {k: t[k] for k in ("serial", "kind", "category", "handling_unit", "status", "due_at", "caller_number",
                             "summary")})
    path = r.report.recordings[-1] if r.report.recordings else None
    problem = recording_problem(path, 5.0, SILENCE_END)
    if problem:
        f.append(f"{name}: recording: {problem}")
    recs = rows(store, "fsapp_recordings", r.report.uuid)
    check(f, name, "recording row", [("work_order", serial)], [(x["purpose"], x["ticket_serial"]) for x in recs])
    if recs and path and abs(recs[0]["duration_ms"] - wav_seconds(path) * 1000) > 2:
        f.append(f"{name}: duration_ms {recs[0]['duration_ms']} != WAV {wav_seconds(path) * 1000:.0f} ms")
    check(f, name, "recording path", path, t["recording_path"])
    return f


def repair_category(line, store, key: str, category: str, unit: str, hours: int):
    name = f"repair category {category}"
    r = line.call("96116", start() + [WaitPrompt("water/main_menu", after="start"), Press("2"),
                                      WaitPrompt("water/repair/category_menu", after="start"), Press(key), WaitPrompt(BEEP),
                                      Speak(1.0), Silence(SILENCE_END + 1), WaitPrompt("water/repair/after_menu")],
                  caller_id="13700137000")
    f: list[str] = []
    tickets = [(t["category"], t["handling_unit"], t["due_at"]) for t in rows(store, "fsapp_tickets", r.report.uuid)]
    check(f, name, "work order", [(category, unit, DAY + dt.timedelta(hours=hours))], tickets)
    check(f, name, "due time read out", say("zh-CN", "number", hours),
          r.heard[r.heard.index("water/repair/due_within") + 1:r.heard.index("water/repair/hours")]
          if "water/repair/hours" in r.heard else None)
    return f


def wrong_account_input(line, store):
    name = "account number never valid"
    r = line.call("96116", start() + [WaitPrompt("water/account/enter_number", after="start"), Press("1234#"),
                                      WaitPrompt("water/account/invalid_number"),
                                      WaitPrompt("water/account/enter_number"),
                                      WaitPrompt("common/no_input"), WaitPrompt("water/account/enter_number", after="start"),
                                      Press("100200300777")], caller_id="13000000000")
    f: list[str] = []
    check(f, name, "heard", GREETING + [
        "water/account/enter_number", "water/account/invalid_number", "water/account/enter_number", "common/no_input",
        "water/account/enter_number", "water/account/not_found", *digits("zh-CN", "100200300777"),
        "water/account/enter_number", "common/no_input", "water/account/enter_number", "common/no_input",
        "water/account/enter_number", "common/no_input", "common/too_many_attempts",
        "common/goodbye"], r.heard)
    return f


def hangup_while_recording_repair(line, store):
    name = "hang-up while recording the repair"
    r = line.call("96116", start() + [WaitPrompt("water/main_menu", after="start"), Press("2"),
                                      WaitPrompt("water/repair/category_menu", after="start"), Press("3"), WaitPrompt(BEEP),
                                      Speak(2.0), Hangup()], caller_id="13900139000")
    f: list[str] = []
    tickets = rows(store, "fsapp_tickets", r.report.uuid)
    check(f, name, "work order", [("work_order", "water_pressure", "supply_dispatch", r.vars.get("serial"),
                                   "water_pressure repair report for account 100200300501 "
                                   "(caller hung up while recording)")],
          [(t["kind"], t["category"], t["handling_unit"], t["serial"], t["summary"]) for t in tickets])
    path = r.report.recordings[-1] if r.report.recordings else None
    problem = recording_problem(path, 2.0, 0.0)
    if problem:
        f.append(f"{name}: recording: {problem}")
    return f


def after_hours_agent(line, store):
    name = "agent key after office hours"
    r = line.call("96116", start() + [WaitPrompt("water/main_menu", after="start"), Press("0"), WaitPrompt("water/agents_closed"),
                                      WaitPrompt("water/main_menu"), Hangup()], caller_id="13900139000")
    f: list[str] = []
    check(f, name, "heard", GREETING + ["water/main_menu", "water/agents_closed", "water/main_menu"], r.heard)
    return f


def satisfaction_complete(line, store):
    name = "satisfaction survey answered"
    r = line.call("96000", [WaitPrompt("survey/q1_rating", after="start"), Press("5"), WaitPrompt("survey/q2_solved", after="start"), Press("1")],
                  caller_id="13911112222")
    f: list[str] = []
    check(f, name, "heard", ["survey/intro", "survey/q1_rating", "survey/q2_solved", "survey/thanks",
                             "common/goodbye"], r.heard)
    answers = [(a["survey"], a["question"], a["answer"], a["caller_number"])
               for a in rows(store, "fsapp_survey_answers", r.report.uuid)]
    check(f, name, "answers", [("satisfaction", "q1_rating", "5", "13911112222"),
                               ("satisfaction", "q2_solved", "yes", "13911112222"),
                               ("satisfaction", "status", "complete", "13911112222")], answers)
    return f


def satisfaction_hangup(line, store):
    name = "satisfaction survey left after the first answer"
    r = line.call("96000", [WaitPrompt("survey/q1_rating", after="start"), Press("2"), WaitPrompt("survey/q2_solved", after="start"),
                            Hangup()], caller_id="13911112222")
    f: list[str] = []
    answers = [(a["question"], a["answer"]) for a in rows(store, "fsapp_survey_answers", r.report.uuid)]
    check(f, name, "answers", [("q1_rating", "2"), ("status", "incomplete")], answers)
    return f


def test_utility_and_survey_every_path(store, make_services):
    now = dt.datetime.now().replace(microsecond=0)
    until = (now + dt.timedelta(days=1)).replace(hour=18, minute=0, second=0)
    # district D002 has an outage; D004's notice was switched off: callers there hear nothing
    store.execute("INSERT INTO ivr_notices (line, district_code, kind, starts_at, ends_at, active) "
                  "VALUES ('utility', 'D002', 'supply_interrupted', ?, ?, 'Y')", [now - dt.timedelta(hours=2), until])
    store.execute("INSERT INTO ivr_notices (line, district_code, kind, starts_at, ends_at, active) "
                  "VALUES ('utility', 'D004', 'planned_maintenance', ?, NULL, 'N')", [now - dt.timedelta(hours=2)])
    day, night = Line(make_services(store, DAY)), Line(make_services(store, NIGHT))
    day.notice_until = until
    try:
        results = run_all({
            "bill": lambda: one_account_bill(day, store),
            "outage": lambda: three_accounts_english_outage(day, store),
            "repair": lambda: keyed_account_repair(day, store),
            **{f"repair_{cat}": (lambda k=key, c=cat, u=unit, h=hours: repair_category(day, store, k, c, u, h))
               for key, cat, unit, hours in (("2", "no_water", "pipe_network", 8),
                                             ("3", "water_pressure", "supply_dispatch", 24),
                                             ("4", "water_quality", "water_quality_lab", 24),
                                             ("5", "meter", "metering", 72))},
            "wrong_input": lambda: wrong_account_input(day, store),
            "hangup_repair": lambda: hangup_while_recording_repair(day, store),
            "after_hours": lambda: after_hours_agent(night, store),
            "survey": lambda: satisfaction_complete(day, store),
            "survey_hangup": lambda: satisfaction_hangup(day, store),
        })
    finally:
        day.close()
        night.close()
    failures = []
    for name, result in results.items():
        failures.extend([f"{name}: {type(result).__name__}: {result}"] if isinstance(result, BaseException)
                        else result)
    assert not failures, "\n".join(failures)

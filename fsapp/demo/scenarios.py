"""The demo's scripted callers: each takes a different path through the reference flows.

A scenario is what a person would do on the phone: wait for a prompt, press keys, talk,
stay silent, hang up. `build()` needs the seeded ticket serials so that the status
lookups find something; everything else is fixed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from fsapp.flow.interpreter import BEEP
from fsapp.sim import Hangup, Press, Silence, Speak, Wait, WaitPrompt as _WaitPrompt

HOTLINE, UTILITY, SURVEY = "12345", "96116", "96000"
SILENCE_END = 6.0   # a little more than the flows' 5 s of silence that end a recording


def WaitPrompt(match: str, after: str = "end"):  # noqa: N802 - a caller step
    # A bill read-out is over a minute of audio: leave room (emulated seconds).
    return _WaitPrompt(match, after=after, timeout=900.0)


@dataclass
class Scenario:
    title: str
    number: str
    caller_id: str
    steps: list = field(default_factory=list)


def hotline(lang_key: str | None = None) -> list:
    steps = [WaitPrompt("hotline/language_offer")]
    return steps + ([Press(lang_key)] if lang_key else [])


def utility(lang_key: str | None = None) -> list:
    steps = [WaitPrompt("water/language_offer")]
    return steps + ([Press(lang_key)] if lang_key else [])


def record(seconds: float, review_key: str = "3") -> list:
    """Talk after the beep, fall silent (the recording ends), then choose from the review menu."""
    return [WaitPrompt(BEEP), Speak(seconds), Silence(SILENCE_END), WaitPrompt("hotline/review_menu"),
            Press(review_key)]


def build(closed_serial: str, open_serial: str, unknown_serial: str) -> list[Scenario]:
    mistyped = unknown_serial[:-1] + str((int(unknown_serial[-1]) + 1) % 10)
    menu = WaitPrompt("hotline/main_menu")
    return [
        # ---- 12345 citizen hotline ---------------------------------------------------------
        Scenario("Mayor's mailbox: leave a message, save it, hear the ticket number", HOTLINE, "13800138000",
                 hotline() + [menu, Press("1")] + record(4.0) + [WaitPrompt("hotline/serial_menu"), Hangup()]),
        Scenario("Mailbox: listen to the message, record again, then save", HOTLINE, "13811112222",
                 hotline() + [menu, Press("1")] + record(3.0, "1") + [WaitPrompt("hotline/review_menu"), Press("2")]
                 + [WaitPrompt(BEEP), Speak(2.0), Silence(SILENCE_END), WaitPrompt("hotline/review_menu"),
                    Press("3"), WaitPrompt("hotline/serial_menu"), Hangup()]),
        Scenario("Mailbox: record, then discard and go back to the menu", HOTLINE, "13822223333",
                 hotline() + [menu, Press("1")] + record(2.0, "4") + [menu, Hangup()]),
        Scenario("Complaint in English: power cut, serial read back twice", HOTLINE, "13833334444",
                 hotline("2") + [menu, Press("2"), WaitPrompt("hotline/complaint/category_menu"), Press("2")]
                 + record(3.0) + [WaitPrompt("hotline/serial_menu"), Press("1"),
                                  WaitPrompt("hotline/serial_menu"), Hangup()]),
        Scenario("Complaint: water quality", HOTLINE, "13844445555",
                 hotline() + [menu, Press("2"), WaitPrompt("hotline/complaint/category_menu"), Press("1")]
                 + record(5.0) + [WaitPrompt("hotline/serial_menu"), Hangup()]),
        Scenario("Complaint: traffic, caller hangs up while recording (saved anyway)", HOTLINE, "13855556666",
                 hotline() + [menu, Press("2"), WaitPrompt("hotline/complaint/category_menu"), Press("3"),
                              WaitPrompt(BEEP), Speak(3.0), Hangup()]),
        Scenario("Complaint: environment (noise at night)", HOTLINE, "13866667777",
                 hotline() + [menu, Press("2"), WaitPrompt("hotline/complaint/category_menu"), Press("4")]
                 + record(2.5) + [WaitPrompt("hotline/serial_menu"), Hangup()]),
        Scenario("Status lookup: a closed ticket, then one in progress", HOTLINE, "13877778888",
                 hotline() + [menu, Press("3"), WaitPrompt("hotline/status/enter_serial"), Press(closed_serial),
                              WaitPrompt("hotline/status/after_menu"), Press("1"),
                              WaitPrompt("hotline/status/enter_serial"), Press(open_serial),
                              WaitPrompt("hotline/status/after_menu"), Hangup()]),
        Scenario("Status lookup: a number that does not exist, then a mistyped one", HOTLINE, "13888889999",
                 hotline() + [menu, Press("3"), WaitPrompt("hotline/status/enter_serial"), Press(unknown_serial),
                              WaitPrompt("hotline/status/after_menu"), Press("1"),
                              WaitPrompt("hotline/status/enter_serial"), Press(mistyped),
                              WaitPrompt("hotline/status/invalid_serial"), Hangup()]),
        Scenario("Consultation: policies, back with *, how-to guides, top with #", HOTLINE, "13899990000",
                 hotline() + [menu, Press("4"), WaitPrompt("hotline/consult/menu"), Press("1"),
                              WaitPrompt("hotline/consult/policy/menu"), Press("2"),
                              WaitPrompt("hotline/consult/after_info"), Press("*"),
                              WaitPrompt("hotline/consult/policy/menu"), Press("*"),
                              WaitPrompt("hotline/consult/menu"), Press("3"),
                              WaitPrompt("hotline/consult/howto/menu"), Press("1"),
                              WaitPrompt("hotline/consult/after_info"), Press("#"), menu, Hangup()]),
        Scenario("Consultation in English: city guide", HOTLINE, "13900001111",
                 hotline("2") + [menu, Press("4"), WaitPrompt("hotline/consult/menu"), Press("2"),
                                 WaitPrompt("hotline/consult/guide/menu"), Press("3"),
                                 WaitPrompt("hotline/consult/after_info"), Hangup()]),
        Scenario("Opinion survey: all three questions answered", HOTLINE, "13900002222",
                 hotline() + [menu, Press("5"), WaitPrompt("hotline/survey/q1_rating"), Press("4"),
                              WaitPrompt("hotline/survey/q2_used_services"), Press("1"),
                              WaitPrompt("hotline/survey/q3_recommend"), Press("1"), menu, Hangup()]),
        Scenario("Opinion survey: caller gives up after one answer (stored as incomplete)", HOTLINE,
                 "13900003333",
                 hotline() + [menu, Press("5"), WaitPrompt("hotline/survey/q1_rating"), Press("2"),
                              WaitPrompt("hotline/survey/q2_used_services", after="start"), Hangup()]),
        Scenario("Wrong key, then silence: retries, then a polite goodbye", HOTLINE, "13900004444",
                 hotline() + [menu, Press("7")]),
        Scenario("Human agent: queued, answered, then the satisfaction survey", HOTLINE, "13900005555",
                 hotline() + [menu, Press("0"), WaitPrompt("survey/q1_rating"), Press("5"),
                              WaitPrompt("survey/q2_solved"), Press("1")]),
        Scenario("Human agent in English: answered, rates the call 4", HOTLINE, "13900006666",
                 hotline("2") + [menu, Press("0"), WaitPrompt("survey/q1_rating"), Press("4"),
                                 WaitPrompt("survey/q2_solved"), Press("2")]),
        # ---- utility billing line ----------------------------------------------------------
        Scenario("Billing: caller recognised by number, three overdue bills read out", UTILITY, "13900139000",
                 utility() + [WaitPrompt("water/main_menu"), Press("1"), WaitPrompt("water/bill/after_menu"),
                              Hangup()]),
        Scenario("Billing in English: three accounts on one number, picks the 2nd, outage notice", UTILITY,
                 "13800138000",
                 utility("2") + [WaitPrompt("water/account/press_0_other"), Press("2"),
                                 WaitPrompt("water/main_menu"), Press("1"), WaitPrompt("water/bill/after_menu"),
                                 Hangup()]),
        Scenario("Billing: unknown number, keys a closed account, then a valid one; burst pipe repair",
                 UTILITY, "13000000000",
                 utility() + [WaitPrompt("water/account/enter_number"), Press("100200300404"),
                              WaitPrompt("water/account/closed"), WaitPrompt("water/account/enter_number"),
                              Press("100200300601"), WaitPrompt("water/main_menu"), Press("2"),
                              WaitPrompt("water/repair/category_menu"), Press("1"), WaitPrompt(BEEP), Speak(4.0),
                              Silence(SILENCE_END), WaitPrompt("water/repair/after_menu"), Hangup()]),
        Scenario("Repair report: low water pressure, work order with due time", UTILITY, "13700137000",
                 utility() + [WaitPrompt("water/main_menu"), Press("2"), WaitPrompt("water/repair/category_menu"),
                              Press("3"), WaitPrompt(BEEP), Speak(2.0), Silence(SILENCE_END),
                              WaitPrompt("water/repair/after_menu"), Hangup()]),
        Scenario("Billing: wrong account number format, then silence, then a good one", UTILITY,
                 "13000000001",
                 utility() + [WaitPrompt("water/account/enter_number"), Press("1234#"),
                              WaitPrompt("water/account/invalid_number"), WaitPrompt("water/account/enter_number"),
                              WaitPrompt("common/no_input"), WaitPrompt("water/account/enter_number"),
                              Press("100200300601"), WaitPrompt("water/main_menu"), Hangup()]),
        Scenario("Billing: asks for an agent; the billing expert finishes a call, then answers", UTILITY,
                 "13900139000",
                 utility() + [WaitPrompt("water/main_menu"), Press("0"), Hangup(at=600.0)]),
        # ---- post-call satisfaction survey ---------------------------------------------------
        Scenario("Satisfaction survey dialled directly: rates 3, problem not solved", SURVEY, "13911112222",
                 [WaitPrompt("survey/q1_rating"), Press("3"), WaitPrompt("survey/q2_solved"), Press("2")]),
    ]


def build_agents_on_break() -> list[Scenario]:
    """Placed while the hotline's agents are on break: logged in, so the queue keeps its
    callers (no overflow), but offered no calls, so this caller waits on music on hold and
    gives up: an abandoned call on every run. (Placed beside the answered calls, whether
    an agent was free when it queued depended on how busy the machine was.)"""
    return [
        Scenario("Human agent: caller hangs up while waiting in the queue (abandoned)", HOTLINE, "13900007777",
                 hotline() + [WaitPrompt("hotline/main_menu"), Press("0"),
                              WaitPrompt("local_stream://", after="start"), Wait(20.0), Hangup()]),
    ]


def build_no_agents() -> list[Scenario]:
    """Placed after the hotline's agents have logged out: with nobody logged in the queue's
    overflow rules (routing.yaml) fire at once and the router sends the caller on to flow
    mayors_mailbox: "all agents are busy, please leave a message"."""
    return [
        Scenario("Human agent when every hotline agent has logged out: overflow to the mailbox", HOTLINE,
                 "13900008888",
                 hotline() + [WaitPrompt("hotline/main_menu"), Press("0"), WaitPrompt("hotline/agents_busy")]
                 + [WaitPrompt(BEEP), Speak(3.0), Silence(SILENCE_END), WaitPrompt("hotline/review_menu"),
                    Press("3"), WaitPrompt("hotline/ticket_number_is"), WaitPrompt("common/goodbye")]),
    ]

"""What one attempt's result means for the contact: pure functions, no clock, no I/O.

FreeSWITCH reports why an originate failed with a hangup cause (switch_ivr_originate.c):
USER_BUSY when the callee is busy; NO_ANSWER / NO_USER_RESPONSE / ALLOTTED_TIMEOUT when
nobody picked up in time (ORIGINATOR_CANCEL when we gave up first); anything else
(CALL_REJECTED, UNALLOCATED_NUMBER, NORMAL_TEMPORARY_FAILURE, gateway down...) is a
failed attempt. An answered call is 'completed' only when the flow ran to its end (and,
if the campaign says so, set its completed_when variable); a callee who hung up
mid-message is 'not_completed'.
"""
from __future__ import annotations

from dataclasses import dataclass

from fsapp.campaign.model import RETRY_DEFAULTS, RETRYABLE, Retry

BUSY_CAUSES = frozenset({"USER_BUSY"})
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "ORIGINATOR_CANCEL",
                              "RECOVERY_ON_TIMER_EXPIRE"})


def classify(answered: bool, cause: str | None, flow_completed: bool = False, abandoned: bool = False) -> str:
    """The outcome of one attempt: completed, not_completed, abandoned (answered, no
    agent in time), busy, no_answer or failed."""
    if answered:
        if abandoned:
            return "abandoned"
        return "completed" if flow_completed else "not_completed"
    cause = (cause or "").upper()
    if cause in BUSY_CAUSES:
        return "busy"
    if cause in NO_ANSWER_CAUSES:
        return "no_answer"
    return "failed"


@dataclass(frozen=True)
class Next:
    state: str                  # completed, retry, failed, excluded, invalid
    retry_at: float | None = None


def next_state(outcome: str, attempt: int, now: float, retry: Retry) -> Next:
    """The contact's state after attempt number `attempt` (1-based) ended with `outcome`."""
    if outcome == "completed":
        return Next("completed")
    if outcome == "excluded":
        return Next("excluded")
    if outcome == "invalid_number":
        return Next("invalid")
    if outcome not in RETRYABLE:
        raise ValueError(f"unknown outcome {outcome!r}")
    if attempt >= retry.max_attempts:
        return Next("failed")
    wait = retry.after.get(outcome)
    if wait is None:
        wait = retry.after[RETRY_DEFAULTS[outcome]]
    return Next("retry", now + wait)


def abandon_rate(attempts: list[dict], now: float, window_s: float) -> tuple[int, int]:
    """(answered, abandoned) among the attempts answered within the last window_s: the
    figure regulators cap (Ofcom: abandoned calls at most 3 % of live calls per campaign
    over 24 hours)."""
    answered = abandoned = 0
    for a in attempts:
        at = a.get("answered_at")
        if not a.get("answered") or at is None or now - float(at) > window_s:
            continue
        answered += 1
        abandoned += a.get("outcome") == "abandoned"
    return answered, abandoned


def over_abandon_cap(answered: int, abandoned: int, cap: float) -> bool:
    """No new call while abandoned calls exceed the cap's share of answered ones."""
    return abandoned > cap * answered

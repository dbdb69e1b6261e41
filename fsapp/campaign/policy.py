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

from fsapp.campaign.model import RETRYABLE, Retry

BUSY_CAUSES = frozenset({"USER_BUSY"})
NO_ANSWER_CAUSES = frozenset({"NO_ANSWER", "NO_USER_RESPONSE", "ALLOTTED_TIMEOUT", "ORIGINATOR_CANCEL",
                              "RECOVERY_ON_TIMER_EXPIRE"})


def classify(answered: bool, cause: str | None, flow_completed: bool = False) -> str:
    """The outcome of one attempt: completed, not_completed, busy, no_answer or failed."""
    if answered:
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
    return Next("retry", now + retry.after[outcome])

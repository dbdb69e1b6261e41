"""The dialer's next step, decided from facts alone (pure; no clock, no I/O).

    decide(now, status, window_open, next_open, pacer, active, active_on_gateway, gateway)
        -> Step("dial") | Step("wait", until=T or None, reason)

Order of the checks: the campaign must be running and not held (agent-assisted: too many
abandoned calls); the calling window open (a call
never starts outside it, a retry due at night waits for the morning); a free line
(max concurrent, per-gateway limit); the rate (calls per minute). until=None means
"until something changes" (a call ends, the campaign is resumed).
"""
from __future__ import annotations

from dataclasses import dataclass

from fsapp.campaign.pacing import Pacer


@dataclass(frozen=True)
class Step:
    action: str                    # dial | wait
    until: float | None = None
    reason: str = ""


def decide(now: float, status: str, window_open: bool, next_open: float | None, pacer: Pacer,
           active: int, active_on_gateway: int, gateway: str, held: str = "") -> Step:
    if status != "running":
        return Step("wait", None, f"campaign {status}")
    if held:
        return Step("wait", None, held)
    if not window_open:
        return Step("wait", next_open, "outside the calling window")
    if not pacer.has_room(active, active_on_gateway, gateway):
        return Step("wait", None, "all lines busy")
    ready = pacer.rate_limited_until(now)
    if ready > now:
        return Step("wait", ready, "pacing")
    return Step("dial")

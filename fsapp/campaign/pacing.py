"""When the next call may start: calls per minute, concurrent calls in all and per gateway.

Pure: the dialer passes the time and the calls in progress; nothing here reads a clock.
Starts are spaced 60/calls_per_minute apart. A start a little late (the dialer woke up
late, a claim took a while) keeps the cadence, so small delays do not lower the rate;
a start held back by more than one interval (window closed, concurrency full, nothing
due) does not bank credit for a burst: the next start is one interval after now.
"""
from __future__ import annotations

from fsapp.campaign.model import Pacing


class Pacer:
    def __init__(self, pacing: Pacing):
        self.pacing = pacing
        self.interval = 60.0 / pacing.calls_per_minute
        self.next_start: float | None = None

    def rate_limited_until(self, now: float) -> float:
        """The earliest moment the rate allows a start (now or later)."""
        return now if self.next_start is None else max(now, self.next_start)

    def has_room(self, active: int, active_on_gateway: int, gateway: str) -> bool:
        if active >= self.pacing.max_concurrent:
            return False
        limit = self.pacing.gateways.get(gateway)
        return limit is None or active_on_gateway < limit

    def started(self, now: float) -> None:
        """A call started at `now`: the next one waits one interval."""
        if self.next_start is None or now - self.next_start >= self.interval:
            base = now                   # held back: no credit for a burst
        else:
            base = self.next_start       # on time or a little late: keep the cadence
        self.next_start = base + self.interval

"""A circuit breaker per database connection.

After `failures` consecutive "unavailable" outcomes the breaker opens: for `cooldown`
seconds every caller gets CircuitOpen at once (a read flow takes its error branch
immediately; a write is spooled without waiting on a dead server). Then one trial
call is let through (half-open); success closes the breaker, failure re-opens it with
the cool-down doubled, up to `max_cooldown`. Only StoreUnavailable counts: a query the
database rejected says nothing about its health.
"""
from __future__ import annotations

import time

from .errors import CircuitOpen


class CircuitBreaker:
    def __init__(self, name: str, failures: int = 3, cooldown: float = 2.0, max_cooldown: float = 30.0,
                 clock=time.monotonic):
        self.name = name
        self.threshold = max(1, failures)
        self.base_cooldown = cooldown
        self.max_cooldown = max_cooldown
        self.clock = clock
        self.consecutive = 0
        self.cooldown = cooldown
        self.opened_at: float | None = None
        self.trial_running = False

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown else "open"

    def retry_in(self) -> float:
        if self.opened_at is None:
            return 0.0
        return max(0.0, self.opened_at + self.cooldown - self.clock())

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go ahead now."""
        state = self.state
        if state == "closed":
            return
        if state == "open" or self.trial_running:
            raise CircuitOpen(f"connection {self.name!r} is failing; circuit open, next try in "
                              f"{self.retry_in():.1f}s")
        self.trial_running = True

    def success(self) -> None:
        self.consecutive = 0
        self.opened_at = None
        self.cooldown = self.base_cooldown
        self.trial_running = False

    def failure(self) -> None:
        self.consecutive += 1
        if self.trial_running:
            self.cooldown = min(self.max_cooldown, self.cooldown * 2)
            self.opened_at = self.clock()
        elif self.consecutive >= self.threshold and self.opened_at is None:
            self.opened_at = self.clock()
        self.trial_running = False

    def neutral(self) -> None:
        """The call ended without telling anything about the server (e.g. a rejected query)."""
        if self.trial_running:
            self.success()

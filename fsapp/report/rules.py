"""Counting rules of a report: what the operator's contract says counts (docs/reports.md)."""
from __future__ import annotations

from dataclasses import dataclass

SL_DENOMINATORS = {
    # name: which calls the service level divides by
    "answered+abandoned": "answered and abandoned calls (overflow, timeout, callback left out)",
    "offered": "every call that entered the queue",
    "answered+long-abandoned": "answered calls and calls abandoned after the short-abandon limit",
    "answered": "answered calls only",
}


class RuleError(ValueError):
    pass


@dataclass(frozen=True)
class Rules:
    sl_seconds: int = 20                 # answered within T seconds counts for the service level
    sl_target: float = 80.0              # percent; shown beside the figure (80/20)
    sl_denominator: str = "answered+abandoned"
    short_abandon_s: int = 5             # abandoned sooner: a short abandon, reported apart
    fcr_window_h: int = 24               # the same number calling again within it: not resolved
    internal_max_digits: int = 5         # caller numbers this short are extensions: left out (0: keep all)
    min_call_s: int = 0                  # calls shorter than this (queue time + talk) are dropped

    def __post_init__(self):
        if self.sl_denominator not in SL_DENOMINATORS:
            raise RuleError(f"service-level denominator {self.sl_denominator!r}: one of "
                            f"{', '.join(SL_DENOMINATORS)}")
        for name in ("sl_seconds", "short_abandon_s", "fcr_window_h", "internal_max_digits", "min_call_s"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise RuleError(f"{name.replace('_', '-')}: a whole number of at least 0, got {value!r}")

    @classmethod
    def parse_target(cls, text: str) -> tuple[float, int]:
        """'80/20' -> (80.0, 20): percent answered within seconds."""
        pct, sep, secs = text.partition("/")
        try:
            target, seconds = float(pct), int(secs)
        except ValueError:
            raise RuleError(f"--target {text!r}: write PERCENT/SECONDS, e.g. 80/20") from None
        if not sep or not 0 < target <= 100 or seconds < 0:
            raise RuleError(f"--target {text!r}: write PERCENT/SECONDS with 0 < PERCENT <= 100, e.g. 80/20")
        return target, seconds

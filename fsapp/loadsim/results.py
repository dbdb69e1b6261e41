"""Simulated legs as the report's figures (fsapp.report.figures), per interval and queue."""
from __future__ import annotations

import datetime as dt

from fsapp.report.figures import queue_figures
from fsapp.report.rules import Rules

from .engine import Leg


def figures_by_interval(legs: list[Leg], interval_s: int, rules: Rules, start: float) -> list[dict]:
    sums: dict[tuple[int, str], dict] = {}
    for leg in legs:
        key = (int((leg.entered - start) // interval_s), leg.queue)
        s = sums.setdefault(key, dict.fromkeys(
            ("offered", "answered", "abandoned", "short_abandoned", "answered_in_sl", "answer_wait_ms",
             "transferred", "timed_out", "callbacks_requested", "callbacks_made", "callbacks_answered",
             "handled", "talk_ms", "hold_ms", "wrap_up_ms", "fcr_calls", "fcr_resolved"), 0))
        s["offered"] += 1
        if leg.outcome == "answered":
            s["answered"] += 1
            s["answer_wait_ms"] += leg.wait_s * 1000
            s["answered_in_sl"] += leg.wait_s <= rules.sl_seconds
            s["handled"] += 1
            s["talk_ms"] += leg.talk_s * 1000
            s["wrap_up_ms"] += leg.wrap_up_s * 1000
        elif leg.outcome == "abandoned":
            s["abandoned"] += 1
            s["short_abandoned"] += leg.wait_s < rules.short_abandon_s
        elif leg.outcome == "transferred":
            s["transferred"] += 1
        elif leg.outcome == "timed_out":
            s["timed_out"] += 1
    rows = []
    for (bucket, queue), s in sorted(sums.items()):
        figs = queue_figures(s, None, rules)
        for k in ("answer_rate", "fcr", "callbacks_requested", "callbacks_made", "callbacks_answered"):
            figs.pop(k)            # no agent refusals, repeat callers or callbacks in a simulation
        rows.append({"interval": dt.datetime.fromtimestamp(start + bucket * interval_s).strftime("%Y-%m-%d %H:%M"),
                     "queue": queue, **figs})
    return rows


def occupancy(busy_s: dict[str, float], agents: int, seconds: float) -> float | None:
    return round(100.0 * sum(busy_s.values()) / (agents * seconds), 1) if agents and seconds > 0 else None

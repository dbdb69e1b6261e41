"""Figures from the sums the database returned: pure arithmetic, defined in docs/reports.md."""
from __future__ import annotations

from .rules import Rules

# the columns of each dimension, in display order
QUEUE_FIGURES = ("offered", "answered", "abandoned", "short_abandoned", "abandon_rate", "service_level",
                 "asa_s", "aht_s", "answer_rate", "transferred", "timed_out", "fcr",
                 "callbacks_requested", "callbacks_made", "callbacks_answered", "handled")
AGENT_FIGURES = ("offers", "offers_answered", "answer_rate", "handled", "aht_s", "talk_s", "hold_s",
                 "wrap_up_s", "staffed_s", "occupancy")
FLOW_FIGURES = ("calls", "visits", "no_inputs", "invalid_inputs", "hangups")
NODE_FIGURES = FLOW_FIGURES


def _pct(part: float, whole: float) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _avg_s(total_ms: float, count: float) -> float | None:
    return round(total_ms / 1000.0 / count, 1) if count else None


def service_level(sums: dict, rules: Rules) -> float | None:
    """Answered within T seconds / the calls the denominator rule counts, in percent."""
    within = sums["answered_in_sl"]
    denominator = {
        "answered+abandoned": sums["answered"] + sums["abandoned"],
        "offered": sums["offered"],
        "answered+long-abandoned": sums["answered"] + sums["abandoned"] - sums["short_abandoned"],
        "answered": sums["answered"],
    }[rules.sl_denominator]
    return _pct(within, denominator)


def queue_figures(sums: dict, offers: dict | None, rules: Rules) -> dict:
    s = {k: float(v or 0) for k, v in sums.items() if k not in ("bucket", "dim")}
    handle_ms = s["talk_ms"] + s["hold_ms"] + s["wrap_up_ms"]
    out = {k: int(s[k]) for k in ("offered", "answered", "abandoned", "short_abandoned", "transferred",
                                  "timed_out", "callbacks_requested", "callbacks_made", "callbacks_answered",
                                  "handled")}
    out.update(abandon_rate=_pct(s["abandoned"], s["offered"]), service_level=service_level(s, rules),
               asa_s=_avg_s(s["answer_wait_ms"], s["answered"]), aht_s=_avg_s(handle_ms, s["handled"]),
               answer_rate=_answer_rate(offers), fcr=_pct(s["fcr_resolved"], s["fcr_calls"]))
    return out


def _answer_rate(offers: dict | None) -> float | None:
    """Offers an agent answered / offers the agent could decide on (not the ones cancelled
    because the caller left or another agent answered first)."""
    if not offers:
        return None
    return _pct(float(offers["offers_answered"] or 0), float(offers["offers_decided"] or 0))


def agent_figures(offers: dict | None, handled: dict | None, staffed_s: float | None) -> dict:
    h = {k: float(v or 0) for k, v in (handled or {}).items() if k not in ("bucket", "dim")}
    handle_ms = h.get("talk_ms", 0.0) + h.get("hold_ms", 0.0) + h.get("wrap_up_ms", 0.0)
    count = h.get("handled", 0.0)
    staffed = float(staffed_s or 0)
    return {
        "offers": int((offers or {}).get("offers") or 0),
        "offers_answered": int((offers or {}).get("offers_answered") or 0),
        "answer_rate": _answer_rate(offers),
        "handled": int(count),
        "aht_s": _avg_s(handle_ms, count),
        "talk_s": round(h.get("talk_ms", 0.0) / 1000.0, 1),
        "hold_s": round(h.get("hold_ms", 0.0) / 1000.0, 1),
        "wrap_up_s": round(h.get("wrap_up_ms", 0.0) / 1000.0, 1),
        "staffed_s": round(staffed, 1),
        "occupancy": _pct(handle_ms / 1000.0, staffed),
    }


def node_figures(sums: dict) -> dict:
    return {k: int(sums[k] or 0) for k in NODE_FIGURES}

"""Agents needed for a call volume: the smallest agent count whose expected service level
meets the target (and whose occupancy stays under a cap), by Erlang C and, with caller
patience, Erlang A; then scheduled heads after shrinkage (breaks, training, absence).

    need = required(Demand(calls=100, interval_s=1800, aht_s=180), Target(80, 20))
    need.agents, need.scheduled, need.figures.service_level
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

from .erlang import QueueFigures, erlang_a, erlang_c

MAX_AGENTS = 100_000


class StaffingError(ValueError):
    pass


@dataclass(frozen=True)
class Demand:
    calls: float            # calls arriving in the interval
    interval_s: float       # its length
    aht_s: float            # average handle time (talk + hold + wrap-up)
    patience_s: float | None = None   # mean time a caller waits before giving up (Erlang A)
    label: str = ""

    @property
    def rate(self) -> float:
        return self.calls / self.interval_s


@dataclass(frozen=True)
class Target:
    percent: float = 80.0
    seconds: float = 20.0
    max_occupancy: float | None = None    # e.g. 0.85
    shrinkage: float = 0.0                # share of paid time not on the phones, e.g. 0.3


@dataclass(frozen=True)
class Need:
    model: str              # "erlang-c" | "erlang-a"
    agents: int             # on the phones
    scheduled: int          # agents / (1 - shrinkage)
    figures: QueueFigures | None


def figures(demand: Demand, agents: int, seconds: float, model: str) -> QueueFigures:
    if model == "erlang-a":
        return erlang_a(agents, demand.rate, demand.aht_s, demand.patience_s, seconds)
    return erlang_c(agents, demand.rate, demand.aht_s, seconds)


def _meets(f: QueueFigures, target: Target) -> bool:
    return (f.service_level * 100 >= target.percent - 1e-9
            and (target.max_occupancy is None or f.occupancy <= target.max_occupancy + 1e-12))


def required(demand: Demand, target: Target, model: str = "erlang-c") -> Need:
    if demand.calls <= 0:
        return Need(model, 0, 0, None)
    # both the service level and (falling) occupancy improve with every agent added, so
    # "meets the target" is monotone in the agent count: bisect
    def meets(agents: int) -> QueueFigures | None:
        f = figures(demand, agents, target.seconds, model)
        return f if _meets(f, target) else None
    lo, hi = 0, max(1, math.ceil(demand.rate * demand.aht_s))      # lo fails (or is 0), hi is tried
    while not meets(hi):
        lo, hi = hi, hi * 2
        if hi > MAX_AGENTS:
            raise StaffingError(f"more than {MAX_AGENTS} agents would be needed; check --calls and --aht")
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if meets(mid) else (mid, hi)
    return Need(model, hi, math.ceil(hi / (1 - target.shrinkage) - 1e-9), meets(hi))


def table(demand: Demand, target: Target, around: int, spread: int = 3) -> list[dict]:
    """Expected figures for agent counts around the requirement."""
    rows = []
    for agents in range(max(1, around - spread), around + spread + 1):
        c = erlang_c(agents, demand.rate, demand.aht_s, target.seconds)
        row = {"agents": agents, "scheduled": math.ceil(agents / (1 - target.shrinkage) - 1e-9),
               "sl_c": _pct(c.service_level), "asa_c_s": _secs(c.asa_s), "occupancy_c": _pct(c.occupancy)}
        if demand.patience_s:
            a = erlang_a(agents, demand.rate, demand.aht_s, demand.patience_s, target.seconds)
            row.update(sl_a=_pct(a.service_level), asa_a_s=_secs(a.asa_s), abandon_a=_pct(a.abandonment),
                       occupancy_a=_pct(a.occupancy))
        rows.append(row)
    return rows


def _pct(x: float) -> float:
    return round(100.0 * x, 1)


def _secs(x: float) -> float | None:
    return None if math.isinf(x) else round(x, 1)


def read_forecast(path: str | Path, interval_s: float, aht_s: float, patience_s: float | None) -> list[Demand]:
    """A CSV with a header: `interval` (a label, e.g. 08:00) and `calls`, optionally `aht`
    (seconds, overrides --aht for that row)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StaffingError(f"{path}: cannot read the forecast ({exc.strerror})") from None
    reader = csv.DictReader(text.splitlines())
    header = [h.strip() for h in reader.fieldnames or []]
    if "calls" not in header or "interval" not in header:
        raise StaffingError(f"{path}:1: the header must name the columns interval and calls "
                            f"(and optionally aht), got {', '.join(header) or 'nothing'}")
    out = []
    for lineno, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        try:
            calls = float(row["calls"])
            if calls < 0:
                raise ValueError
        except ValueError:
            raise StaffingError(f"{path}:{lineno}: calls {row['calls']!r} is not a number of calls") from None
        aht = aht_s
        if row.get("aht"):
            try:
                aht = float(row["aht"])
                if aht <= 0:
                    raise ValueError
            except ValueError:
                raise StaffingError(f"{path}:{lineno}: aht {row['aht']!r} is not a positive number of seconds") \
                    from None
        out.append(Demand(calls, interval_s, aht, patience_s, row["interval"]))
    if not out:
        raise StaffingError(f"{path}: no intervals after the header")
    return out

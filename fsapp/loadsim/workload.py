"""The calls a load simulation runs: synthetic (Poisson arrivals per interval from a
forecast, talk times from a distribution, exponential caller patience, all from one seed)
or a past day replayed from fsapp's records."""
from __future__ import annotations

import datetime as dt
import math
import random

from fsapp.staffing.plan import Demand

from .engine import SimCall

DISTRIBUTIONS = ("exponential", "lognormal", "fixed")


def talk_sampler(rnd: random.Random, mean: float, distribution: str = "exponential", cv: float = 1.0):
    """Talk times of mean `mean`: exponential (what Erlang C assumes), lognormal with
    coefficient of variation `cv` (closer to real calls), or fixed."""
    if distribution == "exponential":
        return lambda: rnd.expovariate(1.0 / mean)
    if distribution == "lognormal":
        sigma = math.sqrt(math.log(1 + cv * cv))
        mu = math.log(mean) - sigma * sigma / 2
        return lambda: rnd.lognormvariate(mu, sigma)
    if distribution == "fixed":
        return lambda: mean
    raise ValueError(f"talk-time distribution {distribution!r}: one of {', '.join(DISTRIBUTIONS)}")


def synthetic(demands: list[Demand], queue: str, start: dt.datetime, seed: int, *, talk_s: float | None = None,
              distribution: str = "exponential", cv: float = 1.0) -> list[SimCall]:
    """Poisson arrivals in consecutive intervals from `start`; each interval's own AHT
    (Demand.aht_s) is the mean talk time unless `talk_s` is given."""
    rnd = random.Random(seed)
    calls: list[SimCall] = []
    t0 = start.timestamp()
    for index, demand in enumerate(demands):
        begin = t0 + index * demand.interval_s
        end = begin + demand.interval_s
        sample = talk_sampler(rnd, talk_s or demand.aht_s, distribution, cv)
        t = begin
        while demand.calls > 0:
            t += rnd.expovariate(demand.rate)
            if t >= end:
                break
            patience = rnd.expovariate(1.0 / demand.patience_s) if demand.patience_s else math.inf
            calls.append(SimCall(f"s{len(calls) + 1}", queue, t, sample(), patience,
                                 caller=f"1{rnd.randrange(10**9, 10**10)}"))
    return calls


def replay(store, day: dt.date, default_talk_s: float, queue_map: dict[str, str] | None = None) -> list[SimCall]:
    """A past day's calls from fsapp_queue_events: each call's first queue entry, with the
    talk time it had (the default for calls that were not answered) and, for callers who
    hung up, the wait after which they did (their patience); callers who were answered
    are taken as patient."""
    start = dt.datetime(day.year, day.month, day.day)
    rows = store.execute(
        "SELECT call_uuid, queue_name, event, caller_number, wait_ms, talk_ms, event_at "
        "FROM fsapp_queue_events WHERE event_at >= ? AND event_at < ? "
        "AND event IN ('enter', 'abandoned', 'completed') ORDER BY event_at, call_uuid",
        [start, start + dt.timedelta(days=2)])
    calls: dict[str, dict] = {}
    for r in rows:
        c = calls.get(r["call_uuid"])
        if r["event"] == "enter":
            if c is None and r["event_at"] < start + dt.timedelta(days=1):
                calls[r["call_uuid"]] = {"queue": r["queue_name"], "at": r["event_at"], "caller": r["caller_number"] or "",
                                         "talk": None, "patience": math.inf}
        elif c is not None and r["event"] == "completed" and r["talk_ms"] is not None:
            c["talk"] = r["talk_ms"] / 1000.0
        elif c is not None and r["event"] == "abandoned" and r["wait_ms"] is not None:
            c["patience"] = r["wait_ms"] / 1000.0
    queue_map = queue_map or {}
    return [SimCall(uuid, queue_map.get(c["queue"], c["queue"]), c["at"].timestamp(),
                    c["talk"] if c["talk"] is not None else default_talk_s, c["patience"], c["caller"])
            for uuid, c in calls.items()]

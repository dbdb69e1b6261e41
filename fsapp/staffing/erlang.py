"""Erlang C (M/M/N) and Erlang A (M/M/N+M, callers who give up) queue figures. Pure math.

    erlang_c(agents=14, calls_per_s=100 / 1800, aht_s=180, sl_seconds=20)
    erlang_a(agents=14, calls_per_s=100 / 1800, aht_s=180, patience_s=120, sl_seconds=20)

Erlang C uses the Erlang B recursion B(n) = A·B(n-1) / (n + A·B(n-1)), which never forms
A^N or N! and so stays exact for thousands of agents; then
C = N·B / (N - A·(1 - B)), P(wait <= t) = 1 - C·e^(-(N - A)·t / AHT), ASA = C·AHT / (N - A).

Erlang A (Palm; Mandelbaum and Zeltyn, "The Palm/Erlang-A queue, with applications to call
centers", 2007) is computed as its birth-death chain: arrivals λ, service N·μ, and each
waiting caller leaving at rate θ = 1/patience. The stationary probabilities are built as
ratios to the state "all agents busy, nobody waiting" and summed until the terms vanish.
A caller who finds j callers waiting ahead moves up at rate N·μ + j·θ and gives up at rate
θ; every stage lasts an exponential time of rate N·μ + (j+1)·θ whichever way it ends, so
the chance to be served, the mean wait of those served and (by uniformization) the chance
to be served within t follow from the stage rates exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class QueueFigures:
    agents: int
    load: float                 # offered load A = λ·AHT, in Erlangs
    wait_probability: float     # P(a caller waits at all)
    service_level: float        # P(answered within sl_seconds), of all callers
    asa_s: float                # mean wait of the answered callers (inf when the queue is unstable)
    abandonment: float          # share of callers who give up (0 in Erlang C)
    occupancy: float            # busy agents / agents

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of N servers offered A Erlangs (the stable recursion)."""
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    return b


def erlang_c(agents: int, calls_per_s: float, aht_s: float, sl_seconds: float) -> QueueFigures:
    _check(agents, calls_per_s, aht_s)
    load = calls_per_s * aht_s
    if agents <= load:        # the queue grows without end: everybody waits, forever
        return QueueFigures(agents, load, 1.0, 0.0, math.inf, 0.0, 1.0)
    b = erlang_b(agents, load)
    c = agents * b / (agents - load * (1 - b))
    sl = 1.0 - c * math.exp(-(agents - load) * sl_seconds / aht_s)
    return QueueFigures(agents, load, c, max(0.0, sl), c * aht_s / (agents - load), 0.0, load / agents)


def erlang_a(agents: int, calls_per_s: float, aht_s: float, patience_s: float, sl_seconds: float,
             tolerance: float = 1e-13) -> QueueFigures:
    _check(agents, calls_per_s, aht_s)
    if not patience_s > 0:
        raise ValueError(f"patience must be more than 0 seconds, got {patience_s!r}")
    lam, mu, theta = calls_per_s, 1.0 / aht_s, 1.0 / patience_s
    n_mu = agents * mu
    # ratios to state N (all agents busy, nobody waiting): below N backwards, above N forwards
    below = [1.0]                        # states N, N-1, ..., 0
    for n in range(agents, 0, -1):
        below.append(below[-1] * n * mu / lam)
        if below[-1] < tolerance * 1e-3 and n < agents - 10:
            break
    above = [1.0]                        # states N, N+1, ...: j callers waiting
    j = 0
    while True:
        j += 1
        term = above[-1] * lam / (n_mu + j * theta)
        above.append(term)
        if term < tolerance * sum(above) and lam < n_mu + j * theta:
            break
    total = sum(below) + sum(above) - 1.0            # state N is in both lists
    p_wait = sum(above) / total                       # PASTA: what an arriving caller finds
    # the caller finding j waiting (state N + j) starts at stage j
    arrive = [a / total for a in above]
    served, served_wait, served_within = 1.0 - p_wait, 0.0, 1.0 - p_wait
    p_chain, mean_chain = 1.0, 0.0       # P(served | starting at stage j), mean wait then
    for stage in range(len(arrive)):
        rate = n_mu + (stage + 1) * theta
        p_chain *= (n_mu + stage * theta) / rate
        mean_chain += 1.0 / rate
        served += arrive[stage] * p_chain
        served_wait += arrive[stage] * p_chain * mean_chain
    served_within += _served_within(arrive, n_mu, theta, sl_seconds)
    queue_len = sum(k * a for k, a in enumerate(arrive))
    abandonment = theta * queue_len / lam             # rate of giving up / rate of arrivals
    busy = sum((agents - k) * r for k, r in enumerate(below)) / total + agents * (sum(above) - 1.0) / total
    return QueueFigures(agents, lam * aht_s, p_wait, min(1.0, float(served_within)),
                        served_wait / served if served else math.inf, abandonment, busy / agents)


def _served_within(arrive: list[float], n_mu: float, theta: float, t: float) -> float:
    """P(served within t) of the callers who wait, by uniformization of the stage chain:
    stage j moves to j-1 (j = 0: served) at rate N·μ + j·θ and is lost at rate θ."""
    import numpy as np
    if t <= 0:
        return 0.0
    top = len(arrive)
    uniform = n_mu + top * theta
    stages = np.arange(top, dtype=float)
    advance = (n_mu + stages * theta) / uniform        # stage j -> j-1, or served from 0
    stay = 1.0 - (n_mu + (stages + 1) * theta) / uniform
    v = np.array(arrive, dtype=float)                  # mass still waiting at each stage
    mean = uniform * t
    k_max = int(mean + 12 * math.sqrt(mean) + 30)
    log_p, poisson_cdf, result = -mean, 0.0, 0.0
    for k in range(1, k_max + 1):
        newly = v[0] * advance[0]                      # served at the k-th jump
        nxt = v * stay
        nxt[:-1] += v[1:] * advance[1:]
        v = nxt
        poisson_cdf += math.exp(log_p)                 # P(N(t) <= k-1), Poisson(mean) jumps by t
        log_p += math.log(mean) - math.log(k)
        result += newly * max(0.0, 1.0 - poisson_cdf)  # served at jump k counts if N(t) >= k
    return result


def _check(agents: int, calls_per_s: float, aht_s: float) -> None:
    if not isinstance(agents, int) or agents < 1:
        raise ValueError(f"agents must be a whole number of at least 1, got {agents!r}")
    if not calls_per_s > 0 or not aht_s > 0:
        raise ValueError(f"calls and handle time must be more than 0 (got {calls_per_s!r} calls/s, {aht_s!r} s)")

"""Erlang C against pyworkforce and a textbook example; Erlang A against Erlang C (patience
growing), its own flow balance, and a seeded simulation of the M/M/N+M queue."""
import heapq
import math
import random

import pytest
from pyworkforce.queuing import ErlangC

from fsapp.staffing import Demand, Target, erlang_a, erlang_b, erlang_c, required


@pytest.mark.parametrize("calls", [20, 100, 450, 2000])
@pytest.mark.parametrize("aht_min", [1.5, 3, 7])
def test_erlang_c_agrees_with_pyworkforce(calls, aht_min):
    reference = ErlangC(transactions=calls, asa=20 / 60, aht=aht_min, interval=30, shrinkage=0.0)
    load = calls * aht_min / 30
    for agents in range(math.floor(load) + 1, math.floor(load) + 12):
        ours = erlang_c(agents, calls / 1800, aht_min * 60, 20)
        assert ours.wait_probability == pytest.approx(reference.waiting_probability(agents), rel=1e-9)
        assert ours.service_level == pytest.approx(reference.service_level(agents), abs=1e-9)
        assert ours.occupancy == pytest.approx(reference.achieved_occupancy(agents), rel=1e-9)


def test_textbook_example():
    # 100 calls in 30 minutes, 3 minutes each (10 Erlangs), 80% in 20 s: 13 agents reach
    # 79.6%, 14 agents 88.8% (the worked example of most Erlang C primers)
    assert round(erlang_c(13, 100 / 1800, 180, 20).service_level, 3) == 0.796
    fourteen = erlang_c(14, 100 / 1800, 180, 20)
    assert (round(fourteen.service_level, 3), round(fourteen.asa_s, 1), round(fourteen.wait_probability, 4)) == \
        (0.888, 7.8, 0.1741)
    need = required(Demand(100, 1800, 180), Target(80, 20))
    assert need.agents == 14
    assert required(Demand(100, 1800, 180), Target(80, 20, shrinkage=0.3)).scheduled == 20      # 14 / 0.7
    assert required(Demand(100, 1800, 180), Target(80, 20, max_occupancy=0.7)).agents == 15     # 66.7%
    assert erlang_c(10, 100 / 1800, 180, 20).service_level == 0.0      # 10 Erlangs on 10 agents never catches up


def test_erlang_b_recursion_is_stable_for_thousands_of_agents():
    def direct(n, a):      # log-space: a^n/n! / sum a^k/k!
        logs = [k * math.log(a) - math.lgamma(k + 1) for k in range(n + 1)]
        top = max(logs)
        return math.exp(logs[-1] - top) / sum(math.exp(x - top) for x in logs)
    for n, a in [(1, 0.5), (50, 45.0), (2000, 1900.0), (5000, 5100.0)]:
        assert erlang_b(n, a) == pytest.approx(direct(n, a), rel=1e-9)


@pytest.mark.parametrize("agents", [12, 14, 16, 60])
def test_erlang_a_tends_to_erlang_c_as_patience_grows(agents):
    rate = agents * 0.8 / 180
    c = erlang_c(agents, rate, 180, 20)
    previous = None
    for patience in (60, 600, 6000, 1e7):
        a = erlang_a(agents, rate, 180, patience, 20)
        gap = abs(a.service_level - c.service_level)
        assert previous is None or gap < previous
        previous = gap
    assert a.service_level == pytest.approx(c.service_level, abs=1e-5)
    assert a.asa_s == pytest.approx(c.asa_s, rel=1e-3) and a.abandonment < 1e-5


def test_erlang_a_flow_balance():
    # agents busy on average = answered calls per second x AHT
    a = erlang_a(12, 100 / 1800, 180, 120, 20)
    assert a.occupancy * 12 == pytest.approx(100 / 1800 * (1 - a.abandonment) * 180, rel=1e-9)
    assert 0 < a.abandonment < a.wait_probability < 1


def simulate_mmn_m(agents, rate, aht, patience, sl, calls, seed):
    """FCFS M/M/N+M in arrival order: a caller who gives up never takes an agent, so the
    earliest free agent at the caller's turn decides its fate."""
    rnd = random.Random(seed)
    free = [0.0] * agents
    t = answered_in = abandoned = 0
    for _ in range(calls):
        t += rnd.expovariate(rate)
        wait = max(0.0, free[0] - t)
        if wait > rnd.expovariate(1 / patience):
            abandoned += 1
            continue
        answered_in += wait <= sl
        heapq.heapreplace(free, t + wait + rnd.expovariate(1 / aht))
    return answered_in / calls, abandoned / calls


@pytest.mark.parametrize("agents, patience", [(12, 120), (14, 60), (30, 200)])
def test_erlang_a_agrees_with_a_seeded_simulation(agents, patience):
    rate = agents * 0.85 / 180
    sl, abandon = simulate_mmn_m(agents, rate, 180, patience, 20, 150_000, seed=agents)
    a = erlang_a(agents, rate, 180, patience, 20)
    assert a.service_level == pytest.approx(sl, abs=0.01)          # within 1 point
    assert a.abandonment == pytest.approx(abandon, abs=0.005)


def test_bad_inputs():
    with pytest.raises(ValueError, match="agents must be a whole number"):
        erlang_c(0, 1.0, 180, 20)
    with pytest.raises(ValueError, match="patience must be more than 0"):
        erlang_a(3, 0.01, 180, 0, 20)

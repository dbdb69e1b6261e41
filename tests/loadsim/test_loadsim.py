"""`fsapp simulate-load`: the real routing core on a virtual clock agrees with Erlang C
(one queue, one skill, no abandonment) and Erlang A (with patience); overflow rules move
callers; a past day replays from the store; the same seed gives the same day."""
import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsapp.cli import main
from fsapp.loadsim import LoadSimulation
from fsapp.loadsim.results import figures_by_interval
from fsapp.loadsim.workload import replay, synthetic
from fsapp.report.rules import Rules
from fsapp.routing.config import loads_routing
from fsapp.staffing import Demand, erlang_a, erlang_c

ROOT = Path(__file__).resolve().parents[2]
DAY = dt.datetime(2026, 1, 5)


def centre(agents: int, wrap_up: float = 0, queue_extra: str = "") -> str:
    return ("queues:\n  q: {skills: {mandarin: 1}" + queue_extra + "}\nagents:\n"
            + "".join(f'  "a{i}": {{contact: user/a{i}, wrap-up-time: {wrap_up}, skills: {{mandarin: 5}}}}\n'
                      for i in range(agents))
            + "tiers:\n" + "".join(f'  - {{queue: q, agent: "a{i}"}}\n' for i in range(agents)))


def one_period(legs, rules=Rules(internal_max_digits=0)):
    (row,) = figures_by_interval(legs, 10**9, rules, DAY.timestamp())
    return row


@pytest.mark.slow
def test_one_queue_one_skill_no_abandonment_agrees_with_erlang_c():
    routing = loads_routing(centre(14), "r.yaml")
    calls = synthetic([Demand(100, 1800, 180)] * 300, "q", DAY, seed=7)
    row = one_period(LoadSimulation(routing, calls).run())
    expected = erlang_c(14, 100 / 1800, 180, 20)
    assert row["offered"] == row["answered"] == len(calls) > 29_000
    assert abs(row["service_level"] - 100 * expected.service_level) <= 2.0      # 88.8 %
    assert abs(row["asa_s"] - expected.asa_s) <= 1.5                            # 7.8 s


@pytest.mark.slow
def test_with_patience_it_agrees_with_erlang_a():
    routing = loads_routing(centre(12), "r.yaml")
    calls = synthetic([Demand(100, 1800, 180, patience_s=120)] * 200, "q", DAY, seed=3)
    row = one_period(LoadSimulation(routing, calls).run())
    expected = erlang_a(12, 100 / 1800, 180, 120, 20)
    assert abs(row["service_level"] - 100 * expected.service_level) <= 2.0      # 82.6 %
    assert abs(row["abandon_rate"] - 100 * expected.abandonment) <= 1.0         # 6.2 %


def test_the_same_seed_gives_the_same_day_and_wrap_up_keeps_agents_busy():
    routing = loads_routing(centre(5, wrap_up=30), "r.yaml")
    calls = synthetic([Demand(40, 1800, 120)] * 4, "q", DAY, seed=11)
    first = LoadSimulation(routing, calls).run()
    again = LoadSimulation(routing, synthetic([Demand(40, 1800, 120)] * 4, "q", DAY, seed=11)).run()
    assert [(leg.call, leg.agent, round(leg.wait_s, 6)) for leg in first] == \
           [(leg.call, leg.agent, round(leg.wait_s, 6)) for leg in again]
    row = one_period(first)
    assert row["aht_s"] == pytest.approx(sum(c.talk_s for c in calls) / len(calls) + 30, abs=0.05)


def test_an_overflow_rule_moves_callers_to_the_other_queue():
    what_if = loads_routing((ROOT / "docs" / "examples" / "loadsim-what-if.yaml").read_text(), "w.yaml")
    calls = synthetic([Demand(220, 3600, 180)] * 2, "hotline", DAY, seed=5)
    legs = LoadSimulation(what_if, calls).run()
    moved = [leg for leg in legs if leg.queue == "hotline" and leg.outcome == "transferred"]
    assert moved and all(leg.target == "queue:billing" and leg.wait_s == pytest.approx(30, abs=1e-6)
                         for leg in moved)
    billing = {leg.call for leg in legs if leg.queue == "billing"}
    assert billing == {leg.call for leg in moved}
    assert all(leg.agent in {"1012", "1013", "1014"} for leg in legs if leg.queue == "billing" and leg.agent)


def test_replay_of_the_recorded_day(sqlite_odbc, tmp_path):
    from fsapp.store import Store
    store = Store({"main": sqlite_odbc}, spool_dir=tmp_path / "spool", start=False)
    try:
        store.migrate()
        store.execute_script((ROOT / "docs" / "examples" / "report-records.sql").read_text())
        calls = replay(store, dt.date(2026, 12, 7), default_talk_s=100)
    finally:
        store.close()
    by_id = {c.id: c for c in calls}
    assert sorted(by_id) == ["c1", "c2", "c3", "c4", "c5", "c6", "c7", "c8", "c9"]     # first entries only
    assert (by_id["c1"].talk_s, by_id["c3"].patience_s, by_id["c3"].talk_s) == (300.0, 3.0, 100)
    assert by_id["c7"].queue == "hotline" and by_id["c6"].talk_s == 120.0
    routing = loads_routing((ROOT / "docs" / "examples" / "loadsim-routing.yaml").read_text(), "r.yaml")
    legs = LoadSimulation(routing, calls).run()
    outcome = {leg.call: leg.outcome for leg in legs}
    assert outcome["c3"] == "answered" and outcome["c4"] == "answered"    # 12 free agents: nobody waits


def test_cli_errors():
    runner = CliRunner()
    out = runner.invoke(main, ["simulate-load", "--routing", str(ROOT / "docs" / "examples" / "loadsim-routing.yaml")])
    assert out.exit_code != 0 and "give one of --calls N, --forecast FILE.csv or --replay YYYY-MM-DD" in out.output
    out = runner.invoke(main, ["simulate-load", "--routing", str(ROOT / "docs" / "examples" / "loadsim-routing.yaml"),
                               "--calls", "10", "--queue", "sales"])
    assert out.exit_code != 0 and "'sales' is not a queue of" in out.output

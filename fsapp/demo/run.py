"""Place the scenarios' calls, several at a time, and collect what happened to each."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import gevent
from gevent.pool import Pool

from .line import DemoLine
from .scenarios import Scenario

CALL_DEADLINE = 150.0   # wall seconds one scripted call may take before it counts as stuck


@dataclass
class CallResult:
    index: int
    scenario: Scenario
    report: object          # fsapp.sim.CallReport: the caller's side
    outcome: object         # fsapp.flow.interpreter.Outcome: fsapp's side (None if it never ran)
    wall_s: float
    error: str | None = None

    @property
    def failed(self) -> bool:
        """The call did not run as a call should: a broken script, or the flow failed."""
        return bool(self.error) or self.outcome is None or self.outcome.reason == "error"


def run_scenarios(line: DemoLine, scenarios: list[Scenario], concurrency: int = 12,
                  progress: Callable[[CallResult, int, int], None] | None = None,
                  first_index: int = 0, total: int | None = None) -> list[CallResult]:
    results: list[CallResult | None] = [None] * len(scenarios)
    done = first_index
    total = total or len(scenarios)

    def one(index: int, scenario: Scenario) -> None:
        nonlocal done
        started = time.monotonic()
        error = None
        report = outcome = None
        try:
            caller = line.place(scenario.number, scenario.steps, scenario.caller_id)
            report = caller.wait(CALL_DEADLINE)
            if report.error:
                error = report.error
            outcome = line.wait_outcome(report.uuid) if report.uuid else None
        except Exception as exc:  # one broken call must not stop the demo: it is reported
            error = f"{type(exc).__name__}: {exc}"
        result = CallResult(first_index + index, scenario, report, outcome, time.monotonic() - started, error)
        results[index] = result
        done += 1
        if progress is not None:
            progress(result, done, total)

    pool = Pool(concurrency)
    for i, scenario in enumerate(scenarios):
        pool.spawn(one, i, scenario)
        gevent.sleep(0.05)  # callers do not all dial in the same millisecond
    pool.join()
    return [r for r in results if r is not None]

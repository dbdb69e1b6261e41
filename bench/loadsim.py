"""simulate-load benchmark: CPU seconds per simulated call, for a centre of N agents on one
queue at ~95 % load (a decision looks at the queue's free agents through the memory
backend's free-agent index, not at every agent).

    .venv/bin/python bench/loadsim.py [--agents 1000] [--calls 2000] [--repeat 3]

Prints min/median/max of process CPU time per call and the projection for a day of
100,000 calls.
"""
import argparse
import datetime as dt
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fsapp.loadsim import LoadSimulation  # noqa: E402
from fsapp.loadsim.workload import synthetic  # noqa: E402
from fsapp.routing.config import loads_routing  # noqa: E402
from fsapp.staffing import Demand  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    yaml = ("queues:\n  q: {}\nagents:\n"
            + "".join(f'  "a{i}": {{contact: user/a{i}, wrap-up-time: 10}}\n' for i in range(args.agents))
            + "tiers:\n" + "".join(f'  - {{queue: q, agent: "a{i}"}}\n' for i in range(args.agents)))
    routing = loads_routing(yaml, "bench.yaml")
    aht = 300.0
    rate = 0.95 * args.agents / (aht + 10)               # calls per second at 95 % occupancy
    interval = args.calls / rate
    per_call = []
    for run in range(args.repeat):
        calls = synthetic([Demand(args.calls, interval, aht)], "q", dt.datetime(2026, 1, 5), seed=run)
        began = time.process_time()
        LoadSimulation(routing, calls).run()
        per_call.append((time.process_time() - began) / len(calls))
    ms = [x * 1000 for x in per_call]
    print(f"{args.agents} agents, {args.calls} calls a run, {args.repeat} runs: CPU ms per call "
          f"min {min(ms):.3f} median {statistics.median(ms):.3f} max {max(ms):.3f}; "
          f"a 100,000-call day: ~{statistics.median(per_call) * 100_000:.0f} s")


if __name__ == "__main__":
    main()

#!/usr/bin/env python
"""Validation time and peak memory against flow file size: is it linear?

    .venv/bin/python bench/flow_size.py [--values 10000 100000 300000] [--runs 3]

Each size is a flow of the realistic node mix of bench/flow_compile.py grown until it holds
about that many YAML values (keys, values, list items: the unit of [flows]
max_yaml_values), validated in a fresh process with the limit raised to fit. Printed per
size: flow nodes, bytes, CPU seconds (time.process_time) and peak RSS (MB, ru_maxrss of
that process), min/median/max over --runs; sizes alternate within each round. The last
column is CPU microseconds per YAML value: flat means linear. A second table shows the
default limit refusing the biggest size, with how long that takes.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[1] + "/bench")
from flow_compile import make_flow
from fsapp.flow.compiler import Environment, compile_text
nodes, limit = int(sys.argv[2]), int(sys.argv[3])
text = make_flow(nodes)
env = Environment(has_prompt=lambda name, lang: True, queries=frozenset({"bench.lookup"}),
                  queues=frozenset(), calendars=frozenset(), max_yaml_values=limit)
start = time.process_time()
flow, problems = compile_text(text, "bench.yaml", env)
cpu = time.process_time() - start
print(json.dumps({"cpu": cpu, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "bytes": len(text), "nodes": len(flow.nodes) if flow else None,
                  "problem": str(problems[0]) if problems else None}))
"""


def values_in(nodes: int) -> int:
    import yaml
    sys.path.insert(0, str(ROOT / "bench"))
    from flow_compile import make_flow
    return sum(isinstance(e, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent))
               for e in yaml.parse(make_flow(nodes), Loader=yaml.CSafeLoader))


def child(nodes: int, limit: int) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(nodes), str(limit)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--values", type=int, nargs="+", default=[10_000, 100_000, 300_000])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    per_node = values_in(1000) / 1000
    sizes = [(target, max(10, round(target / per_node / 10) * 10)) for target in args.values]
    results: dict[int, list[dict]] = {target: [] for target, _ in sizes}
    for _ in range(args.runs):
        for target, nodes in sizes:
            results[target].append(child(nodes, limit=2 * target))
    print(f"{'values':>8} {'nodes':>7} {'bytes':>10}  {'CPU s min/med/max':>20}  "
          f"{'peak MB min/med/max':>22}  {'us/value':>8}")
    for target, nodes in sizes:
        runs = results[target]
        assert all(r["problem"] is None for r in runs), runs[0]["problem"]
        cpu = sorted(r["cpu"] for r in runs)
        rss = sorted(r["rss_mb"] for r in runs)
        print(f"{target:>8,} {nodes:>7,} {runs[0]['bytes']:>10,}  "
              f"{cpu[0]:6.2f} {statistics.median(cpu):6.2f} {cpu[-1]:6.2f}  "
              f"{rss[0]:7.0f}{statistics.median(rss):7.0f}{rss[-1]:7.0f}  "
              f"{statistics.median(cpu) / target * 1e6:8.1f}")
    biggest, nodes = sizes[-1]
    if biggest <= 200_000:
        return 0
    refused = child(nodes, limit=200_000)
    print(f"default limit (200,000), {biggest:,} values: refused in {refused['cpu']:.2f} s CPU, "
          f"peak {refused['rss_mb']:.0f} MB: {refused['problem']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

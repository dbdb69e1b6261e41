"""How long compiling a 1,000-node flow takes, against parsing the same file with the C
YAML loader fsapp itself uses (yaml.CSafeLoader).

    .venv/bin/python bench/flow_compile.py [--nodes 1000] [--repeat 5]

The flow is a realistic mix (menus, collects, SQL lookups, branches with expressions,
templated prompts, sets, plays) and passes validation. CPU time of this process, both
sides alternating, min / median / max of --repeat (>= 3) runs (bench/fair.py).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fair import alternate, ratios, spread  # noqa: E402

from fsapp.flow import expr  # noqa: E402
from fsapp.flow.compiler import Environment, compile_text  # noqa: E402


def make_flow(n_nodes: int) -> str:
    """Groups of 10 nodes: menu -> collect -> sql -> branch -> plays/sets, chained."""
    lines = ["flow: bench", "numbers: [\"10000\"]", "languages: [zh-CN, en-US]", "start: g0_menu",
             "vars: {count: 0}", "nodes:"]
    groups = max(1, n_nodes // 10)
    for g in range(groups):
        nxt = f"g{g + 1}_menu" if g + 1 < groups else "bye"
        lines += [
            f"  g{g}_menu:",
            "    menu:",
            f"      prompt: bench/menu_{g}",
            f"      options: {{\"1\": g{g}_collect, \"2\": g{g}_play, \"3\": {nxt}, \"0\": g{g}_set}}",
            "      timeout: 5s",
            "      invalid: common/invalid",
            "      on_fail: bye",
            f"  g{g}_collect:",
            f"    collect: {{prompt: bench/enter, min: 4, max: 8, validate: '^\\d{{4,8}}$', into: acct_{g}}}",
            f"    next: g{g}_sql",
            f"    on_fail: g{g}_menu",
            f"  g{g}_sql:",
            f"    sql: {{query: bench.lookup, params: {{acct: \"{{{{ acct_{g} }}}}\"}}, into: row_{g}, on_error: g{g}_err}}",
            f"    next: g{g}_branch",
            f"  g{g}_branch:",
            "    branch:",
            f"      - {{when: \"row_{g} is none\", goto: g{g}_none}}",
            f"      - {{when: \"row_{g}.balance > 100 and count < 3\", goto: g{g}_say}}",
            f"    else: g{g}_play",
            f"  g{g}_none: {{play: bench/not_found, next: g{g}_menu}}",
            f"  g{g}_say:",
            f"    play: [bench/balance_is, {{say: money, value: \"{{{{ row_{g}.balance }}}}\"}}]",
            f"    next: g{g}_set",
            f"  g{g}_set: {{set: {{count: \"count + 1\"}}, next: g{g}_play}}",
            f"  g{g}_play: {{play: \"bench/info_{{{{ lang }}}}\", next: g{g}_back}}",
            f"  g{g}_err: {{play: common/sorry, next: {nxt}}}",
            f"  g{g}_back: {{goto: {nxt}}}",
        ]
    lines += ["  bye: {hangup: {prompt: common/goodbye}}"]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    text = make_flow(args.nodes)
    env = Environment(has_prompt=lambda name, lang: True, queries=frozenset({"bench.lookup"}),
                      queues=frozenset(), calendars=frozenset())
    flow, problems = compile_text(text, "bench.yaml", env)
    if problems:
        sys.exit("bench flow does not validate:\n" + "\n".join(map(str, problems[:10])))

    def cold_compile():  # no help from the expression parse cache of an earlier run
        expr.parse_expression.cache_clear()
        expr.parse_template.cache_clear()
        compile_text(text, "bench.yaml", env)

    runs = alternate({
        # what fsapp's loader parses with (fsapp.yamlsrc: libyaml), the fair baseline
        "CSafeLoader": lambda: yaml.load(text, Loader=yaml.CSafeLoader),
        "compile": cold_compile,
    }, args.repeat)
    print(f"flow: {len(flow.nodes)} nodes, {len(text.splitlines())} lines, {len(text)} bytes; "
          f"CPU ms, min / median / max of {args.repeat}, alternating")
    print(f"yaml.load CSafeLoader (libyaml, as fsapp): {spread(runs['CSafeLoader'], 1000, '{:.1f}')}")
    print(f"fsapp compile + validate (incl. parse):    {spread(runs['compile'], 1000, '{:.1f}')}")
    print(f"ratio compile / CSafeLoader parse:          {spread(ratios(runs['compile'], runs['CSafeLoader']))}x")


if __name__ == "__main__":
    main()

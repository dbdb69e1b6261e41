"""`fsapp simulate-load`: the real routing core on a virtual clock (docs/reports.md)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import time

import click

from fsapp import config as config_mod


@click.command("simulate-load")
@click.option("--routing", "routing_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="routing.yaml to simulate (default: [routing] config). Try a changed copy: what if.")
@click.option("--queue", default=None, help="Queue the synthetic calls join (default: the file's first queue).")
@click.option("--calls", type=float, default=None, help="Calls per interval, the same in every interval.")
@click.option("--intervals", type=click.IntRange(1, 10_000), default=1, show_default=True,
              help="How many intervals of --calls.")
@click.option("--forecast", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CSV interval,calls[,aht]: Poisson arrivals per interval.")
@click.option("--interval", "interval_min", type=click.IntRange(1, 1440), default=60, show_default=True,
              help="Minutes per interval (arrivals and the figures printed).")
@click.option("--aht", type=float, default=180.0, show_default=True,
              help="Mean talk time in seconds (each agent's wrap-up-time comes on top).")
@click.option("--talk-distribution", type=click.Choice(["exponential", "lognormal", "fixed"]),
              default="exponential", show_default=True)
@click.option("--cv", type=float, default=1.0, show_default=True, help="Lognormal talk times: coefficient of variation.")
@click.option("--patience", type=float, default=None, help="Mean seconds a caller waits before hanging up.")
@click.option("--replay", "replay_day", default=None,
              help="YYYY-MM-DD: replay that day's calls from the store's records instead.")
@click.option("--date", "day", default=None, help="YYYY-MM-DD the synthetic day starts on (default today).")
@click.option("--start", default="00:00", show_default=True, help="HH:MM the first interval starts at.")
@click.option("--ring", type=float, default=0.0, show_default=True, help="Seconds an agent's phone rings.")
@click.option("--target", default="80/20", show_default=True, help="Service level PERCENT/SECONDS reported.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed: the same seed, the same day.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.pass_context
def simulate_load(ctx, routing_file, queue, calls, intervals, forecast, interval_min, aht, talk_distribution, cv,
                  patience, replay_day, day, start, ring, target, seed, fmt):
    """Run a day of calls through fsapp's routing (strategies, skills, priorities, overflow)
    on a virtual clock and print the figures per interval.

    \b
      fsapp simulate-load --calls 100 --interval 30 --intervals 16 --aht 180
      fsapp simulate-load --forecast forecast.csv --interval 30 --aht 240 --patience 90
      fsapp simulate-load --replay 2026-12-07 --routing routing-with-overflow.yaml
    """
    from fsapp.loadsim import LoadSimulation
    from fsapp.loadsim.results import figures_by_interval, occupancy
    from fsapp.loadsim.workload import replay, synthetic
    from fsapp.report.rules import RuleError, Rules
    from fsapp.routing.config import load_routing
    from fsapp.staffing import Demand, StaffingError, read_forecast
    cfg = ctx.find_object(config_mod.Config) or config_mod.load(None)
    path = routing_file or cfg.get("routing", "config")
    try:
        routing = load_routing(path)
    except Exception as exc:  # noqa: BLE001 - file errors say file:line
        raise click.ClickException(str(exc)) from None
    if not routing.queues:
        raise click.ClickException(f"{path}: no queues to simulate")
    queue = queue or next(iter(routing.queues))
    if queue not in routing.queues:
        raise click.BadParameter(f"{queue!r} is not a queue of {path} ({', '.join(routing.queues)})",
                                 param_hint="--queue")
    try:
        percent, seconds = Rules.parse_target(target)
        rules = Rules(sl_seconds=seconds, sl_target=percent, internal_max_digits=0)
        first = _start(day, start)
    except (RuleError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    interval_s = interval_min * 60
    sources = sum(x is not None for x in (calls, forecast, replay_day))
    if sources != 1:
        raise click.UsageError("give one of --calls N, --forecast FILE.csv or --replay YYYY-MM-DD")
    try:
        if replay_day:
            from fsapp.cli.db import _store
            store = _store(ctx)
            try:
                the_day = dt.date.fromisoformat(replay_day)
                workload = replay(store, the_day, aht)
            finally:
                store.close()
            first = dt.datetime(the_day.year, the_day.month, the_day.day)
            unknown = sorted({c.queue for c in workload} - set(routing.queues))
            if unknown:
                raise click.ClickException(f"the records of {replay_day} have queues that {path} does not: "
                                           f"{', '.join(unknown)}")
        else:
            demands = (read_forecast(forecast, interval_s, aht, patience) if forecast
                       else [Demand(calls, interval_s, aht, patience)] * intervals)
            workload = synthetic(demands, queue, first, seed, distribution=talk_distribution, cv=cv)
    except (StaffingError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    began = time.process_time()
    sim = LoadSimulation(routing, workload, ring_s=ring, start=first.timestamp())
    legs = sim.run()
    cpu = time.process_time() - began
    rows = figures_by_interval(legs, interval_s, rules, first.timestamp())
    span = max((leg.entered for leg in legs), default=first.timestamp()) - first.timestamp()
    span = max(interval_s, math.ceil(span / interval_s) * interval_s)
    summary = {"calls": len(workload), "agents": len(routing.agents), "routing": str(path),
               "occupancy": occupancy(sim.busy_s, len(routing.agents), span), "seed": seed}
    if fmt == "json":
        click.echo(json.dumps({"summary": summary, "rows": rows}, indent=1))
        return
    if fmt == "csv":
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
        click.echo(out.getvalue(), nl=False)
        return
    from fsapp.report.output import HEADINGS
    from rich.console import Console
    from rich.table import Table
    table = Table(title=f"{summary['calls']} calls through {path} ({summary['agents']} agents, occupancy "
                        f"{summary['occupancy']} %), seed {seed}", title_justify="left")
    for col in (rows[0] if rows else {"interval": None}):
        table.add_column(HEADINGS.get(col, col), justify="left" if col in ("interval", "queue") else "right")
    for row in rows:
        table.add_row(*("-" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in row.values()))
    Console(width=200, color_system=None).print(table)
    click.echo(f"simulated in {cpu:.1f} s of CPU", err=True)


def _start(day: str | None, hhmm: str) -> dt.datetime:
    base = dt.date.fromisoformat(day) if day else dt.date.today()
    try:
        hour, minute = (int(x) for x in hhmm.split(":"))
        return dt.datetime(base.year, base.month, base.day, hour, minute)
    except ValueError:
        raise ValueError(f"--start {hhmm!r}: write HH:MM, e.g. 08:00") from None

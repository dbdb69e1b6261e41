"""`fsapp staffing`: agents a call volume needs (Erlang C; Erlang A with --patience)."""
from __future__ import annotations

import csv
import io
import json

import click


def _percent(text: str, option: str) -> float:
    try:
        value = float(str(text).rstrip("%"))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a percentage, e.g. 30 or 30%", param_hint=option) from None
    if not 0 <= value < 100:
        raise click.BadParameter(f"{text!r}: between 0 and 100", param_hint=option)
    return value / 100.0


@click.command()
@click.option("--calls", type=float, default=None, help="Calls arriving per interval.")
@click.option("--aht", type=float, required=True, help="Average handle time in seconds (talk + hold + wrap-up).")
@click.option("--target", default="80/20", show_default=True, help="Service level: PERCENT answered within SECONDS.")
@click.option("--interval", "interval_min", type=click.IntRange(1, 1440), default=60, show_default=True,
              help="Minutes per interval (of --calls and of each --forecast row).")
@click.option("--patience", type=float, default=None,
              help="Seconds a caller waits on average before hanging up: adds Erlang A (abandonment).")
@click.option("--shrinkage", default="0", show_default=True,
              help="Percent of paid time not on the phones (breaks, training): scheduled = agents / (1 - it).")
@click.option("--max-occupancy", default=None, help="Percent; add agents until occupancy is at most this.")
@click.option("--forecast", type=click.Path(exists=True, dir_okay=False), default=None,
              help="CSV with columns interval,calls[,aht]: agents per interval.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
def staffing(calls, aht, target, interval_min, patience, shrinkage, max_occupancy, forecast, fmt):
    """Agents needed to answer a call volume within a service level.

    \b
      fsapp staffing --calls 200 --aht 180 --interval 30 --target 80/20
      fsapp staffing --calls 200 --aht 180 --interval 30 --patience 120 --shrinkage 30
      fsapp staffing --forecast monday.csv --aht 240 --interval 30 --patience 90
    """
    from fsapp.report.rules import RuleError, Rules
    from fsapp.staffing import Demand, StaffingError, Target, read_forecast, required, table
    try:
        percent, seconds = Rules.parse_target(target)
    except RuleError as exc:
        raise click.ClickException(str(exc)) from None
    if (calls is None) == (forecast is None):
        raise click.UsageError("give either --calls N (one interval) or --forecast FILE.csv (many)")
    if aht <= 0 or (calls is not None and calls < 0) or (patience is not None and patience <= 0):
        raise click.UsageError("--aht and --patience must be more than 0 seconds, --calls at least 0")
    goal = Target(percent, seconds, _percent(max_occupancy, "--max-occupancy") if max_occupancy else None,
                  _percent(shrinkage, "--shrinkage"))
    interval_s = interval_min * 60.0
    try:
        if forecast:
            demands = read_forecast(forecast, interval_s, aht, patience)
            rows = [_interval_row(d, goal) for d in demands]
            title = f"agents per {interval_min}-minute interval for {percent:g}/{seconds:g}"
        else:
            demand = Demand(calls, interval_s, aht, patience)
            need = required(demand, goal)
            rows = table(demand, goal, need.agents)
            title = (f"{calls:g} calls per {interval_min} min, AHT {aht:g} s ({demand.rate * aht:.2f} Erlangs): "
                     f"Erlang C needs {need.agents} agents for {percent:g}/{seconds:g}")
            if patience:
                need_a = required(demand, goal, "erlang-a")
                title += f"; Erlang A (patience {patience:g} s) needs {need_a.agents}"
            if goal.shrinkage:
                title += f"; scheduled with {goal.shrinkage * 100:g}% shrinkage: {need.scheduled}"
    except StaffingError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(_render(rows, title, fmt), nl=fmt == "json")


def _interval_row(demand, goal) -> dict:
    from fsapp.staffing import required
    c = required(demand, goal)
    row = {"interval": demand.label, "calls": demand.calls, "erlangs": round(demand.rate * demand.aht_s, 2),
           "agents_c": c.agents, "scheduled_c": c.scheduled,
           "sl_c": round(c.figures.service_level * 100, 1) if c.figures else None}
    if demand.patience_s:
        a = required(demand, goal, "erlang-a")
        row.update(agents_a=a.agents, scheduled_a=a.scheduled,
                   sl_a=round(a.figures.service_level * 100, 1) if a.figures else None,
                   abandon_a=round(a.figures.abandonment * 100, 1) if a.figures else None)
    return row


HEADINGS = {"sl_c": "SL % (C)", "asa_c_s": "ASA s (C)", "occupancy_c": "occup. % (C)", "sl_a": "SL % (A)",
            "asa_a_s": "ASA s (A)", "abandon_a": "abandon % (A)", "occupancy_a": "occup. % (A)",
            "agents_c": "agents (C)", "scheduled_c": "scheduled (C)", "agents_a": "agents (A)",
            "scheduled_a": "scheduled (A)"}


def _render(rows: list[dict], title: str, fmt: str) -> str:
    if fmt == "json":
        return json.dumps({"title": title, "rows": rows}, indent=1)
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    from rich.console import Console
    from rich.table import Table
    out = io.StringIO()
    t = Table(title=title, title_justify="left")
    for col in rows[0]:
        t.add_column(HEADINGS.get(col, col), justify="left" if col == "interval" else "right")
    for row in rows:
        t.add_row(*("-" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in row.values()))
    Console(file=out, width=200, color_system=None).print(t)
    return out.getvalue()

"""`fsapp report`: the operators' figures from the call records in [store] (docs/reports.md)."""
from __future__ import annotations

import datetime as dt

import click

from fsapp.cli.db import _fail, _store


@click.command()
@click.option("--by", "dimension", type=click.Choice(["total", "queue", "agent", "flow", "node"]), default="queue",
              show_default=True, help="One row per queue, agent, flow or flow node (total: all queues together).")
@click.option("--period", type=click.Choice(["day", "week", "month", "year", "range"]), default="day",
              show_default=True, help="The range the report covers.")
@click.option("--date", "when", default=None,
              help="Which one: YYYY-MM-DD (day, week), YYYY-MM (month), YYYY (year), FIRST..LAST (range). "
                   "Default: the current one.")
@click.option("--interval", "by", type=click.Choice(["15", "30", "60", "day", "week", "month", "year", "total"]),
              default="total", show_default=True, help="Cut the range into buckets: minutes, day, week, ...")
@click.option("--compare", type=click.Choice(["previous", "week", "year"]), default=None,
              help="Also report the range before it, the same days a week earlier, or a year earlier.")
@click.option("--target", default="80/20", show_default=True,
              help="Service level: PERCENT of calls answered within SECONDS.")
@click.option("--sl-denominator", type=click.Choice(["answered+abandoned", "offered", "answered+long-abandoned",
                                                     "answered"]),
              default="answered+abandoned", show_default=True, help="Which calls the service level divides by.")
@click.option("--short-abandon", type=int, default=5, show_default=True,
              help="Calls abandoned within this many seconds are short abandons, reported apart.")
@click.option("--fcr-window", type=int, default=24, show_default=True,
              help="Hours: an answered call is resolved at first contact if the number does not call again.")
@click.option("--internal-max-digits", type=int, default=5, show_default=True,
              help="Caller numbers this short are internal calls, left out (0: count every call).")
@click.option("--min-call", type=int, default=0, show_default=True,
              help="Drop calls shorter than this many seconds (time in queue plus talk).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--chart", type=click.Path(dir_okay=False), default=None, help="Also draw the report into FILE.png.")
@click.pass_context
def report(ctx, dimension, period, when, by, compare, target, sl_denominator, short_abandon, fcr_window,
           internal_max_digits, min_call, fmt, chart):
    """Report service level, ASA, AHT, abandonment, answer rate, occupancy, FCR and
    per-node figures from fsapp's call records, aggregated in the database.

    \b
      fsapp report --period day --date 2026-12-07 --interval 60
      fsapp report --by agent --period month --date 2026-12 --compare year
      fsapp report --by node --period week --format csv
    """
    from fsapp.report import Range, Rules, run_report
    from fsapp.report.output import to_chart, to_csv, to_json, to_table
    from fsapp.report.periods import PeriodError
    from fsapp.report.rules import RuleError
    try:
        rng = Range.parse(period, when)
        rng.buckets(by)
        sl_target, sl_seconds = Rules.parse_target(target)
        rules = Rules(sl_seconds=sl_seconds, sl_target=sl_target, sl_denominator=sl_denominator,
                      short_abandon_s=short_abandon, fcr_window_h=fcr_window,
                      internal_max_digits=internal_max_digits, min_call_s=min_call)
    except (PeriodError, RuleError) as exc:
        raise click.ClickException(str(exc)) from None
    store = _store(ctx)
    try:
        result = run_report(store, dimension, rng, by, rules, compare, now=dt.datetime.now())
    except Exception as exc:  # noqa: BLE001 - one clear line (database down, tables missing)
        raise _fail(exc) from None
    finally:
        store.close()
    click.echo({"table": to_table, "csv": to_csv, "json": to_json}[fmt](result), nl=fmt == "json")
    if chart:
        click.echo(f"chart: {to_chart(result, chart)}", err=fmt != "table")

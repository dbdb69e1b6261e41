"""`fsapp report`: the operators' figures from the call records in [store] (docs/reports.md)."""
from __future__ import annotations

import datetime as dt

import click

from fsapp.cli.db import _fail, _store


def _rule_options(fn):
    """The counting rules, shared by the report and the rollup (queue sums depend on them)."""
    options = [
        click.option("--target", default="80/20", show_default=True,
                     help="Service level: PERCENT of calls answered within SECONDS."),
        click.option("--sl-denominator", type=click.Choice(["answered+abandoned", "offered",
                                                            "answered+long-abandoned", "answered"]),
                     default="answered+abandoned", show_default=True, help="Which calls the service level divides by."),
        click.option("--short-abandon", type=int, default=5, show_default=True,
                     help="Calls abandoned within this many seconds are short abandons, reported apart."),
        click.option("--fcr-window", type=int, default=24, show_default=True,
                     help="Hours: an answered call is resolved at first contact if the number does not call again."),
        click.option("--internal-max-digits", type=int, default=5, show_default=True,
                     help="Caller numbers this short are internal calls, left out (0: count every call)."),
        click.option("--min-call", type=int, default=0, show_default=True,
                     help="Drop calls shorter than this many seconds (time in queue plus talk)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def _rules(target, sl_denominator, short_abandon, fcr_window, internal_max_digits, min_call):
    from fsapp.report import Rules
    sl_target, sl_seconds = Rules.parse_target(target)
    return Rules(sl_seconds=sl_seconds, sl_target=sl_target, sl_denominator=sl_denominator,
                 short_abandon_s=short_abandon, fcr_window_h=fcr_window,
                 internal_max_digits=internal_max_digits, min_call_s=min_call)


@click.group(invoke_without_command=True)
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
@_rule_options
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
      fsapp report rollup            # 15-minute and daily summaries: fast month reports
    """
    if ctx.invoked_subcommand is not None:
        return
    from fsapp.report import Range, run_report
    from fsapp.report.output import to_chart, to_csv, to_json, to_table
    from fsapp.report.periods import PeriodError
    from fsapp.report.rules import RuleError
    try:
        rng = Range.parse(period, when)
        rng.buckets(by)
        rules = _rules(target, sl_denominator, short_abandon, fcr_window, internal_max_digits, min_call)
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


@report.command()
@click.option("--from", "since", default=None, metavar="YYYY-MM-DD[THH:MM]",
              help="Roll up again from this time (records that arrived late, e.g. after an outbox replay).")
@click.option("--closed-before", "until", default=None, metavar="YYYY-MM-DD[THH:MM]",
              help="Take every interval before this time as closed (default: now minus a day, or minus the "
                   "FCR window when longer): no record of them is still to come.")
@_rule_options
@click.pass_context
def rollup(ctx, since, until, target, sl_denominator, short_abandon, fcr_window, internal_max_digits, min_call):
    """Write the 15-minute summaries of every closed interval, and the daily ones of every
    whole day (docs/reports.md): reports then read those instead of the records. Idempotent; run it every 15 minutes (cron,
    systemd timer), with the counting rules the reports use.
    """
    from fsapp.report.rollup import RollupError
    from fsapp.report.rollup import rollup as run_rollup
    from fsapp.report.rules import RuleError
    try:
        rules = _rules(target, sl_denominator, short_abandon, fcr_window, internal_max_digits, min_call)
        start, end = _time("--from", since), _time("--closed-before", until)
    except RuleError as exc:
        raise click.ClickException(str(exc)) from None
    store = _store(ctx)
    try:
        result = run_rollup(store, rules, now=dt.datetime.now(), since=start, until=end)
    except RollupError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - one clear line (database down, tables missing)
        raise _fail(exc) from None
    finally:
        store.close()
    click.echo(result.summary)


def _time(option: str, text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        raise click.ClickException(f"{option} {text!r}: write YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None

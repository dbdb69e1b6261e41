"""`fsapp demo`: emulated FreeSWITCH + reference flows + SQLite + emulated agents."""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import click  # noqa: E402


@click.command()
@click.option("--workdir", default="var/demo", show_default=True, type=click.Path(file_okay=False),
              help="Where the demo's database, recordings and config go (emptied first).")
@click.option("--scale", default=20.0, show_default=True, type=click.FloatRange(min=1.0, max=100.0),
              help="Emulated seconds per wall second (prompts, ringing, talk time).")
@click.option("--concurrency", default=12, show_default=True, type=click.IntRange(min=1, max=200),
              help="Calls in progress at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the totals as JSON after the summary.")
@click.pass_obj
def demo(cfg, workdir, scale, concurrency, as_json):
    """Run the embedded demo: emulator, flows, SQLite, scripted calls.

    Starts an emulated FreeSWITCH and fsapp's outbound socket server in this process,
    places scripted calls through the reference flows (hotline 12345, utility 96116,
    satisfaction survey 96000), and prints what every caller heard and pressed, the
    tickets, recordings and survey answers written to SQLite, and queue results.
    """
    from fsapp.demo import DemoLine, print_summary, run_scenarios, scenarios

    click.echo("fsapp demo: starting an emulated FreeSWITCH, the flow server and a SQLite database ...")
    started = time.monotonic()
    try:
        line = DemoLine.open(workdir, scale=scale)
    except Exception as exc:
        raise click.ClickException(f"demo could not start: {type(exc).__name__}: {exc}") from None
    try:
        store = line.store
        closed, open_, unknown = (store.next_ticket_serial() for _ in range(3))
        store.write("ticket", {"serial": closed, "kind": "complaint", "category": "water", "status": "closed",
                               "handling_unit": "water_bureau", "result": "resolved"}, key=f"seed:{closed}")
        store.write("ticket", {"serial": open_, "kind": "complaint", "category": "traffic",
                               "status": "in_progress", "handling_unit": "traffic_police"}, key=f"seed:{open_}")
        calls = scenarios.build(closed, open_, unknown)
        click.echo(f"placing {len(calls) + len(scenarios.build_no_agents())} scripted calls, {concurrency} at a time "
                   f"(emulated time {scale:g}x faster than the clock) ...")

        def progress(result, done, total):
            mark = "!! " if result.failed else "ok "
            end = result.outcome.reason if result.outcome else "no flow"
            click.echo(f"  [{done:>2}/{total}] {mark}{result.scenario.title[:62]:<62} {end}")

        late = scenarios.build_no_agents()
        total = len(calls) + len(late)
        results = run_scenarios(line, calls, concurrency=concurrency, progress=progress, total=total)
        click.echo("the hotline's agents log out; one more caller asks for an agent "
                   "(with nobody logged in the queue overflows, the flow offers the mailbox) ...")
        line.set_agents(["1001", "1002"], "Logged Out")
        results += run_scenarios(line, late, concurrency=concurrency, progress=progress,
                                 first_index=len(calls), total=total)
        totals = print_summary(line, results, time.monotonic() - started)
        _print_report(line)
        if as_json:
            click.echo(json.dumps(totals, ensure_ascii=False, indent=2))
        problems = [r for r in results if r.failed]
        if problems:
            click.echo(f"\n{len(problems)} call(s) had problems: " + "; ".join(
                f"#{r.index + 1} {r.error or (r.outcome.error if r.outcome else 'no flow outcome')}"
                for r in problems), err=True)
            sys.exit(1)
    finally:
        line.close()


def _print_report(line) -> None:
    """The demo's own calls as `fsapp report` shows them (docs/reports.md): the queue table
    and a chart in the work directory. The router stamps queue events with the wall clock."""
    import datetime as dt

    from fsapp.report import Range, run_report
    from fsapp.report.output import to_chart, to_table
    today = dt.datetime.combine(dt.date.today(), dt.time())
    report = run_report(line.store, "queue", Range(today - dt.timedelta(days=1), today + dt.timedelta(days=1)))
    click.echo("")
    click.echo(click.style("The demo's calls in `fsapp report`", bold=True))
    click.echo(to_table(report), nl=False)
    click.echo(f"chart: {to_chart(report, line.workdir / 'report.png')}")

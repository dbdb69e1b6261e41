"""`fsapp demo`: emulated FreeSWITCH + reference flows + SQLite + emulated agents."""
from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import click  # noqa: E402


def _log_to_file(path: Path) -> None:
    """The demo's transcript is for people: fsapp's log lines go to a file instead."""
    from fsapp import log
    path.parent.mkdir(parents=True, exist_ok=True)
    level = logging.getLogger("fsapp").level or logging.INFO
    log.setup(logging.getLevelName(level), "text", stream=path.open("w", encoding="utf-8"))


@click.command()
@click.option("--workdir", default="var/demo", show_default=True, type=click.Path(file_okay=False),
              help="Where the demo's database, recordings, log and config go (emptied first).")
@click.option("--scale", default=20.0, show_default=True, type=click.FloatRange(min=1.0, max=100.0),
              help="Emulated seconds per wall second (prompts, ringing, talk time).")
@click.option("--concurrency", default=12, show_default=True, type=click.IntRange(min=1, max=200),
              help="Calls in progress at once.")
@click.option("--verbose", is_flag=True, help="Show fsapp's log lines here instead of in WORKDIR.log (beside the work directory).")
@click.option("--json", "as_json", is_flag=True, help="Print the totals as JSON after the summary.")
@click.pass_obj
def demo(cfg, workdir, scale, concurrency, verbose, as_json):
    """Run the embedded demo: emulator, flows, SQLite, scripted calls.

    Starts an emulated FreeSWITCH and fsapp's outbound socket server in this process,
    places scripted calls through the reference flows (hotline 12345, utility 96116,
    satisfaction survey 96000), and prints what every caller heard and pressed, the
    tickets, recordings and survey answers written to SQLite, and queue results.
    fsapp's own log lines go to WORKDIR.log (var/demo.log) unless --verbose.
    """
    from rich.console import Console
    from rich.table import Table

    from fsapp.demo import DemoLine, print_summary, run_scenarios, scenarios
    from fsapp.demo.line import DEMO_TIME
    from fsapp.demo.screen import CallProgress, print_attempts, print_report

    console = Console(highlight=False)
    if not console.is_terminal:   # a file or pipe: long lines stay whole, nothing wraps
        console = Console(highlight=False, width=1000)
    log_path = Path(workdir).resolve().parent / (Path(workdir).name + ".log")
    if not verbose:
        _log_to_file(log_path)
    console.print("[bold]fsapp demo[/]: an emulated FreeSWITCH, the flow server and a SQLite database")
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
        late = scenarios.build_no_agents()
        total = len(calls) + len(late)
        header = Table.grid(padding=(0, 2))
        header.add_column(style="dim", no_wrap=True)
        header.add_column(overflow="fold")
        header.add_row("  switch", f"emulated FreeSWITCH 1.10 on 127.0.0.1:{line.switch.esl_port}, numbers "
                       + ", ".join(f"{n} ({f.name})" for n, f in sorted(line.handler.registry.numbers.items())))
        header.add_row("  clock", f"the calls take place on {DEMO_TIME:%a %d %b %Y %H:%M} (Beijing), a staffed "
                                  f"hour; emulated time runs {scale:g}x faster than the clock")
        header.add_row("  database", str(line.workdir / "fsapp.db"))
        header.add_row("  log", "here" if verbose else str(log_path))
        console.print(header)

        with CallProgress(console, total) as progress:
            results = run_scenarios(line, calls, concurrency=concurrency, progress=progress.done, total=total)
            progress.note("  the hotline's agents log out; one more caller asks for an agent "
                          "(with nobody logged in, the queue overflows to the mailbox)")
            line.set_agents(["1001", "1002"], "Logged Out")
            results += run_scenarios(line, late, concurrency=concurrency, progress=progress.done,
                                     first_index=len(calls), total=total)
        console.print("  outbound campaign: the water outage notice to district 7 "
                      "(campaigns/water_outage.yaml, first attempts)", markup=False)
        from fsapp.demo.campaign import WHAT, run_outage_drill
        from fsapp.demo.line import PASSWORD, ROOT
        print_attempts(console, run_outage_drill(line, ROOT, PASSWORD), WHAT)
        extra = []
        if not verbose:
            warnings = sum(1 for text in log_path.read_text(encoding="utf-8").splitlines()
                           if " WARNING " in text or " ERROR " in text)
            extra.append(("fsapp's log", f"{log_path} ({warnings} warnings or errors)"))
        totals = print_summary(line, results, time.monotonic() - started, console=console, extra=extra)
        print_report(console, line.store, line.workdir, line.workdir / "fsapp.toml")
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


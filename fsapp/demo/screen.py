"""What `fsapp demo` shows while it runs, sized to the terminal it runs in: the progress
bar, the campaign's attempts and the report of the demo's calls.

On a terminal everything fits its width (the bar's last-call title is cut to the room
left, since the summary prints every title whole; long cells wrap in their own column).
Into a file or pipe the CLI's console is 1000 columns wide, so nothing wraps or is cut.
"""
from __future__ import annotations

import datetime as dt

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

BAR_WIDTH = 20
# "  calls" + bar + "25/25" + "0:00:31" and the spaces between the columns
_FIXED = len("  calls") + BAR_WIDTH + len("25/25") + len("0:00:00") + 4
# the report's columns a narrow terminal shows (its title names the day; the rest: the
# `fsapp report` command printed below it)
NARROW_REPORT = ("queue", "offered", "answered", "abandoned", "service_level", "asa_s", "aht_s")
WIDE_REPORT = 200   # columns the whole queue report needs


class CallProgress:
    """A transient progress bar of the demo's calls on a terminal; one line per finished
    call (numbered as in the summary) anywhere else."""

    def __init__(self, console: Console, total: int):
        self.console = console
        self.bar = Progress(TextColumn("  calls"), BarColumn(bar_width=BAR_WIDTH), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("{task.fields[last]}"), console=console,
                            transient=True, disable=not console.is_terminal)
        self.task = self.bar.add_task("calls", total=total, last="")

    def __enter__(self) -> "CallProgress":
        self.bar.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.__exit__(*exc)

    def last_title(self, number: str, title: str) -> str:
        """`#7 title`, cut to the room the terminal leaves after the bar."""
        text = f"{number} {title}"
        room = max(8, self.console.width - _FIXED - 1)
        return text if len(text) <= room else text[:room - 1] + "…"

    def done(self, result, done: int, total: int) -> None:
        number = f"#{result.index + 1}"
        self.bar.update(self.task, completed=done, last=self.last_title(number, result.scenario.title))
        if not self.console.is_terminal:  # into a file or pipe: one whole line per finished call
            mark = ("ok", "green") if not result.failed else ("!!", "bold red")
            self.console.print(Text.assemble(f"  [{done:>2}/{total}] ", mark, f" {number:>3} ",
                                             result.scenario.title))

    def note(self, text: str) -> None:
        """A line above the bar (the bar goes on below it)."""
        self.bar.console.print(Text(text))


def print_attempts(console: Console, attempts: list[dict], what: dict) -> None:
    """The campaign's attempts, one row each; the number as dialled (hostile data: text,
    never markup), the outcome explained in a column that wraps on a narrow terminal."""
    table = Table.grid(padding=(0, 2))
    table.add_column(no_wrap=True)               # contact id
    table.add_column(overflow="fold")            # number as the contact list gave it
    table.add_column(no_wrap=True)               # outcome
    table.add_column(overflow="fold")            # what it means
    for a in attempts:
        table.add_row(Text("  " + str(a["contact_id"])), Text(str(a["number"])),
                      Text(str(a["outcome"]), style="green" if a["outcome"] == "completed" else "yellow"),
                      Text(what.get(a["outcome"], ""), style="dim"))
    console.print(table)


def print_report(console: Console, store, workdir, config_path) -> None:
    """The demo's own calls as `fsapp report` shows them (docs/reports.md): the queue table
    over the days its queue events fall on (the demo's day: one clock), and a chart in the
    work directory. A terminal narrower than the whole table gets its main columns and the
    command that prints all of them."""
    from fsapp.report import Range, run_report
    from fsapp.report.output import to_chart, to_table
    span = store.execute("SELECT MIN(event_at) AS first, MAX(event_at) AS last FROM fsapp_queue_events")[0]
    if span["first"] is None:
        return
    day = lambda v: dt.date.fromisoformat(str(v)[:10])   # noqa: E731 - SQLite's MIN() returns text
    first, last = day(span["first"]), day(span["last"])
    report = run_report(store, "queue", Range(dt.datetime.combine(first, dt.time()),
                                              dt.datetime.combine(last, dt.time()) + dt.timedelta(days=1)))
    console.print()
    console.print(Text("The demo's calls in `fsapp report`", style="bold"))
    narrow = console.is_terminal and console.width < WIDE_REPORT
    to_table(report, console=console, columns=NARROW_REPORT if narrow else None)
    if narrow:
        when = f"--date {first}" if first == last else f"--period range --date {first}..{last}"
        console.print(Text(f"all figures: fsapp --config {config_path} report {when}", style="dim"))
    console.print(Text(f"chart: {to_chart(report, workdir / 'report.png')}"))

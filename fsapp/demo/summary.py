"""The demo's readable summary: each call as the caller lived it, then the totals and the
rows the calls left in the database.

Printed with rich. On a terminal each call is a two-column grid whose text column wraps
with a hanging indent; into a pipe or file (the CLI gives such a console a width of 1000)
every line is printed whole, so nothing a caller heard is ever cut and a test or `grep`
sees each prompt on one line.
"""
from __future__ import annotations

import collections
from pathlib import Path

from rich.console import Console
from rich.table import Table
from rich.text import Text

from .line import DemoLine
from .run import CallResult


def _prompt_words(line: DemoLine, path: str) -> tuple[str, bool]:
    """sounds/zh-CN/hotline/main_menu.wav -> (the catalog text, is it a say piece?)."""
    catalog = line.handler.services.catalog
    p = Path(path)
    if path.startswith("tone_stream://"):
        return "(beep)", False
    if path.startswith("local_stream://"):
        return "(music on hold)", False
    if "/recordings/" in path:
        return "(their own recording)", False
    try:
        rel = p.relative_to(Path(catalog.path("x", "zh-CN")).parents[1]) if catalog else None
    except ValueError:
        rel = None
    if rel is None or len(rel.parts) < 2:
        return p.name, False
    lang, name = rel.parts[0], str(Path(*rel.parts[1:]).with_suffix(""))
    try:
        text = catalog.text(name, lang)
    except Exception:  # a file outside the catalog: show its name
        return name, False
    return text, name.startswith("say/")


def _oneline(text: str) -> str:
    return " ".join(text.split())


def call_lines(line: DemoLine, result: CallResult) -> list[tuple[str, str]]:
    """The call from the caller's side, as (what, text) rows: heard, pressed, said, end."""
    out: list[tuple[str, str]] = []
    heard: list[str] = []
    say_run: list[str] = []

    def flush_say():
        if say_run:
            joined = ("" if any("\u4e00" <= ch <= "\u9fff" for ch in "".join(say_run)) else " ").join(say_run)
            heard.append(f"«{_oneline(joined)}»")
            say_run.clear()

    def flush():
        flush_say()
        if heard:
            out.append(("heard", " · ".join(heard)))
            heard.clear()

    for _t, what, detail in result.report.timeline if result.report else []:
        if what == "prompt":
            if detail.startswith("silence_stream://"):
                continue
            text, is_say = _prompt_words(line, detail)
            if is_say:
                say_run.append(text)
            else:
                flush_say()
                heard.append(f"“{_oneline(text)}”")
        elif what == "pressed":
            flush()
            out.append(("pressed", detail))
        elif what == "speak":
            flush()
            out.append(("said", f"({detail} of speech)"))
        elif what == "bridged":
            flush()
            out.append(("talked", f"with an agent ({detail})"))
        elif what == "caller hangup":
            flush()
            out.append(("hung up", ""))
    flush()
    return out


def _rows(line: DemoLine, sql: str, params=()) -> list[dict]:
    return line.store.execute(sql, list(params)) if line.store is not None else []


def _count(line: DemoLine, table: str) -> int:
    return _rows(line, f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] if line.store is not None else 0


def _print_rows(console: Console, rows: list[tuple[str, str, str]]) -> None:
    """(label, text, style) rows under a call's title, wrapped on a terminal, whole otherwise."""
    if console.is_terminal:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=6)
        grid.add_column(style="dim", width=8, no_wrap=True)
        grid.add_column(overflow="fold")
        for label, text, style in rows:
            grid.add_row("", label, Text(text, style=style))
        console.print(grid)
    else:
        for label, text, style in rows:
            console.print(Text.assemble("      ", (f"{label:<8} ", "dim"), (text, style)))


def totals_of(line: DemoLine, results: list[CallResult], wall_s: float) -> dict:
    ends = collections.Counter(r.outcome.reason if r.outcome else "no flow" for r in results)
    totals = {
        "calls": len(results),
        "ended": dict(ends),
        "tickets": {r["kind"]: r["n"] for r in _rows(
            line, "SELECT kind, COUNT(*) AS n FROM fsapp_tickets WHERE idem_key NOT LIKE 'seed:%' GROUP BY kind")},
        "recordings": _count(line, "fsapp_recordings"),
        "survey_answers": {f"{r['survey']}/{r['answer']}": r["n"]
                           for r in _rows(line, "SELECT survey, question, answer, COUNT(*) AS n "
                                                "FROM fsapp_survey_answers GROUP BY survey, question, answer")
                           if r["question"] == "status"},
        "survey_answer_rows": _count(line, "fsapp_survey_answers"),
        "call_records": _count(line, "fsapp_call_records"),
        "node_visits": _count(line, "fsapp_node_visits"),
        "queue": {r["event"]: r["n"] for r in _rows(
            line, "SELECT event, COUNT(*) AS n FROM fsapp_queue_events GROUP BY event")},
        "wall_seconds": round(wall_s, 1),
        "status_lookups": sum(1 for e in line.recorder.events if e["event"] == "store"
                              and e.get("query") == "hotline.ticket_status"),
    }
    return totals


def print_summary(line: DemoLine, results: list[CallResult], wall_s: float,
                  console: Console | None = None, extra: list[tuple[str, str]] = ()) -> dict:
    console = console or Console()
    tickets_by_call = collections.defaultdict(list)
    for t in _rows(line, "SELECT serial, kind, category, call_uuid, due_at FROM fsapp_tickets ORDER BY id"):
        tickets_by_call[t["call_uuid"]].append(t)

    console.print()
    if console.is_terminal:
        console.rule("[bold]What each caller heard and did")
    else:
        console.print("[bold]What each caller heard and did")
    for r in results:
        report, outcome = r.report, r.outcome
        ok = not r.failed
        console.print()
        console.print(Text.assemble((f"{r.index + 1:>3}. ", "bold"), (r.scenario.title, "bold"),
                                    ("  ok" if ok else "  PROBLEM", "green" if ok else "bold red")))
        rows = [("dialled", f"{r.scenario.number} from {r.scenario.caller_id}  ({r.wall_s:.1f} s wall, "
                            f"{len(report.timeline) if report else 0} steps)", "")]
        styles = {"heard": "", "pressed": "bold cyan", "said": "magenta", "talked": "green", "hung up": "yellow"}
        rows += [(label, text, styles[label]) for label, text in call_lines(line, r)]
        for t in tickets_by_call.get(report.uuid if report else None, []):
            due = f", due {str(t['due_at'])[:16]}" if t.get("due_at") else ""
            rows.append(("ticket", f"{t['serial']} ({t['kind']}, {t['category']}{due})", "bold"))
        where = f"{outcome.reason} in {outcome.flow}.{outcome.node}" if outcome else "fsapp never ran the call"
        if r.error:
            where += f"  [problem: {r.error}]"
        rows.append(("ended", where, "" if ok else "bold red"))
        _print_rows(console, rows)

    totals = totals_of(line, results, wall_s)
    console.print()
    table = Table(title="Totals", title_style="bold", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")

    def listing(d: dict) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(d.items())) or "none"

    table.add_row("calls placed", f"{totals['calls']} in {totals['wall_seconds']} s "
                                  f"(emulated time runs {line.scale:g}x faster)")
    table.add_row("how calls ended", listing(totals["ended"]))
    table.add_row("tickets written", listing(totals["tickets"]))
    table.add_row("recordings", str(totals["recordings"]))
    table.add_row("survey answers", f"{totals['survey_answer_rows']} rows"
                  + (f" ({listing(totals['survey_answers'])})" if totals["survey_answers"] else ""))
    table.add_row("status lookups", str(totals["status_lookups"]))
    table.add_row("queue events", listing(totals["queue"]))
    table.add_row("call records", f"{totals['call_records']} (and {totals['node_visits']} node visits "
                                  "for the reports)")
    table.add_row("database", f"{line.workdir / 'fsapp.db'} (SQLite through the SQLite3 ODBC driver)")
    for label, text in extra:
        table.add_row(label, text)
    console.print(table)
    return totals

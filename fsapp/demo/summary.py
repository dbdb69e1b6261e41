"""The demo's readable summary: each call as the caller lived it, then the totals and the
rows the calls left in the database."""
from __future__ import annotations

import collections
from pathlib import Path

import click

from .line import DemoLine
from .run import CallResult

MAX_TEXT = 34


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


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 1] + "…"


def call_lines(line: DemoLine, result: CallResult) -> list[str]:
    """The call from the caller's side: heard (prompt texts), pressed, said, end."""
    out: list[str] = []
    heard: list[str] = []
    say_run: list[str] = []

    def flush_say():
        if say_run:
            joined = ("" if any("\u4e00" <= ch <= "\u9fff" for ch in "".join(say_run)) else " ").join(say_run)
            heard.append(f"«{_short(joined)}»")
            say_run.clear()

    def flush():
        flush_say()
        if heard:
            out.append("      heard    " + " · ".join(heard))
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
                heard.append(f"“{_short(text)}”")
        elif what == "pressed":
            flush()
            out.append(f"      pressed  {detail}")
        elif what == "speak":
            flush()
            out.append(f"      said     ({detail} of speech)")
        elif what == "bridged":
            flush()
            out.append(f"      talked   with an agent ({detail})")
        elif what == "caller hangup":
            flush()
            out.append("      hung up")
    flush()
    return out


def _rows(line: DemoLine, sql: str, params=()) -> list[dict]:
    return line.store.execute(sql, list(params)) if line.store is not None else []


def print_summary(line: DemoLine, results: list[CallResult], wall_s: float, echo=click.echo) -> dict:
    tickets_by_call = collections.defaultdict(list)
    for t in _rows(line, "SELECT serial, kind, category, call_uuid FROM fsapp_tickets ORDER BY id"):
        tickets_by_call[t["call_uuid"]].append(t)

    echo("")
    echo(click.style("What each caller heard and did", bold=True))
    ends = collections.Counter()
    for r in results:
        report, outcome = r.report, r.outcome
        where = f"{outcome.reason} in {outcome.flow}.{outcome.node}" if outcome else "fsapp never ran the call"
        if r.error:
            where += f"  [problem: {r.error}]"
        ends[outcome.reason if outcome else "no flow"] += 1
        echo("")
        echo(f"{r.index + 1:>3}. {r.scenario.title}")
        echo(f"      dialled  {r.scenario.number} from {r.scenario.caller_id}"
             f"   ({r.wall_s:.1f} s wall, {len(report.timeline) if report else 0} steps)")
        for text in call_lines(line, r):
            echo(text)
        for t in tickets_by_call.get(report.uuid if report else None, []):
            echo(f"      ticket   {t['serial']} ({t['kind']}, {t['category']})")
        echo(f"      ended    {where}")

    totals = {
        "calls": len(results),
        "ended": dict(ends),
        "tickets": {r["kind"]: r["n"] for r in _rows(
            line, "SELECT kind, COUNT(*) AS n FROM fsapp_tickets WHERE idem_key NOT LIKE 'seed:%' GROUP BY kind")},
        "recordings": _rows(line, "SELECT COUNT(*) AS n FROM fsapp_recordings")[0]["n"] if line.store else 0,
        "survey_answers": {f"{r['survey']}/{r['answer'] if r['question'] == 'status' else 'answers'}": r["n"]
                           for r in _rows(line, "SELECT survey, question, answer, COUNT(*) AS n "
                                                "FROM fsapp_survey_answers GROUP BY survey, question, answer")
                           if r["question"] == "status"} ,
        "survey_answer_rows": _rows(line, "SELECT COUNT(*) AS n FROM fsapp_survey_answers")[0]["n"]
        if line.store else 0,
        "call_records": _rows(line, "SELECT COUNT(*) AS n FROM fsapp_call_records")[0]["n"] if line.store else 0,
        "node_visits": _rows(line, "SELECT COUNT(*) AS n FROM fsapp_node_visits")[0]["n"] if line.store else 0,
        "queue": {r["event"]: r["n"] for r in _rows(
            line, "SELECT event, COUNT(*) AS n FROM fsapp_queue_events GROUP BY event")},
        "wall_seconds": round(wall_s, 1),
    }
    lookups = sum(1 for e in line.recorder.events if e["event"] == "store" and "query" in e
                  and e["query"] in ("hotline.ticket_status",))
    totals["status_lookups"] = lookups

    echo("")
    echo(click.style("Totals", bold=True))
    echo(f"  calls placed      {totals['calls']} in {totals['wall_seconds']} s "
         f"(emulated time runs {line.scale:g}x faster)")
    echo("  how calls ended   " + ", ".join(f"{k} {v}" for k, v in sorted(totals["ended"].items())))
    echo("  tickets written   " + (", ".join(f"{k} {v}" for k, v in sorted(totals["tickets"].items())) or "none"))
    echo(f"  recordings        {totals['recordings']}")
    echo(f"  survey answers    {totals['survey_answer_rows']} rows"
         + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(totals["survey_answers"].items())) + ")"
            if totals["survey_answers"] else ""))
    echo(f"  status lookups    {lookups}")
    echo("  queue events      " + (", ".join(f"{k} {v}" for k, v in sorted(totals["queue"].items())) or "none"))
    echo(f"  call records      {totals['call_records']} (and {totals['node_visits']} node visits for the reports)")
    echo(f"  database          {line.workdir / 'fsapp.db'} (SQLite through the SQLite3 ODBC driver)")
    return totals

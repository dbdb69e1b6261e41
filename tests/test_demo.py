"""`fsapp demo` end to end, as `make demo` runs it: a real subprocess, the emulator, the
reference flows, SQLite through ODBC, emulated agents. It must finish well inside the
two minutes the issue allows and leave the rows its summary reports."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyodbc
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One `fsapp demo --json` run (about half a minute), read by both tests below."""
    tmp_path = tmp_path_factory.mktemp("demo")
    fsapp = Path(sys.executable).parent / "fsapp"
    workdir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSAPP_")}
    proc = subprocess.run([str(fsapp), "demo", "--workdir", str(workdir), "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc, workdir


@pytest.mark.slow
def test_demo_places_calls_and_writes_what_callers_left(demo_run):
    proc, workdir = demo_run
    out = proc.stdout
    assert "What each caller heard and did" in out
    # the demo ends with the report of its own calls: the hotline's row and a chart
    assert "The demo's calls in `fsapp report`" in out and " hotline " in out
    assert (workdir / "report.png").read_bytes()[:4] == b"\x89PNG" and f"chart: {workdir / 'report.png'}" in out
    totals = json.loads(out[out.rindex("\n{") + 1:])
    assert totals["calls"] >= 20
    # every path leaves its mark: mailbox, complaint and work-order tickets, survey answers
    assert totals["tickets"].get("mailbox", 0) >= 2
    assert totals["tickets"].get("complaint", 0) >= 3
    assert totals["tickets"].get("work_order", 0) >= 2
    assert totals["survey_answer_rows"] >= 5
    assert totals["status_lookups"] >= 3
    assert totals["node_visits"] > 10 * totals["calls"]  # per-node figures for the reports
    # the "0" calls reach emulated agents through the in-memory ACD
    assert totals["queue"].get("answered", 0) >= 2 and totals["queue"].get("abandoned", 0) >= 1
    assert totals["queue"].get("overflow", 0) >= 1
    assert "agents_busy" in out or "坐席全忙" in out
    # the summary's numbers are what the SQLite database holds
    db = pyodbc.connect(f"Driver={{SQLite3}};Database={workdir / 'fsapp.db'}")
    n = db.cursor().execute("SELECT COUNT(*) FROM fsapp_tickets WHERE idem_key NOT LIKE 'seed:%'").fetchone()[0]
    # the runtime writes one record per call that ran a flow: every inbound call and every
    # answered call of the campaign (its outage notice is a flow too)
    outbound = db.cursor().execute("SELECT COUNT(*) FROM fsapp_campaign_attempts WHERE answered = 1").fetchone()[0]
    assert outbound >= 1 and totals["call_records"] == totals["calls"] + outbound
    ends = db.cursor().execute("SELECT COUNT(*) FROM fsapp_call_records WHERE end_reason IS NULL "
                               "OR node_path IS NULL OR answered_at IS NULL").fetchone()[0]
    assert ends == 0
    assert n == sum(totals["tickets"].values())
    recordings = list((workdir / "recordings").rglob("*.wav"))
    assert len(recordings) >= totals["recordings"] > 0
    # one clock: every row is stamped on the demo's pinned day, so no ticket is overdue
    # against the clock that made it (was: the flow's due times on the pinned day, the
    # database's stamps on the wall clock, every ticket overdue)
    stamps = db.cursor().execute("SELECT MIN(created_at), MAX(created_at) FROM fsapp_tickets").fetchone()
    assert all(str(s).startswith("2026-11-30 1") for s in stamps), stamps
    overdue = db.cursor().execute(
        "SELECT COUNT(*) FROM fsapp_tickets WHERE status <> 'closed' AND due_at < ?",
        str(stamps[1])).fetchone()[0]
    assert overdue == 0


def test_demo_reads_cleanly(demo_run):
    """A first run is for people: no log lines in the transcript (they go to a file), no
    warning about tables that do not exist yet, nothing cut, calls numbered as listed."""
    proc, workdir = demo_run
    out = proc.stdout
    log_lines = [text for text in out.splitlines() if re.match(r"\d{4}-\d\d-\d\dT", text)]
    assert not log_lines, log_lines[:5]
    assert proc.stderr == ""
    assert "…" not in out                                  # no prompt or spoken number cut short
    # the whole main-menu prompt and a spoken ticket number, each on one line
    assert "人工服务请按零。”" in out
    assert re.search(r"«zero zero zero zero zero zero \w+ \w+»", out)
    log = (workdir.parent / "demo.log").read_text(encoding="utf-8")
    assert "call connected" in log                          # the log went to the file instead
    assert "could not reserve a spare serial block" not in log
    assert "fsapp's log" in out and "0 warnings or errors" in out
    # progress lines name each call by the number it has in the summary
    titles = dict(re.findall(r"^\s+(\d+)\. (.+?)  ok$", out, re.M))
    progress = re.findall(r"^  \[\s*\d+/\d+\] ok\s+#(\d+) (.+)$", out, re.M)
    assert len(progress) == len(titles) >= 20
    for number, title in progress:
        assert titles[number] == title


def test_demo_stamps_queue_events_on_its_own_day(demo_run):
    """One clock: the router's queue events fall on the demo's day, as the tickets do, so
    the report at the end covers 2026-11-30 (was: the wall clock's day)."""
    proc, workdir = demo_run
    db = pyodbc.connect(f"Driver={{SQLite3}};Database={workdir / 'fsapp.db'}")
    days = {str(r[0])[:10] for r in db.cursor().execute("SELECT event_at FROM fsapp_queue_events")}
    offers = {str(r[0])[:10] for r in db.cursor().execute("SELECT ring_at FROM fsapp_offers")}
    assert days == offers == {"2026-11-30"}
    assert "queue report 2026-11-30" in proc.stdout


def _terminal(width: int = 80):
    import io

    from rich.console import Console
    out = io.StringIO()
    return Console(file=out, force_terminal=True, width=width, color_system=None, highlight=False), out


def test_on_an_80_column_terminal_the_bar_campaign_and_report_fit(demo_run):
    """What a terminal shows is sized to it: the progress bar keeps its bar and count (the
    last title is cut to the room left; the summary prints it whole), the campaign's rows
    wrap in their own column, the report shows its main columns and the command for all."""
    from types import SimpleNamespace

    from fsapp import config
    from fsapp.demo.campaign import WHAT
    from fsapp.demo.screen import CallProgress, print_attempts, print_report
    from fsapp.store import Store

    console, out = _terminal()
    progress = CallProgress(console, 25)
    title = "Billing in English: three accounts on one number, hears each bill and the total"
    progress.done(SimpleNamespace(index=18, scenario=SimpleNamespace(title=title), failed=False), 24, 25)
    console.print(progress.bar.make_tasks_table(progress.bar.tasks))
    line = out.getvalue().strip("\n")
    assert "\n" not in line and len(line) <= 80 and "24/25" in line and "━" in line
    assert "#19 Billing in English" in line and line.endswith("…")

    console, out = _terminal()
    print_attempts(console, [{"contact_id": "W7-0007", "number": "1390000000;[red]bridge", "outcome": "invalid_number"},
                             {"contact_id": "W7-0003", "number": "13900000003", "outcome": "no_answer"}], WHAT)
    text = out.getvalue()
    assert all(len(row) <= 80 for row in text.splitlines())
    assert "1390000000;[red]bridge" in text                 # caller data is text, never markup
    assert "no answer in 30 s" in text and "not a phone number" in text

    proc, workdir = demo_run
    store = Store.from_config(config.load(workdir / "fsapp.toml", env={}), start=False)
    try:
        console, out = _terminal()
        print_report(console, store, workdir, workdir / "fsapp.toml")
    finally:
        store.close()
    text = out.getvalue()
    assert all(len(row) <= 80 for row in text.splitlines()), text
    assert "queue report 2026-11-30" in text and "…" not in text
    # the command may wrap anywhere the terminal breaks it (the path's length varies): compare words
    assert "report --date 2026-11-30" in " ".join(text.split())

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

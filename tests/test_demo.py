"""`fsapp demo` end to end, as `make demo` runs it: a real subprocess, the emulator, the
reference flows, SQLite through ODBC, emulated agents. It must finish well inside the
two minutes the issue allows and leave the rows its summary reports."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pyodbc

ROOT = Path(__file__).resolve().parent.parent


def test_demo_places_calls_and_writes_what_callers_left(tmp_path):
    fsapp = Path(sys.executable).parent / "fsapp"
    workdir = tmp_path / "demo"
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSAPP_")}
    proc = subprocess.run([str(fsapp), "demo", "--workdir", str(workdir), "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
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
    assert totals["call_records"] == totals["calls"]
    assert totals["node_visits"] > 10 * totals["calls"]  # per-node figures for the reports
    # the "0" calls reach emulated agents through the in-memory ACD
    assert totals["queue"].get("answered", 0) >= 2 and totals["queue"].get("abandoned", 0) >= 1
    assert totals["queue"].get("overflow", 0) >= 1
    assert "agents_busy" in out or "坐席全忙" in out
    assert totals["wall_seconds"] < 120
    # the summary's numbers are what the SQLite database holds
    db = pyodbc.connect(f"Driver={{SQLite3}};Database={workdir / 'fsapp.db'}")
    n = db.cursor().execute("SELECT COUNT(*) FROM fsapp_tickets WHERE idem_key NOT LIKE 'seed:%'").fetchone()[0]
    assert n == sum(totals["tickets"].values())
    recordings = list((workdir / "recordings").rglob("*.wav"))
    assert len(recordings) >= totals["recordings"] > 0

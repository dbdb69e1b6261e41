"""docs/operations.md: the shell examples run, the systemd unit's fsapp command lines
exist, and the monitoring SQL runs on fsapp's own tables."""
import re
import subprocess

import pyodbc
import pytest
from doccheck import DOCS, Mention, blocks, check

DOC = DOCS / "operations.md"


def fences(lang: str) -> list[str]:
    return [body for info, body, _, _ in blocks(DOC.read_text(encoding="utf-8")) if info == lang]


@pytest.mark.slow
def test_operations_shell_examples(doc_runner):
    outputs = doc_runner.run_doc(DOC)
    assert len(outputs) == 9, "operations.md doc-test blocks changed: update this test"


def test_systemd_unit_commands_exist():
    units = fences("ini")
    assert len(units) == 1
    unit = units[0]
    exec_start = re.search(r"^ExecStart=\S*/fsapp (.+)$", unit, re.M)
    assert exec_start, "ExecStart must run the fsapp command"
    words = tuple(exec_start.group(1).split())
    assert check(Mention("docs/operations.md", 0, exec_start.group(0), words, True)) is None
    assert "serve" in words
    assert re.search(r"^ExecReload=/bin/kill -HUP \$MAINPID$", unit, re.M)   # SIGHUP = reload
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M).group(1))
    from fsapp.config import SCHEMA
    assert stop > SCHEMA["serve"]["linger"].default, "systemd must outwait [serve] linger"
    assert stop > SCHEMA["serve"]["drain_timeout"].default, "systemd must outwait [serve] drain_timeout"
    assert re.search(r"^KillSignal=SIGTERM$", unit, re.M)


def test_worker_unit_template_drains_like_the_documented_unit():
    """freeswitch-conf/systemd/fsapp-worker@.service: SIGTERM, a stop timeout longer than
    the drain, one listen port and control socket per instance, a real command line."""
    from fsapp.config import SCHEMA
    unit = (DOCS.parent / "freeswitch-conf" / "systemd" / "fsapp-worker@.service").read_text()
    exec_start = re.search(r"^ExecStart=\S*/fsapp (.+)$", unit, re.M)
    assert check(Mention("freeswitch-conf/systemd/fsapp-worker@.service", 0, exec_start.group(0),
                         tuple(exec_start.group(1).split()), True)) is None
    assert re.search(r"^KillSignal=SIGTERM$", unit, re.M)
    assert int(re.search(r"^TimeoutStopSec=(\d+)$", unit, re.M).group(1)) > SCHEMA["serve"]["drain_timeout"].default
    assert "Environment=FSAPP_SERVE_LISTEN=127.0.0.1:%i" in unit
    assert "Environment=FSAPP_FLOWS_CONTROL=/run/fsapp/flows-%i.sock" in unit


def test_monitoring_sql_runs_on_fsapp_tables(doc_runner):
    doc_runner.run_block("fsapp db init\n", "fsapp db init")
    db = doc_runner.project / "var" / "fsapp.db"
    conn = pyodbc.connect(f"Driver={{SQLite3}};Database={db}", autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("INSERT INTO fsapp_node_visits (idem_key, call_uuid, flow, node, entered_at, created_at) "
                    "VALUES ('k1', 'u1', 'hotline_12345', 'welcome', '2026-11-28 08:00:00', '2026-11-28 08:00:00')")
        cur.execute("INSERT INTO fsapp_queue_events (idem_key, call_uuid, queue_name, event, wait_ms, event_at, created_at) "
                    "VALUES ('e1', 'u1', 'hotline', 'enter', NULL, '2026-11-28 08:00:00', '2026-11-28 08:00:00'), "
                    "('e2', 'u1', 'hotline', 'answered', 12000, '2026-11-28 08:00:12', '2026-11-28 08:00:12')")
        sql = fences("sql")
        assert len(sql) == 2
        visits = cur.execute(sql[0]).fetchall()
        assert [tuple(r) for r in visits] == [("hotline_12345", "welcome", 1)]
        queues = cur.execute(sql[1]).fetchall()
        assert [tuple(r)[:4] for r in queues] == [("hotline", 1, 1, 0)]
        assert float(queues[0][4]) == 12000
    finally:
        conn.close()

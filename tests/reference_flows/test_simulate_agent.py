"""`fsapp simulate` reaches an emulated agent: the router (queue node) is pointed at the
simulation's own emulator, whose phones are the routing config's `user/N` agents."""
import subprocess
import sys
from pathlib import Path

from tests.fsapp_toml import sqlite_store

ROOT = Path(__file__).resolve().parents[2]


def test_simulate_press_0_talks_to_an_emulated_agent_then_rates_the_call(tmp_path, catalog, fsapp_toml):
    config = fsapp_toml({
        "store": sqlite_store(tmp_path, main=tmp_path / "fsapp.db"),
        "sounds": {"dir": ROOT / "sounds"},
        "flows": {"calendars": ROOT / "calendars.yaml", "recordings": tmp_path / "recordings"},
        "routing": {"config": ROOT / "routing.yaml"}})
    fsapp = Path(sys.executable).parent / "fsapp"
    subprocess.run([str(fsapp), "--config", str(config), "db", "init"], check=True, cwd=tmp_path,
                   capture_output=True, timeout=60)
    # --press 1: Mandarin; 0: an agent (during the hotline's staffed hours on the real clock
    # the queue answers; at night the flow offers the mailbox instead)
    proc = subprocess.run([str(fsapp), "--config", str(config), "simulate", str(ROOT / "ivr_flows" / "hotline_12345.yaml"),
                           "--press", "1", "--press", "0", "--press", "5", "--press", "1"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "router unavailable" not in proc.stderr
    out = proc.stdout
    assert "[hotline_12345.agent]" in out
    if "[hotline_12345.agent_queue]" in out:   # staffed hours
        assert "queue    hotline: answered" in out
        assert "[satisfaction_survey.q1]" in out and "pressed  5" in out
    else:                                      # night: no agents on duty, the mailbox instead
        assert "hotline/agents_closed" in out

"""kill -9 of a dialer process mid-campaign, then a restart: no contact is called twice
for one attempt (the claim, with its attempt number, is durable before the call is
placed; the restarted dialer closes its interrupted attempts as failed)."""
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import gevent
from click.testing import CliRunner

import pytest

from fsapp.campaign.state import SQLiteStates
from fsapp.cli import main
from fsapp.sim import Switch
from tests.fsapp_toml import sqlite_store, write_fsapp_toml

ROOT = Path(__file__).resolve().parents[2]
NUMBERS = [f"1360000{i:04d}" for i in range(12)]


def _project(tmp: Path, esl_port: int) -> Path:
    (tmp / "campaigns").mkdir()
    (tmp / "campaigns" / "crash.yaml").write_text(textwrap.dedent("""\
        campaign: crash
        flow: outage_notice
        contacts: {csv: contacts.csv}
        calendar: always
        pacing: {calls_per_minute: 120, max_concurrent: 6}
        dial: {template: "sofia/gateway/{gateway}/{number}", gateway: carrier1, timeout: 10s, max_duration: 1m}
        retry: {max_attempts: 3, busy: 1s, no_answer: 1s, failed: 1s, not_completed: 1s}
        completed_when: heard
        """), encoding="utf-8")
    (tmp / "contacts.csv").write_text("number,district,ends_at\n" + "".join(f"{n},7,18:00\n" for n in NUMBERS),
                                      encoding="utf-8")
    (tmp / "calendars.yaml").write_text(         # the flows' calendars, and one always open
        (ROOT / "calendars.yaml").read_text(encoding="utf-8")
        + '\n  always:\n    timezone: Asia/Shanghai\n    weekly: {daily: "00:00-24:00"}\n', encoding="utf-8")
    return write_fsapp_toml(tmp, {
        "esl": {"port": esl_port, "password": "ClueCon"},
        "store": sqlite_store(tmp, main=tmp / "fsapp.db"),
        "sounds": {"dir": ROOT / "sounds"},
        "flows": {"dir": ROOT / "ivr_flows", "calendars": "calendars.yaml", "recordings": tmp / "recordings",
                  "node_visits": False},
        "campaign": {"sqlite": tmp / "state.db", "listen": "127.0.0.1:0", "worker_id": "dialer-1"}})


def _dialer(cfg: Path, tmp: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSAPP_")}
    return subprocess.Popen([str(Path(sys.executable).parent / "fsapp"), "--config", str(cfg), "campaign", "start", "crash",
                             "--until-done"], cwd=tmp, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def _wait_for(condition, what: str, timeout: float = 120.0) -> None:
    with gevent.Timeout(timeout, AssertionError(f"timed out waiting for {what}")):
        while not condition():
            gevent.sleep(0.05)


@pytest.mark.slow
def test_kill_9_mid_campaign_then_restart_never_repeats_an_attempt(tmp_path, monkeypatch):
    switch = Switch(esl=("127.0.0.1", 0)).start()
    try:
        for i, number in enumerate(NUMBERS):
            # listen 3 s then hang up: mid-message, so each contact is tried three times
            switch.add_agent(number, ring_s=0.5, talk_s=3.0 if i % 2 else 300.0)
        cfg = _project(tmp_path, switch.esl_port)
        monkeypatch.chdir(tmp_path)
        for verb in (["db", "init"], ["campaign", "load", "crash"]):
            result = CliRunner().invoke(main, ["--config", str(cfg), *verb])
            assert result.exit_code == 0, result.output
        first = _dialer(cfg, tmp_path)

        def answered() -> int:
            return sum(1 for a in switch.agents.values() for c in a.calls if c["answered_at"] is not None)

        _wait_for(lambda: answered() >= 8 and any(c["ended_at"] is None for a in switch.agents.values()
                                                   for c in a.calls), "calls in progress")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        states = SQLiteStates(tmp_path / "state.db")
        interrupted = states.counts("crash").get("in_progress", 0)
        assert interrupted >= 1, "the kill should have caught calls in progress"
        second = _dialer(cfg, tmp_path)
        out, _ = second.communicate(timeout=240)
        assert second.returncode == 0, out
        assert "dialer ended (done)" in out
        # every ring carried its attempt number: none twice for one contact
        for number, agent in switch.agents.items():
            rung = [int(c["variables"]["fsapp_campaign_attempt"]) for c in agent.calls]
            assert len(rung) == len(set(rung)), (number, rung)
            assert rung == sorted(rung)
        lost = [a for a in states.attempts("crash") if a["hangup_cause"] == "WORKER_LOST"]
        assert len(lost) == interrupted
        counts = states.counts("crash")
        assert counts.get("in_progress", 0) == 0 and sum(counts.values()) == len(NUMBERS)
        assert not (tmp_path / "spool" / "outbox" / "dead.spool").exists()
        states.close()
    finally:
        switch.stop()

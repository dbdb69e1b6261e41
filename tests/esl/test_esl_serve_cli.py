"""`fsapp serve`: option errors, --flows wiring, and a real process answering a call."""
import os
import signal
import socket
import subprocess
import sys
import time
import types
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from esl_replay import SETUP, ReplaySwitch, first_lines, load_steps
from fsapp.cli import main
from fsapp.cli.serve import flows_handler, load_app

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


def test_usage_errors():
    runner = CliRunner()
    result = runner.invoke(main, ["serve"], env={"FSAPP_CONFIG": ""})
    assert result.exit_code == 2 and "--app module:function or --flows DIR" in result.output
    result = runner.invoke(main, ["serve", "--app", "x:y", "--flows", "d"])
    assert result.exit_code == 2 and "not both" in result.output
    result = runner.invoke(main, ["serve", "--app", "nocolon"])
    assert result.exit_code == 2 and "expected module:function" in result.output
    result = runner.invoke(main, ["serve", "--app", "os:no_such_fn"])
    assert result.exit_code == 2 and "has no attribute 'no_such_fn'" in result.output
    result = runner.invoke(main, ["serve", "--app", "os.path:join", "--listen", "nowhere"])
    assert result.exit_code == 2 and "HOST:PORT" in result.output


def test_load_app_resolves_callable():
    assert load_app("os.path:join") is os.path.join


def test_flows_wiring(tmp_path, monkeypatch):
    seen = {}
    fake = types.ModuleType("fsapp.app.services")
    fake.make_handler = lambda flows_dir, cfg: seen.setdefault("args", (flows_dir, cfg)) and "handler"
    monkeypatch.setitem(sys.modules, "fsapp.app.services", fake)
    assert flows_handler(str(tmp_path), "CFG") == "handler"
    assert seen["args"] == (str(tmp_path), "CFG")
    monkeypatch.setitem(sys.modules, "fsapp.app.services", None)  # not available
    with pytest.raises(click.ClickException, match="fsapp.app.services.make_handler"):
        flows_handler(str(tmp_path), "CFG")
    with pytest.raises(click.BadParameter, match="not a directory"):
        flows_handler(str(tmp_path / "missing"), "CFG")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_process_answers_a_replayed_call(captures_dir):
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(HERE), FSAPP_CONFIG="")
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "fsapp"), "serve", "--app", "esl_demo_app:handler",
                             "--listen", f"127.0.0.1:{port}"], env=env, cwd=str(ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError(proc.stderr.read() if proc.poll() is not None else "not listening")
                time.sleep(0.1)
        switch = ReplaySwitch(load_steps(captures_dir / "outbound_full_session.jsonl"))
        switch.dial(port).join(20)
        assert first_lines(switch.received) == SETUP + ["sendmsg", "sendmsg", "sendmsg", "exit"]
        assert "call-command: hangup\nhangup-cause: NORMAL_CLEARING" in switch.received[5]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert proc.returncode == 0, err
    assert f"listening on 127.0.0.1:{port}" in err
    assert "uuid=feffd515-755c-448a-be5a-030e791019d6 call connected" in err
    assert "uuid=feffd515-755c-448a-be5a-030e791019d6 played response='FILE PLAYED'" in err

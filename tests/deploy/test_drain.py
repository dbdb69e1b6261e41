"""`fsapp serve` drains on SIGTERM (a real subprocess, calls from the emulator): the
listening socket closes at once, the running call finishes, then the process exits; a
second signal ends the running calls at once."""
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fsapp_toml import write_fsapp_toml

from deploy_helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]

WAITING = """flow: waiting
numbers: ["20000"]
languages: [zh-CN]
start: menu
nodes:
  menu:
    menu: {prompt: common/welcome, options: {"1": bye}, timeout: 3s, tries: 1, on_fail: bye}
  bye: {hangup: {prompt: common/goodbye}}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:   # caught in the backlog as the socket closed: ask again
        return False


@pytest.fixture
def worker(tmp_path):
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "waiting.yaml").write_text(WAITING, encoding="utf-8")
    port = _free_port()
    write_fsapp_toml(tmp_path, {
        "serve": {"listen": f"127.0.0.1:{port}", "drain_timeout": 120},
        "flows": {"dir": "flows", "control": tmp_path / "control.sock", "node_visits": False,
                  "calendars": ROOT / "calendars.yaml"},
        "sounds": {"dir": ROOT / "sounds"},
        "routing": {"config": ROOT / "routing.yaml"}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSAPP_")}
    env["PYTHONPATH"] = str(ROOT)
    log = open(tmp_path / "serve.log", "w+")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "fsapp"), "--config", str(tmp_path / "fsapp.toml"),
                             "serve", "--flows", "flows"], cwd=tmp_path, env=env, stdout=log, stderr=log)
    try:
        wait_until(lambda: "fsapp serve: listening" in (tmp_path / "serve.log").read_text()
                   or proc.poll() is not None, "fsapp serve to listen", limit=60.0)
        assert proc.poll() is None, (tmp_path / "serve.log").read_text()
        yield proc, port, tmp_path / "serve.log"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        log.close()


@pytest.fixture
def switch():
    from fsapp.sim import RealClock, Switch
    sw = Switch(esl=("127.0.0.1", 0), clock=RealClock()).start()
    yield sw
    sw.stop()


def _call_in_menu(switch, port):
    from fsapp.sim import CallerScript, Socket
    switch.dialplan.add(r"^20000$", Socket(f"127.0.0.1:{port} async full"))
    caller = switch.place_call(CallerScript(dial="20000", steps=[]))
    wait_until(lambda: any(p.endswith("welcome.wav") for p in caller.report.heard), "the caller to hear the menu",
               limit=60.0)
    return caller


def test_sigterm_stops_accepting_and_finishes_the_running_call(worker, switch):
    proc, port, log = worker
    caller = _call_in_menu(switch, port)
    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: _refused(port), "the listening socket to close", limit=60.0)
    assert proc.poll() is None          # still running: the call is not over
    report = caller.wait(60)
    prompts = [Path(p).stem for p in report.heard if p.endswith(".wav")]
    assert prompts == ["welcome", "goodbye"]   # the call finished normally
    assert proc.wait(timeout=60) == 0
    assert "draining" in Path(log).read_text()


def test_a_second_signal_stops_at_once(worker, switch):
    proc, port, log = worker
    caller = _call_in_menu(switch, port)
    proc.send_signal(signal.SIGTERM)
    wait_until(lambda: _refused(port), "the listening socket to close", limit=60.0)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    text = Path(log).read_text()
    assert "stopping now" in text
    report = caller.wait(60)
    # the worker went away before the menu's timeout: the caller never heard goodbye
    assert "goodbye" not in [Path(p).stem for p in report.heard]

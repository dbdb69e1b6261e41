"""`fsapp status` and `fsapp calls` against a running worker (the emulator, the flow
runtime and its control socket), through the real CLI."""
import json

import pytest
from click.testing import CliRunner

from fsapp.cli import main
from fsapp.live.calls import transfer_destination
from fsapp.esl.syntax import UnsafeValue
from fsapp.sim import Echo, Wait
from liveline import fsapp_cli as fsapp
from liveline import wait_for


@pytest.fixture
def line(idle_line):
    return idle_line                                   # nobody to answer: callers wait (conftest)


def calls_json(line) -> list[dict]:
    result = fsapp(line, "calls", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_status_shows_worker_calls_queues_agents_and_health(line):
    caller = line.place([Wait(60)], caller_id="13800138000")
    wait_for(lambda: any(c["queue"] == "sales" for c in calls_json(line)), 20, "the caller in the queue")
    result = fsapp(line, "status", "--json")
    assert result.exit_code == 0, result.output
    worker = json.loads(result.output)["workers"][0]
    assert worker["worker"]["flows"] == {"line": line.handler.registry.flows["line"].version}
    assert worker["calls"]["in_progress"] == 1
    sales = next(q for q in worker["queues"] if q["queue"] == "sales")
    assert sales["waiting"] == 1 and sales["agents_logged_in"] == 0
    assert worker["agents"]["logged_out"] == 3
    assert worker["esl"] == [{"connection": f"127.0.0.1:{line.switch.esl_port}", "connected": True,
                              "reconnects": 0}]
    assert worker["redis"] is None                       # the memory backend
    text = fsapp(line, "status").output
    assert "sales" in text and "<b>support</b>" in text and "line " in text and "ok" in text
    line.router.esl.uuid_kill(caller.report.uuid)
    caller.wait(30)


def test_calls_lists_and_hangs_up(line):
    caller = line.place([Wait(60)], caller_id="13800138000")
    rows = wait_for(lambda: [c for c in calls_json(line) if c["node"] == "agents"], 20, "the call at the queue")
    assert rows[0]["uuid"] == caller.report.uuid
    assert rows[0]["caller"] == "13800138000" and rows[0]["flow"] == "line" and rows[0]["queue"] == "sales"
    table = fsapp(line, "calls").output
    assert caller.report.uuid in table and "13800138000" in table and "1 live call" in table
    result = fsapp(line, "calls", "hangup", caller.report.uuid)
    assert result.exit_code == 0 and "+OK" in result.output, result.output
    report = caller.wait(30)
    assert report.hangup_cause
    wait_for(lambda: calls_json(line) == [], 20, "the call to leave the list")


def test_calls_transfer_validates_the_destination(line):
    line.switch.dialplan.add(r"^9999$", Echo())
    caller = line.place([Wait(60)])
    wait_for(lambda: calls_json(line), 20, "the call")
    uuid = caller.report.uuid
    for hostile in ("1001 XML evil", "${system(rm -rf /)}", "1001\nbgapi", "a,b"):
        result = fsapp(line, "calls", "transfer", uuid, hostile)
        assert result.exit_code == 1 and "destination" in result.output, (hostile, result.output)
    assert not line.switch.channels[uuid].profile.times.get("Channel-Transfer-Time")    # nothing reached the switch
    result = fsapp(line, "calls", "transfer", uuid, "9999", "--context", "default XML")
    assert result.exit_code == 1 and "context" in result.output, result.output
    result = fsapp(line, "calls", "transfer", "not a uuid!", "9999")
    assert result.exit_code == 1 and "uuid" in result.output
    result = fsapp(line, "calls", "transfer", "6a1c0000-0000-0000-0000-000000000000", "9999")
    assert result.exit_code == 1 and "no live call" in result.output
    result = fsapp(line, "calls", "transfer", uuid, "9999")
    assert result.exit_code == 0 and "+OK" in result.output, result.output
    assert line.switch.channels[uuid].profile.times.get("Channel-Transfer-Time")        # uuid_transfer ran
    line.router.esl.uuid_kill(uuid)
    caller.wait(30)


def test_no_service_is_one_clear_line(tmp_path):
    result = CliRunner().invoke(main, ["status", "--socket", str(tmp_path / "none.sock")])
    assert result.exit_code == 1 and "no running `fsapp serve --flows`" in result.output


@pytest.mark.parametrize("dest", ["1001", "+8613800138000", "*98", "mailbox", "sales.night"])
def test_transfer_destinations_accepted(dest):
    assert transfer_destination(dest) == dest


@pytest.mark.parametrize("dest", ["", "1001 XML", "${x}", "a{b}", "1001'", "x\ny", "a:_:b"])
def test_transfer_destinations_refused(dest):
    with pytest.raises(UnsafeValue, match="destination"):
        transfer_destination(dest)


def test_status_watch_redraws_until_interrupted(line):
    import os
    import signal
    import subprocess
    import sys
    env = {**os.environ, "TTY_COMPATIBLE": "1", "COLUMNS": "120"}   # a terminal, as an operator has
    fsapp_bin = os.path.join(os.path.dirname(sys.executable), "fsapp")
    proc = subprocess.Popen([fsapp_bin, "--config", str(line.config_path), "status",
                             "--watch", "--interval", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env)
    try:
        seen = b""
        while seen.count(b"Workers") < 3:        # the first screen and two refreshes
            chunk = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else proc.stdout.read(1)
            assert chunk, f"status --watch ended early: {seen.decode(errors='replace')}"
            seen += chunk
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

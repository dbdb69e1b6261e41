"""`fsapp agent login|break|available|logout` with the memory backend act on the running
service (its control socket), end to end: the status changes there and routing follows."""
import json

import pytest
from click.testing import CliRunner

from fsapp.cli import main
from fsapp.routing.model import AgentStatus
from fsapp.sim import Wait
from liveline import fsapp_cli as fsapp
from liveline import wait_for


@pytest.fixture
def line(idle_line):
    return idle_line                                   # nobody to answer: callers wait (conftest)


def status_of(line, agent):
    return line.router.backend.get_agent(agent).status


def test_agent_commands_change_the_running_service(line):
    result = fsapp(line, "agent", "break", "1003", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["status"] == "On Break"
    assert status_of(line, "1003") == AgentStatus.ON_BREAK
    result = fsapp(line, "agent", "available", "1003", "--on-demand")
    assert result.exit_code == 0 and "Available (On Demand)" in result.output, result.output
    assert status_of(line, "1003") == AgentStatus.AVAILABLE_ON_DEMAND
    result = fsapp(line, "agent", "logout", "1003")
    assert result.exit_code == 0 and "Logged Out" in result.output
    assert status_of(line, "1003") == AgentStatus.LOGGED_OUT
    result = fsapp(line, "agent", "login", "ghost")
    assert result.exit_code == 1 and "unknown agent 'ghost'" in result.output, result.output


def test_login_through_the_cli_gets_the_waiting_caller_an_agent(line):
    offered = []
    line.router.backend.subscribe(lambda e: offered.append(e) if e.get("event") == "member-offered" else None)
    caller = line.place([Wait(60)], caller_id="13800138000")
    wait_for(lambda: line.router.backend.members("sales"), 20, "the caller waiting in sales")
    assert not offered                                   # every sales agent logged out
    result = fsapp(line, "agent", "login", "1002")
    assert result.exit_code == 0 and "agent 1002: Available" in result.output, result.output
    wait_for(lambda: offered, 20, "the offer to the agent logged in through the CLI")
    assert offered[0]["agents"] == ["1002"] and offered[0]["queue"] == "sales"
    line.router.esl.uuid_kill(caller.report.uuid)
    caller.wait(30)


def test_refuses_when_no_service_answers(line, tmp_path):
    config = tmp_path / "elsewhere.toml"
    config.write_text(line.config_path.read_text().replace(str(tmp_path / "ctl.sock"), str(tmp_path / "gone.sock")))
    result = CliRunner().invoke(main, ["--config", str(config), "agent", "login", "1001"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "gone.sock" in result.output and "backend = redis" in result.output
    assert status_of(line, "1001") == AgentStatus.LOGGED_OUT     # nothing changed

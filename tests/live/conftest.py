import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))   # liveline

import time

import pytest


@pytest.fixture
def idle_line(tmp_path):
    """A live line whose agents are logged out: callers wait (for `fsapp calls`, `fsapp agent`)."""
    from fsapp.routing.model import AgentStatus
    from liveline import LiveLine
    line = LiveLine.open(tmp_path)
    for agent in ("1001", "1002"):
        line.router.backend.set_status(agent, AgentStatus.LOGGED_OUT, time.time())
    yield line
    line.close()

"""Two worker processes, one redis-server: 1,000 near-simultaneous calls for 50 agents
never double-book an agent and leave none stuck; a killed worker's agents come back
after the lease."""
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from fsapp.routing.model import AgentState, AgentStatus, Tier
from fsapp.routing.redis_backend import RedisBackend
from routing_helpers import add_agents

WORKER = Path(__file__).with_name("stress_worker.py")
ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 1500          # only turns a hang into a failure; nothing is decided by it
pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.timeout(2 * HANG_GUARD_S)]


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


@pytest.fixture
def shared(redis_url):
    prefix = f"stress:{uuid.uuid4().hex[:8]}:"
    be = RedisBackend.from_url(redis_url, prefix=prefix)
    yield be, prefix
    be.delete_all()
    be.close()


def test_1000_calls_50_agents_two_workers(shared, redis_url):
    be, prefix = shared
    for name in add_agents(be, 50, now=time.time(), wrap_up_time=0.0):
        be.add_tier(Tier("stress", name))
    procs = [subprocess.Popen([sys.executable, str(WORKER), redis_url, prefix, f"w{i}", "calls", "500"],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    for p in procs:
        out, err = p.communicate(timeout=HANG_GUARD_S + 60)
        assert p.returncode == 0, err[-2000:]
    assert be.r.lrange(be.k("violations"), 0, -1) == []
    assert int(be.r.get(be.k("done"))) == 1000
    now = time.time()
    agents = be.agents()
    assert len(agents) == 50
    stuck = [a.name for a in agents if a.state(now) != AgentState.WAITING or a.claims]
    assert stuck == []
    assert sum(a.calls_answered for a in agents) == 1000
    assert be.members("stress") == []


def test_killed_worker_agents_return_after_lease(shared, redis_url):
    be, prefix = shared
    names = add_agents(be, 10, now=time.time())
    lease = 2.0
    p = subprocess.Popen([sys.executable, str(WORKER), redis_url, prefix, "doomed", "hold", "10", str(lease)],
                         env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.strip() == "HOLDING 10", p.stderr.read()
        # renewals keep the agents engaged while the worker lives: judged as of each
        # renewal the worker reports, over 1.5 leases of them (a judgement "now" would
        # depend on how promptly a busy machine schedules the worker)
        for _ in range(6):
            word, stamp = p.stdout.readline().split()
            renewed_at = float(stamp)
            assert word == "RENEWED"
            assert all(a.state(renewed_at) == AgentState.IN_A_QUEUE_CALL for a in be.agents())
            assert all(c.expires >= renewed_at + lease - 0.001 for a in be.agents() for c in a.claims.values())
            assert not be.claim(names[0], "intruder", "other", 5, renewed_at)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait(timeout=HANG_GUARD_S)
    # once the last lease has lapsed (no budget: the leases are data, judged at that time)
    # every agent is Waiting again and can be claimed by a survivor
    lapse = max(c.expires for a in be.agents() for c in a.claims.values())
    assert lapse <= time.time() + lease
    while time.time() <= lapse:
        time.sleep(0.1)
    assert all(a.state(time.time()) == AgentState.WAITING for a in be.agents())
    for i, name in enumerate(names):
        assert be.claim(name, f"new-{i}", "survivor", 5, time.time())
    assert all(a.status == AgentStatus.AVAILABLE for a in be.agents())

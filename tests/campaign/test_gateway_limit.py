"""Per-gateway channel limits across dialer processes (issue 18): two `fsapp campaign
start` processes on one private redis-server share the gateway's slots, so the carrier
never sees more calls than the limit; a slot whose dialer stops renewing it (crashed)
comes free when its lease lapses."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsapp.campaign.gateway_slots import MemoryGatewaySlots, RedisGatewaySlots
from fsapp.campaign.redis_state import RedisStates
from fsapp.cli import main
from fsapp.sim import Switch
from tests.campaign.test_crash import ROOT
from tests.routing.test_routing_redis_outage import PrivateRedis

NUMBERS = [f"1370000{i:04d}" for i in range(14)]
LIMIT = 3


def _need_redis_server():
    if not any(os.access(os.path.join(p, "redis-server"), os.X_OK) for p in os.environ["PATH"].split(":")):
        pytest.skip("redis-server is not installed (Makefile TEST_DEBS)")


def _project(tmp: Path, esl_port: int, redis_url: str, prefix: str) -> Path:
    (tmp / "campaigns").mkdir()
    (tmp / "campaigns" / "trunk.yaml").write_text(textwrap.dedent(f"""\
        campaign: trunk
        flow: outage_notice
        contacts: {{csv: contacts.csv}}
        calendar: always
        pacing: {{calls_per_minute: 60, max_concurrent: 10, gateways: {{carrier1: {LIMIT}}}}}
        dial: {{template: "sofia/gateway/{{gateway}}/{{number}}", gateway: carrier1, timeout: 10s, max_duration: 1m}}
        retry: {{max_attempts: 1}}
        """), encoding="utf-8")
    (tmp / "contacts.csv").write_text("number,district,ends_at\n" + "".join(f"{n},7,18:00\n" for n in NUMBERS),
                                      encoding="utf-8")
    (tmp / "calendars.yaml").write_text(
        (ROOT / "calendars.yaml").read_text(encoding="utf-8")
        + '\n  always:\n    timezone: Asia/Shanghai\n    weekly: {daily: "00:00-24:00"}\n', encoding="utf-8")
    (tmp / "fsapp.toml").write_text(textwrap.dedent(f"""\
        [esl]
        port = {esl_port}
        password = "ClueCon"
        [store]
        spool = "{tmp}/spool"
        queries = "{ROOT}/queries"
        [store.connections.main]
        odbc = "Driver={{SQLite3}};Database={tmp}/fsapp.db"
        [sounds]
        dir = "{ROOT}/sounds"
        [flows]
        dir = "{ROOT}/ivr_flows"
        calendars = "calendars.yaml"
        recordings = "{tmp}/recordings"
        node_visits = false
        [campaign]
        state = "redis"
        redis_url = "{redis_url}"
        redis_prefix = "{prefix}"
        listen = "127.0.0.1:0"
        gateway_lease = 5
        """), encoding="utf-8")
    return tmp / "fsapp.toml"


def _dialer(cfg: Path, tmp: Path, worker: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSAPP_")}
    env["FSAPP_CAMPAIGN_WORKER_ID"] = worker
    env["FSAPP_FLOWS_CONTROL"] = str(tmp / f"{worker}.sock")     # one control socket per process
    return subprocess.Popen([str(Path(sys.executable).parent / "fsapp"), "--config", str(cfg), "campaign", "start",
                             "trunk", "--until-done"], cwd=tmp, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _peak(intervals: list[tuple[float, float]]) -> int:
    """The most calls up at one moment (an end before a start at the same instant)."""
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    peak = up = 0
    for _, step in edges:
        up += step
        peak = max(peak, up)
    return peak


def test_two_dialer_processes_share_the_gateway_limit(tmp_path, monkeypatch):
    _need_redis_server()
    server = PrivateRedis(tmp_path, "none").start()
    switch = Switch(esl=("127.0.0.1", 0)).start()
    prefix = f"trunk-{uuid.uuid4().hex[:6]}:"
    try:
        for number in NUMBERS:
            switch.add_agent(number, ring_s=0.3, talk_s=2.0)
        cfg = _project(tmp_path, switch.esl_port, server.url, prefix)
        monkeypatch.chdir(tmp_path)
        for verb in (["db", "init"], ["campaign", "load", "trunk"]):
            result = CliRunner().invoke(main, ["--config", str(cfg), *verb])
            assert result.exit_code == 0, result.output
        dialers = [_dialer(cfg, tmp_path, "dialer-1"), _dialer(cfg, tmp_path, "dialer-2")]
        for proc in dialers:
            out, _ = proc.communicate(timeout=300)
            assert proc.returncode == 0, out
            assert "dialer ended (done)" in out
        calls = [c for a in switch.agents.values() for c in a.calls]
        assert len(calls) == len(NUMBERS)
        # each process alone keeps to the limit; together they would reach 2 x LIMIT unless shared
        # (each dialer starts a call a second, 2.3 s long: about 2.3 calls up each, 4.6 together)
        assert _peak([(c["offered_at"], c["ended_at"]) for c in calls]) == LIMIT
        states = RedisStates.from_url(server.url, prefix)
        workers = {a["worker"] for a in states.attempts("trunk")}
        assert workers == {"dialer-1", "dialer-2"}, workers      # both dialled
        assert states.gateway_slots().in_use("carrier1", 0.0) == 0   # every slot given back
        states.close()
    finally:
        switch.stop()
        server.stop()


def test_a_crashed_dialers_slots_come_free_when_their_lease_lapses(redis_url):
    import redis
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"fsapp-test-slots-{uuid.uuid4().hex[:8]}:"
    slots = RedisGatewaySlots(client, prefix)
    try:
        assert slots.acquire("gw", 2, "dead-1", now=100.0, lease_s=30.0)
        assert slots.acquire("gw", 2, "alive-1", now=100.0, lease_s=30.0)
        assert not slots.acquire("gw", 2, "other", now=110.0, lease_s=30.0)      # full
        slots.renew("gw", ["alive-1"], now=120.0, lease_s=30.0)                 # its dialer lives on
        assert slots.in_use("gw", 129.0) == 2
        # dead-1's dialer never renewed: at 130 its slot lapses, alive-1's holds until 150
        assert slots.acquire("gw", 2, "other", now=131.0, lease_s=30.0)
        assert not slots.acquire("gw", 2, "more", now=131.0, lease_s=30.0)
        slots.release("gw", "alive-1")
        assert slots.acquire("gw", 2, "more", now=132.0, lease_s=30.0)
        # a lapsed slot is not renewed back into existence
        slots.renew("gw", ["dead-1"], now=133.0, lease_s=30.0)
        assert slots.in_use("gw", 133.0) == 2
    finally:
        client.delete(f"{prefix}gwslots:gw")
        client.close()


def test_memory_slots_count_this_process_only():
    slots = MemoryGatewaySlots()
    assert not slots.shared
    assert slots.acquire("gw", 1, "a", 0.0, 30.0) and not slots.acquire("gw", 1, "b", 0.0, 30.0)
    slots.release("gw", "a")
    assert slots.acquire("gw", 1, "b", 0.0, 30.0)

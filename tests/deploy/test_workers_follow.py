"""A deploy reaches every worker of every node through the shared Redis state (issue 17):
three `fsapp serve --flows` workers, two on node A (one line directory) and one on node B
(its own directory, as on another host), follow `deploy:current`; `fsapp deploy` from the
operator's shell waits for each one and reports it; a version a worker cannot load is
acknowledged as failed with its problems."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import gevent
import pytest
import redis
from click.testing import CliRunner

from fsapp import config
from fsapp.cli import main
from fsapp.deploy import line
from fsapp.deploy.follow import VersionFollower, WorkerRegistry
from fsapp.deploy.store import RedisStore
from fsapp.app.services import flow_handler
from fsapp.flow.runtime import request

from deploy_helpers import LIVE

ROOT = Path(__file__).resolve().parents[2]
HANG_GUARD_S = 120


@pytest.fixture
def shared(project):
    url = os.environ.get("FSAPP_TEST_REDIS_URL")
    if not url:
        if os.environ.get("FSAPP_REQUIRE_SERVICES") == "1":
            pytest.fail("FSAPP_TEST_REDIS_URL is not set")
        pytest.skip("no redis-server")
    prefix = f"fsapp-test-follow-{uuid.uuid4().hex[:8]}:"
    yield url, prefix
    r = redis.Redis.from_url(url)
    keys = list(r.scan_iter(match=prefix + "*"))
    if keys:
        r.delete(*keys)
    r.close()


def _redis_config(path: Path, url: str, prefix: str, ack_timeout: float = 60) -> None:
    text = path.read_text().replace("[deploy]\n", f'[deploy]\nstore = "redis"\nack_timeout = {ack_timeout}\n')
    text = text.replace("[routing]\n", f'[routing]\nredis_url = "{url}"\nredis_prefix = "{prefix}"\n')
    path.write_text(text)


def _node(tmp: Path, name: str, project_dir: Path, url: str, prefix: str) -> Path:
    """A node's own copy of the line and configuration (as on another host)."""
    node = tmp / name
    node.mkdir()
    for item in ("flows", "routing.yaml", "calendars.yaml"):
        src = project_dir / item
        (shutil.copytree if src.is_dir() else shutil.copy)(src, node / item)
    (node / "sounds").mkdir()
    for entry in (project_dir / "sounds").iterdir():
        (node / "sounds" / entry.name).symlink_to(entry.resolve(), target_is_directory=entry.is_dir())
    text = (project_dir / "fsapp.toml").read_text().replace(str(project_dir), str(node))
    (node / "fsapp.toml").write_text(text + '\n[serve]\nlisten = "127.0.0.1:0"\n')
    return node


def _worker(node: Path, n: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FSAPP_")}
    env["FSAPP_FLOWS_CONTROL"] = str(node / f"control-{n}.sock")     # one per worker
    return subprocess.Popen([str(Path(sys.executable).parent / "fsapp"), "--config", str(node / "fsapp.toml"),
                             "serve", "--flows", str(node / "flows")], cwd=node, env=env,
                            stdout=subprocess.DEVNULL, stderr=open(node / f"worker-{n}.log", "w"))


def _wait_for(condition, what: str) -> None:
    with gevent.Timeout(HANG_GUARD_S, AssertionError(f"timed out waiting for {what}")):
        while not condition():
            gevent.sleep(0.1)


def test_a_deploy_reaches_every_worker_of_every_node_and_reports_each(project, tmp_path, shared):
    url, prefix = shared
    _redis_config(project.path, url, prefix)
    a, b = (_node(tmp_path, name, tmp_path, url, prefix) for name in ("node-a", "node-b"))
    workers = [(a, 1), (a, 2), (b, 1)]
    procs = [_worker(node, n) for node, n in workers]
    registry = WorkerRegistry(RedisStore(url, prefix))
    try:
        _wait_for(lambda: len(registry.workers()) == 3, "three workers registered")
        before = {(node, n): request(node / f"control-{n}.sock", "status")["flows"]["live"] for node, n in workers}
        new = tmp_path / "live.yaml"
        new.write_text(LIVE.replace("common/goodbye", "common/thanks"))
        result = CliRunner().invoke(main, ["--config", str(project.path), "deploy", str(new), "-m", "thanks"])
        assert result.exit_code == 0, result.output
        assert "3/3 workers on version 2" in result.output
        assert result.output.count(": version 2 loaded (generation") == 3
        for node, n in workers:
            # node B's own directory got the version's file, as on another host
            assert "common/thanks" in (node / "flows" / "live.yaml").read_text()
            status = request(node / f"control-{n}.sock", "status")
            assert status["flows"]["live"] != before[(node, n)]
        # a rollback is a deploy: it reaches them all as well
        result = CliRunner().invoke(main, ["--config", str(project.path), "rollback"])
        assert result.exit_code == 0 and "3/3 workers on version 3" in result.output, result.output
        assert "common/goodbye" in (b / "flows" / "live.yaml").read_text()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)
    # a worker that stops unregisters: the next deploy does not wait for it
    assert registry.workers() == {}


def test_a_version_a_worker_cannot_load_is_acknowledged_with_its_problems(project, tmp_path, shared):
    url, prefix = shared
    _redis_config(project.path, url, prefix)
    cfg = config.load(project.path, env={})
    store = RedisStore(url, prefix)
    handler = flow_handler(str(tmp_path / "flows"), cfg)
    follower = VersionFollower(store, handler, line.Layout.from_config(cfg), "w-test", {"listen": "x:1"})
    files = line.read(line.Layout.from_config(cfg))
    store.record(files, "op", "good")
    ack = follower.step()
    assert ack["ok"] and ack["generation"] == 2 and follower.loaded == 1
    assert follower.step() is None                        # nothing new: only the heartbeat
    broken = dict(files, **{"flows/live.yaml": LIVE.replace("start: bye", "start: nowhere").encode()})
    store.record(broken, "op", "recorded around the checks")
    ack = follower.step()
    assert not ack["ok"] and any("nowhere" in p for p in ack["problems"])
    assert handler.registry.generation == 2               # the worker kept running the good line
    assert WorkerRegistry(store).acks(2)["w-test"]["ok"] is False

"""Run a doc's examples as a reader would: in a scratch copy of the project, with the
`fsapp` command on PATH and no FSAPP_* settings from the outer environment.

The text is run as written. Two environment settings keep concurrent test runs apart: a
block that starts `fsapp serve` gets FSAPP_SERVE_LISTEN on a free port, and a block
that switches routing to Redis gets the test redis-server and a key prefix of its own.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
import warnings
from pathlib import Path

import pytest

from doccheck import ROOT, doc_steps, expectations

# what a reader has after `make`: the project files the examples use
PROJECT_PARTS = ["ivr_flows", "queries", "calendars.yaml", "routing.yaml", "examples", "freeswitch-conf",
                 "campaigns"]
BLOCK_TIMEOUT = 180  # seconds; generous: the machine is shared


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_project(dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for part in PROJECT_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / part)
    (dest / "sounds").mkdir()
    shutil.copy2(ROOT / "sounds" / "catalog.yaml", dest / "sounds" / "catalog.yaml")
    for lang in ("zh-CN", "en-US"):   # rendered prompts (`make` builds them): linked, not copied
        if (ROOT / "sounds" / lang).is_dir():
            (dest / "sounds" / lang).symlink_to(ROOT / "sounds" / lang, target_is_directory=True)
    return dest


class DocRunner:
    def __init__(self, project: Path, request):
        self.project = project
        self.request = request
        self.port = str(_free_port())
        self.redis_prefix = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FSAPP_")}
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}"
        self.env["PYTHONPATH"] = str(ROOT)

    def _redis(self) -> bool:
        """Point routing at the test redis-server; False if there is none (the block is
        skipped then, unless FSAPP_REQUIRE_SERVICES=1 makes that a failure)."""
        if self.redis_prefix is None:
            url = os.environ.get("FSAPP_TEST_REDIS_URL")
            if not url:
                if os.environ.get("FSAPP_REQUIRE_SERVICES") == "1":
                    pytest.fail("FSAPP_TEST_REDIS_URL is not set: redis-server was not started")
                return False
            self.redis_prefix = f"fsapp-doctest-{uuid.uuid4().hex[:8]}:"
            self.env["FSAPP_ROUTING_REDIS_URL"] = url
            self.env["FSAPP_ROUTING_REDIS_PREFIX"] = self.redis_prefix
        return True

    def run_doc(self, doc: Path) -> list[str]:
        """Run every step of `doc`; return the outputs. Fails naming doc:line."""
        steps = doc_steps(doc)
        assert steps, f"{doc}: no doc-test steps found"
        outputs = []
        for step in steps:
            where = f"{doc.relative_to(ROOT)}:{step.line}"
            if step.kind == "file":
                target = self.project / step.path
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(step.body, encoding="utf-8")
                continue
            if "FSAPP_ROUTING_BACKEND=redis" in step.body and not self._redis():
                warnings.warn(f"{where}: skipped, no redis-server (scripts/services.sh start)")
                continue
            outputs.append(self.run_block(step.body, where))
        return outputs

    def run_block(self, script: str, where: str) -> str:
        env = dict(self.env)
        if "fsapp serve" in script:
            env["FSAPP_SERVE_LISTEN"] = f"127.0.0.1:{self.port}"
        proc = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script],
                                cwd=self.project, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            out, _ = proc.communicate(timeout=BLOCK_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            pytest.fail(f"{where}: block did not finish within {BLOCK_TIMEOUT} s; output:\n{out}")
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # a background `fsapp serve` left behind
            except ProcessLookupError:
                pass
        assert proc.returncode == 0, f"{where}: block failed (exit {proc.returncode}); output:\n{out}"
        for text in expectations(script):
            assert text in out, f"{where}: expected {text!r} in the output:\n{out}"
        return out

    def cleanup(self) -> None:
        if self.redis_prefix:
            import redis
            r = redis.Redis.from_url(self.env["FSAPP_ROUTING_REDIS_URL"])
            keys = list(r.scan_iter(match=self.redis_prefix + "*"))
            if keys:
                r.delete(*keys)
            r.close()


@pytest.fixture
def doc_runner(tmp_path, request):
    runner = DocRunner(make_project(tmp_path / "project"), request)
    yield runner
    runner.cleanup()

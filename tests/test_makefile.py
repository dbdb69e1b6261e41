"""The Makefile honours FSAPP_SERVICES_DIR from the environment (issue 10: it used to be
overridden by the Makefile's own default), and SERVICES_DIR= on the command line."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# A target of our own, so nothing is installed or started: it prints what recipes see.
SHOW = "show-services-dir: ; @echo recipe=$(SERVICES_DIR) env=$$FSAPP_SERVICES_DIR"

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def make(*args, env_dir=None):
    env = {k: v for k, v in os.environ.items() if k not in ("FSAPP_SERVICES_DIR", "SERVICES_DIR", "MAKEFLAGS")}
    if env_dir is not None:
        env["FSAPP_SERVICES_DIR"] = env_dir
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *args], env=env,
                          capture_output=True, text=True, check=True, timeout=60).stdout


def test_fsapp_services_dir_from_the_environment_is_used(tmp_path):
    mine = str(tmp_path / "services")
    assert make("--eval", SHOW, "show-services-dir", env_dir=mine).split() == [f"recipe={mine}", f"env={mine}"]
    # what `make test` would run: the env file of that directory, not /tmp/fsapp-services
    dry = make("-n", "test", env_dir=mine)
    assert f"source {mine}/env && FSAPP_REQUIRE_SERVICES=1" in dry
    assert "/tmp/fsapp-services" not in dry


def test_default_and_command_line_override(tmp_path):
    assert make("--eval", SHOW, "show-services-dir").split() == [
        "recipe=/tmp/fsapp-services", "env=/tmp/fsapp-services"]
    cli = str(tmp_path / "cli")
    assert make("--eval", SHOW, "show-services-dir", f"SERVICES_DIR={cli}", env_dir=str(tmp_path / "env")).split() == [
        f"recipe={cli}", f"env={cli}"]

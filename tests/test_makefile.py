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


def test_make_test_runs_two_workers_then_the_serial_tests_alone():
    dry = make("-n", "test").replace("\\\n", " ")
    [parallel] = [line for line in dry.splitlines() if "--suite-pass=parallel" in line]
    [serial] = [line for line in dry.splitlines() if "--suite-pass=serial" in line]
    assert "-n 2 --dist loadfile --no-loadscope-reorder" in parallel and "--durations=25" in parallel
    assert " -n " not in serial and "--durations=" in serial
    assert dry.index("--suite-pass=parallel") < dry.index("--suite-pass=serial")


def collected(*args):
    import sys
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *args,
                          "tests/store/test_outage.py", "tests/integration/test_integration_outage.py",
                          "tests/test_makefile.py"], cwd=ROOT, capture_output=True, text=True, timeout=300).stdout
    return {line.split("::")[0] for line in out.splitlines() if "::" in line}


def test_tests_that_stop_the_shared_postgresql_run_only_in_the_serial_pass():
    """tests/store/test_outage.py stops the shared PostgreSQL; it once lacked pg_outage and
    ran beside every other test."""
    outage = {"tests/store/test_outage.py", "tests/integration/test_integration_outage.py"}
    assert collected("--suite-pass=parallel") == {"tests/test_makefile.py"}
    assert collected("--suite-pass=serial") == outage

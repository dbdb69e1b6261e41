"""Shared test set-up.

gevent's monkey patching must happen before anything imports socket/threading users
(redis-py, the runtime), so it is the first thing the test session does.

Real services (redis-server, PostgreSQL, MariaDB) are started by scripts/services.sh,
which `make test` runs; their addresses arrive as FSAPP_TEST_* variables. Without them a
test that needs one is skipped, unless FSAPP_REQUIRE_SERVICES=1 (set by `make test` and
CI), where a missing service is a failure, so CI cannot go green by skipping.
"""
from gevent import monkey

monkey.patch_all()

import os  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under pytest-xdist the worker's test queue is fed by execnet's receiver, a native
    # thread started before this patch: waiting for the next test, the main greenlet would
    # leave the hub with nothing to watch, and gevent would call that a deadlock
    # (LoopExit) although the other thread is about to wake it. A timer keeps it watching.
    import gevent  # noqa: E402

    def _keep_the_hub_watching():
        while True:
            gevent.sleep(1.0)

    gevent.spawn(_keep_the_hub_watching)

import re  # noqa: E402
import subprocess  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.fsapp_toml import write_fsapp_toml  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
# The ESL captures recorded from a real FreeSWITCH 1.10.12, vendored so a clone anywhere
# runs the suite; tests/test_captures_vendored.py keeps them in step with ../shared.
CAPTURES = ROOT / "tests" / "data" / "esl-captures"
SHARED_CAPTURES = ROOT.parent / "shared" / "esl-captures"


# `make test` runs the suite in two passes: most tests on two xdist workers, then the
# tests that must have the machine's shared services to themselves (marker `serial`, and
# every `pg_outage` test, which stops the shared PostgreSQL) one after another.
SERIAL_MARKERS = ("serial", "pg_outage")


def pytest_addoption(parser):
    parser.addoption("--suite-pass", choices=("all", "parallel", "serial"), default="all",
                     help="parallel: leave out the tests marked serial or pg_outage (for pytest -n 2); "
                          "serial: only those; all (default): every test")


def pytest_collection_modifyitems(config, items):
    which = config.getoption("--suite-pass")
    if which == "all":
        return
    keep, drop = [], []
    for item in items:
        serial = any(item.get_closest_marker(m) for m in SERIAL_MARKERS)
        (keep if serial == (which == "serial") else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
    if which == "parallel":
        # Files with a slow test go first: the workers take whole files in this order, and
        # a long file handed out last would leave one worker running it alone at the end.
        slow_files = {item.path for item in keep if item.get_closest_marker("slow")}
        keep.sort(key=lambda item: item.path not in slow_files)      # stable: files stay whole
    items[:] = keep


def _service(env_name: str, what: str) -> str:
    value = os.environ.get(env_name)
    if value:
        return value
    if os.environ.get("FSAPP_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{env_name} is not set: {what} was not started (scripts/services.sh start)")
    pytest.skip(f"{what} not available: run `scripts/services.sh start` and source its env")


@pytest.fixture(scope="session")
def redis_url() -> str:
    return _service("FSAPP_TEST_REDIS_URL", "redis-server")


@pytest.fixture(scope="session")
def pg_odbc() -> str:
    return _service("FSAPP_TEST_PG_ODBC", "PostgreSQL")


@pytest.fixture(scope="session")
def mariadb_odbc() -> str:
    return _service("FSAPP_TEST_MARIADB_ODBC", "MariaDB")


def with_database(odbc: str, name: str) -> str:
    """The same ODBC connection string, pointed at another database on that server."""
    return re.sub(r"(?i)(Database=)[^;]*", lambda m: m.group(1) + name, odbc)


def _throwaway_database(admin_odbc: str, create: str, drop: str):
    """Create a database fsapp_t_<random> on a real server, yield its ODBC string, drop it:
    each test is isolated and repeated runs on the same servers never see each other's rows."""
    import pyodbc
    name = f"fsapp_t_{uuid.uuid4().hex[:12]}"
    admin = pyodbc.connect(admin_odbc, autocommit=True, timeout=10)
    admin.cursor().execute(create.format(name=name))
    admin.close()
    yield with_database(admin_odbc, name)
    admin = pyodbc.connect(admin_odbc, autocommit=True, timeout=30)
    admin.cursor().execute(drop.format(name=name))
    admin.close()


@pytest.fixture
def pg_database(pg_odbc):
    yield from _throwaway_database(pg_odbc, "CREATE DATABASE {name}", "DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def mariadb_database(mariadb_odbc):
    yield from _throwaway_database(mariadb_odbc, "CREATE DATABASE {name} CHARACTER SET utf8mb4",
                                   "DROP DATABASE IF EXISTS {name}")


@dataclass
class Db:
    kind: str          # sqlite | postgresql | mysql: the dialect name of the SQL files
    odbc: str


@pytest.fixture(params=[
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.postgres),
    pytest.param("mysql", marks=pytest.mark.mariadb),
])
def db(request, sqlite_odbc) -> Db:
    """The same test on the three real databases, each a fresh throwaway one."""
    if request.param == "sqlite":
        return Db("sqlite", sqlite_odbc)
    if request.param == "postgresql":
        return Db("postgresql", request.getfixturevalue("pg_database"))
    return Db("mysql", request.getfixturevalue("mariadb_database"))


@pytest.fixture
def sqlite_odbc(tmp_path) -> str:
    return f"Driver={{SQLite3}};Database={tmp_path / 'fsapp.db'}"


@pytest.fixture(scope="session")
def captures_dir() -> Path:
    if not CAPTURES.is_dir():
        pytest.fail(f"ESL captures not found at {CAPTURES}")
    return CAPTURES


def services_script(*args: str) -> None:
    """Stop/start a real service mid-test (e.g. PostgreSQL for the outbox tests)."""
    subprocess.run([str(ROOT / "scripts" / "services.sh"), *args], check=True)


@pytest.fixture
def fsapp_toml(tmp_path):
    """fsapp_toml({section: {...}}, extra="") writes tmp_path/fsapp.toml and returns its path."""
    return lambda sections, extra="": write_fsapp_toml(tmp_path, sections, extra)

"""A replayer killed with SIGKILL mid-replay keeps its progress, and a crash-looping one
still finishes: a real replayer process (tests/store/outbox_replayer.py) replays a spool
of 24 rows in two segments into a real database, and the test kills it at chosen rows.

What is asserted, from the keys each run attempted (the child prints a key before it
applies the row):
* a restarted replayer never attempts a row an earlier run attempted, except the last
  row of the run just killed (its commit or its progress record may not have happened);
* all runs together attempt at most rows + kills rows: no redone work;
* the table then holds every row exactly once, with the values written, and the spool
  (segments and progress files) is empty.
"""
import os
import select
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fsapp.store.outbox import Outbox

DEAD = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=9;Database=x;Uid=x;Pwd=x"
CHILD = Path(__file__).with_name("outbox_replayer.py")
ROWS = 24
HANG_GUARD = 120  # seconds: only to turn a hung child into a failure, never a budget


def answer(i):
    return {"survey": "after_call", "question": "q1", "answer": str(i % 5 + 1), "call_uuid": f"c{i}"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def odbc(request, sqlite_odbc):
    if request.param == "sqlite":
        return sqlite_odbc
    return request.getfixturevalue("pg_database")


@pytest.fixture
def spooled(odbc, make_store, tmp_path):
    """ROWS rows spooled in two segments (two processes that found the database down)."""
    spool = tmp_path / "spool"
    make_store({"main": odbc})                              # fsapp's tables exist
    for part in (range(0, ROWS // 2), range(ROWS // 2, ROWS)):
        down = make_store({"main": DEAD}, migrate=False, breaker_failures=1, breaker_cooldown=60, spool=spool)
        for i in part:
            assert down.write("survey_answer", answer(i), key=f"call-{i:02d}") == "spooled"
        down.close()
    assert Outbox(spool).status()["segments"] == 2
    return spool


class Replayer:
    """One run of the child replayer; `attempts` are the keys it printed."""

    def __init__(self, odbc: str, spool: Path):
        self.proc = subprocess.Popen([sys.executable, str(CHILD), odbc, str(spool)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=Path(__file__).resolve().parents[2])
        self.attempts: list[str] = []
        self.result = ""

    def next_line(self) -> str:
        ready, _, _ = select.select([self.proc.stdout], [], [], HANG_GUARD)
        assert ready, f"replayer printed nothing for {HANG_GUARD} s"
        return self.proc.stdout.readline().strip()

    def run(self, kill_after: int | None = None, kill_in_apply: bool = False) -> bool:
        """Let it apply rows; SIGKILL it when it asks for row kill_after + 1. True if it finished."""
        while True:
            line = self.next_line()
            if line.startswith("done") or not line:
                self.result = line
                assert self.proc.wait(HANG_GUARD) == 0, line
                return True
            self.attempts.append(line)
            if kill_after is not None and len(self.attempts) > kill_after:
                if kill_in_apply:
                    self.go()   # the kill lands somewhere in this row's apply or progress write
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(HANG_GUARD)
                self.attempts += [ln.strip() for ln in self.proc.stdout if ln.strip()]
                return False
            self.go()

    def go(self) -> None:
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()


def assert_no_redone_work(runs: list[list[str]]) -> None:
    seen: set[str] = set()
    for before, after in zip(runs, runs[1:]):
        seen |= set(before)
        redone = set(after) & seen
        assert redone <= set(before[-1:]), (
            f"a restarted replayer redid {sorted(redone)}: progress was not kept")
    assert sum(map(len, runs)) <= ROWS + len(runs) - 1


def assert_each_row_once(store, spool: Path) -> None:
    rows = store.execute("SELECT idem_key, answer, call_uuid FROM fsapp_survey_answers ORDER BY idem_key")
    assert [(r["idem_key"], r["answer"], r["call_uuid"]) for r in rows] == [
        (f"call-{i:02d}", str(i % 5 + 1), f"c{i}") for i in range(ROWS)]
    assert Outbox(spool).status()["pending"] == 0
    assert sorted(p.name for p in (spool / "outbox").iterdir()) == []


@pytest.mark.parametrize("kill_in_apply", [False, True], ids=["waiting", "in-apply"])
def test_a_replayer_killed_mid_replay_resumes_where_it_stopped(odbc, spooled, make_store, kill_in_apply):
    first = Replayer(odbc, spooled)
    assert not first.run(kill_after=7, kill_in_apply=kill_in_apply)
    assert Outbox(spooled).status()["pending"] in (ROWS - 7, ROWS - 8)   # progress on disk
    second = Replayer(odbc, spooled)
    assert second.run()
    assert second.attempts[0] in first.attempts[-1:] + ["call-08"]
    assert_no_redone_work([first.attempts, second.attempts])
    assert second.result.endswith("drained")
    assert_each_row_once(make_store({"main": odbc}, migrate=False), spooled)


def test_a_crash_looping_replayer_still_finishes(odbc, spooled, make_store):
    runs, k = [], 3
    for n in range(2 * ROWS // k + 2):       # far more runs than it needs when progress is kept
        replayer = Replayer(odbc, spooled)
        finished = replayer.run(kill_after=k, kill_in_apply=bool(n % 2))
        runs.append(replayer.attempts)
        if finished:
            break
    else:
        pytest.fail(f"never finished in {len(runs)} runs; attempts per run: {runs}")
    assert len(runs) > 2
    assert_no_redone_work(runs)
    assert_each_row_once(make_store({"main": odbc}, migrate=False), spooled)

"""Contact states, SQLite and Redis alike: a claim is atomic and numbered, only its own
claim closes an attempt, and workers in separate processes never hold one contact at
the same time nor get the same attempt twice."""
import subprocess
import sys
import time
from pathlib import Path

from fsapp.campaign.state import Contact

HERE = Path(__file__).resolve().parent
CONTACTS = [Contact(f"c{i}", f"1390000{i:04d}", f"name {i}", {"district": "7"}) for i in range(5)]


def test_claim_is_numbered_and_exclusive(states):
    assert states.add_contacts("camp", CONTACTS, 100.0) == 5
    assert states.add_contacts("camp", CONTACTS[:2] + [Contact("c9", "13900009999")], 100.0) == 1  # known ones kept
    first = states.claim("camp", 100.0, "w1", 30.0)
    assert (first.contact_id, first.attempt, first.data) == ("c0", 1, {"district": "7"})
    claimed = {first.contact_id} | {states.claim("camp", 100.0, "w2", 30.0).contact_id for _ in range(5)}
    assert claimed == {"c0", "c1", "c2", "c3", "c4", "c9"}
    assert states.claim("camp", 100.0, "w1", 30.0) is None          # all in progress
    assert states.counts("camp") == {"in_progress": 6}
    # a retry comes back as the next attempt, not before it is due
    assert states.finish(first, "retry", 160.0, {"outcome": "busy", "started_at": 100.0})
    assert not states.finish(first, "completed", None, {"outcome": "completed"})  # closed already
    assert states.claim("camp", 159.0, "w1", 30.0) is None
    assert states.next_due("camp") == 160.0
    again = states.claim("camp", 160.0, "w1", 30.0)
    assert (again.contact_id, again.attempt) == ("c0", 2)
    assert states.finish(again, "completed", None, {"outcome": "completed", "started_at": 160.0})
    assert states.contact("camp", "c0")["state"] == "completed"
    assert [a["outcome"] for a in states.attempts("camp")] == ["busy", "completed"]


def test_stale_claims_after_the_lease(states):
    states.add_contacts("camp", CONTACTS[:1], 0.0)
    claim = states.claim("camp", 0.0, "w1", 30.0)
    assert states.stale("camp", 29.0) == []
    [stale] = states.stale("camp", 30.0)
    assert (stale.contact_id, stale.attempt, stale.worker) == ("c0", 1, "w1")
    assert states.finish(stale, "retry", 100.0, {"outcome": "failed"})
    assert not states.finish(claim, "completed", None, {"outcome": "completed"})   # the old claim is void


def test_control(states):
    assert states.control("camp")["status"] == "unknown"
    states.set_control("camp", "running", 5.0)
    states.set_control("camp", "paused", 9.0)
    assert states.control("camp") == {"status": "paused", "started_at": 5.0, "updated_at": 9.0}


def _race(args_for, contacts: int = 20, workers: int = 4, claims: int = 60):
    procs = [subprocess.Popen([sys.executable, str(HERE / "claim_worker.py"), *args_for, "race", f"w{i}",
                               str(claims)], stdout=subprocess.PIPE, text=True) for i in range(workers)]
    held = []
    for proc in procs:
        out, _ = proc.communicate(timeout=240)
        assert proc.returncode == 0
        held += [(c, int(a), float(t0), float(t1)) for c, a, t0, t1 in (line.split() for line in out.splitlines())]
    assert len(held) == workers * claims
    attempts = [(c, a) for c, a, _, _ in held]
    assert len(set(attempts)) == len(attempts), "an attempt was claimed twice"
    by_contact = {}
    for c, a, t0, t1 in held:
        by_contact.setdefault(c, []).append((t0, t1))
    for spans in by_contact.values():
        spans.sort()
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:])), "two workers held one contact at once"
    return held


def test_workers_in_processes_never_share_a_contact_sqlite(tmp_path):
    from fsapp.campaign.state import SQLiteStates
    path = tmp_path / "state.db"
    SQLiteStates(path).add_contacts("race", [Contact(f"c{i}", f"1390000{i:04d}") for i in range(20)], time.time())
    _race(["sqlite", str(path)])


def test_workers_on_one_redis_never_share_a_contact(redis_url, redis_prefix):
    from fsapp.campaign.redis_state import RedisStates
    RedisStates.from_url(redis_url, redis_prefix).add_contacts(
        "race", [Contact(f"c{i}", f"1390000{i:04d}") for i in range(20)], time.time())
    _race(["redis", redis_url, redis_prefix])

"""The durable outbox: spool format, crash recovery, exactly-once replay, dead letters."""
import datetime as dt
import os
from decimal import Decimal

import pytest

from fsapp.store import CircuitOpen, StoreUnavailable
from fsapp.store.outbox import Outbox, Record

# A PostgreSQL driver pointed at a port nobody listens on: "the database is down".
DEAD = "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=9;Database=x;Uid=x;Pwd=x"


def answer(i):
    return {"survey": "after_call", "question": "q1", "answer": str(i % 5 + 1), "call_uuid": f"c{i}"}


def test_record_round_trip_and_crc():
    rec = Record("ticket", "k1", {"summary": "水压低", "amount": Decimal("12.30"), "on": dt.date(2026, 1, 2),
                                  "at": dt.datetime(2026, 1, 2, 3, 4, 5, 6000), "n": 3, "none": None}, 1.5)
    line = rec.to_line()
    assert Record.from_line(line) == rec
    corrupted = line.replace("水压低".encode(), "水压高".encode())
    with pytest.raises(ValueError, match="CRC"):
        Record.from_line(corrupted)
    with pytest.raises(ValueError, match="torn"):
        Record.from_line(line[:-5])


def test_torn_tail_is_dropped_and_corrupt_line_dead_lettered(tmp_path):
    box = Outbox(tmp_path)
    box.append("survey_answer", "a", answer(1))
    box.append("survey_answer", "b", answer(2))
    box.seal()
    seg = box.segments()[0]
    good = seg.read_bytes()
    lines = good.splitlines(keepends=True)
    seg.write_bytes(lines[0] + b"00000000 {garbage}\n" + lines[1] + lines[1][:20])  # corrupt middle, torn tail
    applied = []
    report = box.replay(lambda r: applied.append(r.key))
    assert applied == ["a", "b"]
    assert (report.replayed, report.dead, report.skipped_torn) == (2, 1, 1)
    assert box.segments() == [] and box.status()["dead"] == 1


def test_a_segment_locked_by_a_live_writer_is_left_alone(tmp_path):
    writer, replayer = Outbox(tmp_path), Outbox(tmp_path)    # two processes sharing the spool
    writer.append("survey_answer", "a", answer(1))
    report = replayer.replay(lambda r: pytest.fail("read a segment that is still being written"))
    assert report.busy_segments == 1 and len(writer.segments()) == 1
    writer.seal()
    assert replayer.replay(lambda r: None).replayed == 1


def test_rejected_rows_are_retried_then_dead_lettered_never_dropped(tmp_path):
    box = Outbox(tmp_path, max_attempts=3)
    box.append("survey_answer", "bad", answer(1))
    box.append("survey_answer", "good", answer(2))
    from fsapp.store import QueryError

    def apply(rec):
        if rec.key == "bad":
            raise QueryError("value too long")
    for _ in range(2):
        assert box.replay(apply).stopped.startswith("row bad rejected")
    report = box.replay(apply)
    assert (report.replayed, report.dead) == (1, 1)
    assert box.status() == {"dir": str(box.dir), "segments": 0, "pending": 0, "dead": 1}
    assert box.requeue_dead() == 1
    assert box.status()["pending"] == 1


def test_database_down_spools_and_breaker_stops_hammering(make_store, tmp_path):
    store = make_store({"main": {"odbc": DEAD, "connect_timeout": 2}}, migrate=False,
                       breaker_failures=3, breaker_cooldown=60, spool=tmp_path / "spool")
    for i in range(10):
        assert store.write("survey_answer", answer(i), key=f"k{i}") == "spooled"
    assert store.breakers["main"].state == "open"
    assert store.outbox.status()["pending"] == 10
    # Reads take their error branch at once while the breaker is open.
    with pytest.raises(CircuitOpen):
        store.query("fsapp.ticket_status", {"serial": "00000018"})
    assert isinstance(CircuitOpen("x"), StoreUnavailable)


def test_spooled_rows_replay_exactly_once_even_after_a_crash_mid_replay(db, make_store, tmp_path):
    spool = tmp_path / "spool"
    down = make_store({"main": DEAD}, migrate=False, breaker_failures=1, breaker_cooldown=60, spool=spool)
    for i in range(20):
        assert down.write("survey_answer", answer(i), key=f"call-{i}") == "spooled"
    down.close()                                  # the process "dies" with 20 rows spooled
    assert Outbox(spool).status()["pending"] == 20

    up = make_store({"main": db.odbc}, spool=tmp_path / "other", start=False)
    # Crash between commit and spool truncation: 7 rows made it to the DB, spool still full.
    for i in range(7):
        assert up.write("survey_answer", answer(i), key=f"call-{i}") == "written"
    restarted = make_store({"main": db.odbc}, migrate=False, spool=spool, start=False)
    report = restarted.replay_outbox()
    assert (report.replayed, report.stopped) == (20, "")
    rows = restarted.execute("SELECT idem_key FROM fsapp_survey_answers")
    assert sorted(r["idem_key"] for r in rows) == sorted(f"call-{i}" for i in range(20))
    assert restarted.outbox.status()["pending"] == 0
    assert not any(p.name.startswith("seg-") for p in os.scandir(spool / "outbox"))


def test_a_server_that_accepts_but_never_answers_costs_a_read_only_its_deadline(make_store, tmp_path):
    import socket
    import time

    import gevent
    from fsapp.store import QueryTimeout

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held = []
    acceptor = gevent.spawn(lambda: [held.append(listener.accept()) for _ in iter(int, 1)])
    odbc = f"Driver={{PostgreSQL Unicode}};Server=127.0.0.1;Port={listener.getsockname()[1]};Database=x;Uid=x;Pwd=x"
    store = make_store({"main": {"odbc": odbc, "connect_timeout": 1, "query_timeout": 1}}, migrate=False,
                       spool=tmp_path / "spool")
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            store.query("fsapp.ticket_status", {"serial": "00000018"})
        assert time.monotonic() - started < 5        # deadline 1 + 1 + 0.5 s, generous margin
        assert store.write("survey_answer", answer(1), key="hung-1") == "spooled"
    finally:
        acceptor.kill()
        for conn, _ in held:
            conn.close()
        listener.close()


def test_replay_resumes_from_the_last_whole_progress_record(tmp_path):
    """The progress file's last line may be torn or point inside a row: the last whole,
    plausible offset wins, and at worst the replay starts at the top (idempotent)."""
    box = Outbox(tmp_path)
    for i in range(4):
        box.append("survey_answer", f"k{i}", answer(i))
    box.seal()
    seg = box.segments()[0]
    lines = seg.read_bytes().splitlines(keepends=True)
    after_two = len(lines[0]) + len(lines[1])
    progress = seg.with_suffix(".progress")
    progress.write_bytes(b"%016x\n%016x\n00000000000" % (len(lines[0]), after_two))   # torn tail
    assert box.status()["pending"] == 2
    applied = []
    assert box.replay(lambda r: applied.append(r.key)).replayed == 2
    assert applied == ["k2", "k3"] and not progress.exists()

    for i in range(2):
        box.append("survey_answer", f"m{i}", answer(i))
    box.seal()
    seg = box.segments()[0]
    seg.with_suffix(".progress").write_bytes(b"%016x\n" % 3)     # mid-row: not plausible
    applied.clear()
    box.replay(lambda r: applied.append(r.key))
    assert applied == ["m0", "m1"]


def test_write_many_with_the_database_down_spools_every_row_in_one_append(db, make_store, tmp_path):
    down = make_store({"main": {"odbc": DEAD, "connect_timeout": 2}}, migrate=False, breaker_failures=1,
                      breaker_cooldown=60, spool=tmp_path / "spool")
    rows = [("survey_answer", answer(i), f"call-{i}") for i in range(5)]
    assert down.write_many(rows) == ["spooled"] * 5
    assert down.outbox.status()["pending"] == 5
    down.close()
    up = make_store({"main": db.odbc}, migrate=True, spool=tmp_path / "spool", start=False)
    assert up.replay_outbox().replayed == 5
    assert up.execute("SELECT COUNT(*) AS n FROM fsapp_survey_answers")[0]["n"] == 5

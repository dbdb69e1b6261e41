"""pyodbc never runs on the gevent hub: a slow query does not hold up other calls."""
import gevent
import pytest


@pytest.mark.postgres
def test_fifty_calls_progress_while_one_waits_on_a_slow_query(pg_database, make_store):
    """The slow query waits on a PostgreSQL advisory lock the test holds, not on a clock:
    it is still waiting when all 50 scripted calls have finished (were pyodbc on the hub,
    the hub would be stuck in it and no call would finish), and it returns once the test
    lets go of the lock. Nothing here depends on how fast the machine is."""
    import pyodbc
    store = make_store({"main": {"odbc": pg_database, "pool_size": 6}}, migrate=False, threads=8)
    store.execute("SELECT 1")                     # warm one connection
    holder = pyodbc.connect(pg_database, autocommit=True, timeout=10)
    holder.cursor().execute("SELECT pg_advisory_lock(4242)").fetchall()
    finished = []                                  # calls, in the order they ended

    def slow_call():
        # timeout: only so that a broken (hub-blocking) store fails the test instead of hanging it
        store.execute("SELECT pg_advisory_lock(4242)", timeout=120)
        return list(finished)                      # the calls that had ended when it returned

    def scripted_call(i):
        # 10 steps of "play a prompt" with a fast query at every other step.
        for step in range(10):
            gevent.sleep(0.02)
            if step % 2 == 0:
                assert store.execute("SELECT CAST(? AS INTEGER) AS n", (i,)) == [{"n": i}]
        finished.append(i)

    try:
        slow = gevent.spawn(slow_call)
        with gevent.Timeout(120, AssertionError("the slow query never reached the lock")):
            while not holder.cursor().execute("SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' "
                                              "AND NOT granted AND objid = 4242 AND database = "
                                              "(SELECT oid FROM pg_database WHERE datname = current_database())").fetchone()[0]:
                gevent.sleep(0.02)                 # the slow query is waiting in PostgreSQL now
        calls = [gevent.spawn(scripted_call, i) for i in range(50)]
        gevent.joinall(calls, timeout=120, raise_error=True)
        assert sorted(finished) == list(range(50))
        assert not slow.ready(), "the slow query returned before it was let go"
    finally:
        holder.cursor().execute("SELECT pg_advisory_unlock(4242)").fetchall()
        holder.close()
    assert sorted(slow.get(timeout=120)) == list(range(50))   # all ended while it waited


def test_callers_waiting_for_a_pooled_connection_are_served_in_turn(sqlite_odbc, make_store):
    """One connection, 30 callers: each release wakes the next waiter (first come, first
    served), and a waiter killed while it waits (a caller hung up) takes no turn away."""
    store = make_store({"main": {"odbc": sqlite_odbc, "pool_size": 1}}, migrate=False, start=False)
    store.execute("SELECT 1")                        # the one connection, open ...
    pool = store.pools["main"]
    with gevent.Timeout(60, AssertionError("the connection never came back to the pool")):
        while pool.stats()["idle"] != 1:             # ... and back (a hub callback returns it)
            gevent.sleep(0.01)
    done = []

    def query(i):
        assert store.execute("SELECT CAST(? AS INTEGER) AS n", (i,)) == [{"n": i}]
        done.append(i)

    callers = [gevent.spawn(query, i) for i in range(30)]
    gevent.sleep(0)                                  # all started: one runs, 29 wait in turn
    assert len(pool._waiters) == 29
    callers[5].kill()                                # hung up while waiting
    gevent.joinall(callers, timeout=60)
    assert done == [i for i in range(30) if i != 5]
    assert not pool._waiters and pool.stats() == {"open": 1, "idle": 1, "size": 1}


def _cursors_in(exc: BaseException) -> list[str]:
    """Names of frame locals holding a pyodbc cursor anywhere in exc's traceback chain."""
    import pyodbc
    found, todo, seen = [], [exc], set()
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        tb = e.__traceback__
        while tb is not None:
            found += [f"{tb.tb_frame.f_code.co_name}.{name}" for name, value in tb.tb_frame.f_locals.items()
                      if isinstance(value, pyodbc.Cursor)]
            tb = tb.tb_next
        todo += [e.__cause__, e.__context__]
    return found


def test_an_error_from_a_worker_thread_brings_no_cursor_to_the_hub(tmp_path, make_store):
    """A cursor must be freed in the worker thread that used it, while its connection is
    still checked out. An exception carried to the hub keeps its frames, and with them
    their cursors, until whenever the hub drops it; pyodbc freeing such a cursor while
    another thread closed its connection left "The cursor's connection was closed" set,
    and it surfaced in an unrelated greenlet (a loaded test run, once)."""
    store = make_store({"main": f"Driver={{SQLite3}};Database={tmp_path / 'x.db'}"}, migrate=False)

    def work(conn, _timeout):
        cur = conn.raw.cursor()
        cur.execute("SELECT no_such_column FROM no_such_table")

    with pytest.raises(Exception) as caught:
        store.run(work)
    assert _cursors_in(caught.value) == []

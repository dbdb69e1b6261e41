"""Connection.wait: every wait on the switch keeps its deadline; the timers are reused."""
from __future__ import annotations

import socket
import time

import gevent
import pytest
from gevent.event import AsyncResult

from fsapp.esl.connection import Connection


@pytest.fixture
def conn():
    ours, theirs = socket.socketpair()
    connection = Connection(ours, name="test")
    yield connection
    ours.close()
    theirs.close()


def test_a_value_comes_back_and_the_timer_is_kept_for_the_next_wait(conn):
    first = AsyncResult()
    gevent.spawn_later(0.01, first.set, "one")
    assert conn.wait(first, 5.0) == "one"
    timer = conn._timers[5.0]
    assert not timer.pending
    second = AsyncResult()
    gevent.spawn_later(0.01, second.set, "two")
    assert conn.wait(second, 5.0) == "two" and conn._timers[5.0] is timer   # the same one again
    assert not timer.pending


def test_the_deadline_still_passes_and_a_timer_that_fired_is_not_kept(conn):
    kept = AsyncResult()
    gevent.spawn_later(0.01, kept.set, 1)
    conn.wait(kept, 0.2)
    started = time.monotonic()
    with pytest.raises(gevent.Timeout):
        conn.wait(AsyncResult(), 0.2)
    assert 0.15 <= time.monotonic() - started < 2.0
    assert 0.2 not in conn._timers            # the fired timer was closed, not kept
    late = AsyncResult()
    gevent.spawn_later(0.05, late.set, "late")
    assert conn.wait(late, 0.2) == "late"     # a new timer, and the deadline still holds
    with pytest.raises(gevent.Timeout):
        conn.wait(AsyncResult(), 0.1)


def test_an_exception_set_on_the_result_is_raised_and_leaves_no_timer_running(conn):
    failed = AsyncResult()
    gevent.spawn_later(0.01, failed.set_exception, ValueError("gone"))
    with pytest.raises(ValueError):
        conn.wait(failed, 5.0)
    assert 5.0 not in conn._timers
    gevent.sleep(0.05)   # nothing fires into this greenlet later


def test_two_greenlets_wait_with_the_same_length_at_once(conn):
    a, b = AsyncResult(), AsyncResult()
    waits = [gevent.spawn(conn.wait, a, 0.3), gevent.spawn(conn.wait, b, 0.3)]
    gevent.sleep(0.01)
    a.set("a")
    gevent.sleep(0.01)
    assert waits[0].get() == "a" and not waits[1].ready()
    gevent.sleep(0.4)       # b's own deadline passes although a's timer was put back
    with pytest.raises(gevent.Timeout):
        waits[1].get()


def test_no_deadline_and_a_ready_result_start_no_timer(conn):
    ready = AsyncResult()
    ready.set(3)
    assert conn.wait(ready, 5.0) == 3 and conn._timers == {}
    later = AsyncResult()
    gevent.spawn_later(0.01, later.set, 4)
    assert conn.wait(later, None) == 4 and conn._timers == {}


def test_a_frame_the_kernel_takes_in_part_is_finished_by_sendall():
    class Partial:
        def __init__(self):
            self.writes = []

        def setsockopt(self, *args):
            pass

        def send(self, data):
            self.writes.append(("send", bytes(data[:3])))
            return 3

        def sendall(self, data):
            self.writes.append(("sendall", bytes(data)))
    sock = Partial()
    Connection(sock).write(b"api status\n\n")
    assert sock.writes == [("send", b"api"), ("sendall", b" status\n\n")]


def test_a_frame_larger_than_the_socket_buffer_arrives_whole():
    ours, theirs = socket.socketpair()
    try:
        data = b"x" * (8 << 20)
        got = bytearray()

        def drain():
            while len(got) < len(data):
                got.extend(theirs.recv(1 << 20))
        reader = gevent.spawn(drain)
        Connection(ours).write(data)
        reader.join(timeout=10)
        assert bytes(got) == data
    finally:
        ours.close()
        theirs.close()

"""One Event Socket TCP connection on gevent: the driver of fsapp.esl.session.CommandSession.

A reader greenlet reads the socket, feeds the session, and wakes the waiter of each reply
it pairs (the reply FIFO rule lives in the session, observation 13); `send()` writes what
the session returns and waits with a deadline. A command whose deadline passed keeps its
place in the FIFO, so the late reply is handed to its abandoned waiter, not the next one.

fsapp's own runtime, not a greenswitch ESLProtocol: docs/esl.md, "fsapp's runtime replaces
greenswitch", says why, with figures.
"""
from __future__ import annotations

import socket
import time
from typing import Callable

import gevent
from gevent.event import AsyncResult, Event as GEvent
from gevent.lock import Semaphore

from fsapp.esl.errors import CommandTimeout, ConnectionLost
from fsapp.esl.session import CommandSession, command_frame
from fsapp.esl.wire import DEFAULT_MAX_FRAME_BYTES, Message, ProtocolError
from fsapp.log import get_logger

log = get_logger("fsapp.esl")

READ_SIZE = 65536

# fn(first line of the command, seconds from send to reply) for every answered command:
# how fsapp.live measures round trips without the ESL package knowing about metrics
ROUND_TRIP_OBSERVERS: list[Callable[[str, float], None]] = []


class Connection:
    """`send()` a framed command and get its reply; every other message goes to
    `on_message(msg)`, called in the reader greenlet (it must not block)."""

    def __init__(self, sock, name: str = "esl", on_message: Callable[[Message], None] | None = None,
                 on_close: Callable[[str], None] | None = None,
                 max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES):
        self.sock = sock
        self._reader: gevent.Greenlet | None = None
        self.name = name
        self.on_message = on_message
        self.on_close = on_close
        self._early: list[Message] = []  # messages that came before on_message was set
        self.session = CommandSession(max_frame_bytes, now=time.monotonic())
        self._timers: dict[float, gevent.Timeout] = {}   # idle deadline timers by length (wait)
        self._send_lock = Semaphore()
        self._closed = GEvent()
        self.close_reason: str | None = None
        try:  # commands and events are small: do not let Nagle hold them back
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):
            pass

    # -- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        # One reader greenlet; messages are dispatched inline from it.
        self._reader = gevent.spawn(self._read_loop)

    def wait_closed(self, timeout: float | None = None) -> bool:
        return self._closed.wait(timeout)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    @property
    def last_received(self) -> float:
        """time.monotonic() of the last bytes read."""
        return self.session.last_received

    @property
    def connected(self) -> bool:
        return not self._closed.is_set()

    def close(self, reason: str = "closed by fsapp") -> None:
        self._shutdown(reason)
        reader = self._reader
        if reader is not None and reader is not gevent.getcurrent():
            reader.kill(block=True, timeout=1)

    def _shutdown(self, reason: str) -> None:
        if self._closed.is_set():
            return
        self.close_reason = reason
        try:
            self.sock.close()
        except OSError:
            pass
        for result in self.session.close():
            if not result.ready():
                result.set_exception(ConnectionLost(f"{self.name}: {reason}"))
        self._closed.set()
        if self.on_close is not None:
            try:
                self.on_close(reason)
            except Exception:  # a broken callback must not kill the reader's clean-up
                log.exception("on_close callback failed", extra={"conn": self.name})

    # -- reading ---------------------------------------------------------------------
    def _read_loop(self) -> None:
        reason = "connection closed by peer"
        session, recv = self.session, self.sock.recv
        try:
            while True:
                data = recv(READ_SIZE)
                if not data:
                    break
                out = session.receive_data(data, time.monotonic())
                for waiter, message in out:
                    if waiter is not None:
                        waiter.set(message)
                    elif self.on_message is not None:
                        self.on_message(message)
                    else:
                        self._early.append(message)
                # Do not hold the last chunk nor the last message (an event can be 6 kB)
                # while blocked in the next recv(): with 1,000 idle calls that adds up.
                data = out = waiter = message = None
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
            log.error("protocol error, closing", extra={"conn": self.name, "error": str(exc)})
        except OSError as exc:
            reason = f"socket error: {exc}"
        except gevent.GreenletExit:
            reason = self.close_reason or "reader stopped"
        finally:
            self._shutdown(reason)

    def set_handlers(self, on_message: Callable[[Message], None],
                     on_close: Callable[[str], None] | None = None) -> None:
        """Install the owner's callbacks; messages and a close that came earlier (between
        a reply and this call) are delivered now, in order."""
        self.on_message, self.on_close = on_message, on_close
        early, self._early = self._early, []
        for message in early:
            on_message(message)
        if self._closed.is_set() and on_close is not None:
            on_close(self.close_reason or "closed")

    # -- waiting ---------------------------------------------------------------------
    def wait(self, result: AsyncResult, timeout: float | None):
        """`result.get(timeout=timeout)`: the value, or gevent.Timeout raised when the
        deadline passes first (None: no deadline). Same deadline, same exception; but
        the timer of a wait is kept for this connection's next wait of the same length
        (gevent.Timeout.cancel() leaves it startable again) instead of a new one each
        time: creating, starting and closing a gevent Timeout per wait (a libev timer
        each) cost several times a reused one's start and cancel, and a call waits
        twice for most commands it sends (reply, completion; bench/hotline_load.py)."""
        if timeout is None or result.ready():
            return result.get()
        timer = self._timers.pop(timeout, None) or gevent.Timeout(timeout)
        timer.start()
        try:
            value = result.get()
        except BaseException:   # the deadline (this timer, raised), a failed result, a kill:
            timer.close()       # only a timer that never fired nor was raised is kept
            raise
        timer.cancel()
        # a few lengths per connection (command_timeout, app_timeout, a question's); a wait
        # in another greenlet meanwhile has made its own
        if len(self._timers) < 4:
            self._timers[timeout] = timer
        return value

    # -- writing ---------------------------------------------------------------------
    def _sendall(self, data: bytes) -> None:
        """sock.sendall(data), for frames that almost always fit the socket's buffer at
        once: gevent's sendall asks the kernel for SO_SNDBUF (a getsockopt system call)
        and slices a memoryview on every call before its first send (py-spy of
        bench/hotline_load.py); one send() writes the whole frame as a rule, and
        sendall goes on with whatever the kernel did not take."""
        sent = self.sock.send(data)
        if sent < len(data):
            self.sock.sendall(data[sent:])

    def write(self, data: bytes) -> None:
        """Send bytes that expect no reply (none in ESL but for tests)."""
        with self._send_lock:
            self._sendall(data)

    def send_pipelined(self, frames: list[bytes], timeout: float | None = 10.0) -> list[Message]:
        """Write several framed commands in one write and return their replies in order:
        one round trip instead of len(frames). Only for commands that do not depend on
        each other's replies (FreeSWITCH answers them in order, observation 13)."""
        if self._closed.is_set():
            raise ConnectionLost(f"{self.name}: {self.close_reason}")
        results = [AsyncResult() for _ in frames]
        with self._send_lock:
            try:
                self._sendall(self.session.send_many(frames, results))
            except OSError as exc:
                self._shutdown(f"socket error: {exc}")
                raise ConnectionLost(f"{self.name}: {exc}") from None
        deadline = None if timeout is None else time.monotonic() + timeout
        replies = []
        for data, result in zip(frames, results):
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                replies.append(result.get(timeout=left))
            except gevent.Timeout:
                label = data.split(b"\n", 1)[0].decode("utf-8", "replace")
                raise CommandTimeout(f"{self.name}: reply to {label!r}", timeout) from None
        return replies

    def send(self, data: bytes | str, timeout: float | None = 10.0, what: str | None = None) -> Message:
        """Send one framed command (bytes from wire.encode_*, or a str command line
        such as "api status") and return its reply Message."""
        data = command_frame(data)
        if self._closed.is_set():
            raise ConnectionLost(f"{self.name}: {self.close_reason}")
        result = AsyncResult()
        sent_at = time.monotonic()
        with self._send_lock:  # FIFO order == byte order on the wire
            try:
                self._sendall(self.session.send(data, result))
            except OSError as exc:
                self._shutdown(f"socket error: {exc}")
                raise ConnectionLost(f"{self.name}: {exc}") from None
        try:
            reply = self.wait(result, timeout)
        except gevent.Timeout:
            label = what or data.split(b"\n", 1)[0].decode("utf-8", "replace")
            raise CommandTimeout(f"{self.name}: reply to {label!r}", timeout) from None
        if ROUND_TRIP_OBSERVERS:
            elapsed = time.monotonic() - sent_at
            first_line = data.split(b"\n", 1)[0].decode("utf-8", "replace")
            for observe in ROUND_TRIP_OBSERVERS:
                observe(first_line, elapsed)
        return reply

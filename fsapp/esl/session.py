"""The command/reply rule of one Event Socket connection, without I/O (sans-IO, as h11
does for HTTP): bytes in, messages paired with the command they answer out.

Layering (docs/esl.md, "Layers"): wire.py frames bytes into messages; this module and
call_session.py / inbound_session.py hold the session rules; connection.py, call.py,
outbound.py and inbound.py are the gevent drivers that own sockets, greenlets and
deadlines. Nothing here reads a socket, a clock (the time is passed in) or imports gevent.

Correlation (captures, observation 13): the reply to a command is the next command/reply
or api/response on the same connection, whatever events come between, so pending replies
are a FIFO. A command whose deadline passed keeps its place (its waiter is handed back
as usual; the driver ignores it) so a late reply cannot be handed to the next command.
"""
from __future__ import annotations

from collections import deque

from fsapp.esl.wire import API_RESPONSE, COMMAND_REPLY, DEFAULT_MAX_FRAME_BYTES, Message, Parser

REPLY_TYPES = (COMMAND_REPLY, API_RESPONSE)


def command_frame(command: bytes | str) -> bytes:
    """A command line (`api status`) as the bytes of one frame; bytes pass unchanged."""
    return command if isinstance(command, bytes) else (command + "\n\n").encode("utf-8")


class CommandSession:
    """Framing plus the reply FIFO. `waiter` is whatever the driver wants back with the
    reply (an AsyncResult on gevent, a number in a test); the session never touches it.

        data = session.send(frame, waiter)          # write `data`, in the same order
        for waiter, message in session.receive_data(chunk, now):
            waiter is None -> not a reply (an event, a notice): the owner's
            otherwise      -> the reply to the command sent with that waiter
        session.close() -> waiters still owed a reply (the driver fails them)
    """

    __slots__ = ("parser", "_pending", "last_received")

    def __init__(self, max_frame_bytes: int = DEFAULT_MAX_FRAME_BYTES, now: float = 0.0):
        self.parser = Parser(max_frame_bytes)
        self._pending: deque = deque()
        self.last_received = now

    def send(self, frame: bytes | str, waiter) -> bytes:
        """The bytes to write for one command whose reply goes to `waiter`. Writes must
        go out in the order of these calls (FIFO order is wire order)."""
        self._pending.append(waiter)
        return command_frame(frame)

    def send_many(self, frames: list[bytes], waiters: list) -> bytes:
        """Several commands in one write (FreeSWITCH answers them in order, 13)."""
        if len(frames) != len(waiters):
            raise ValueError("one waiter per frame")
        self._pending.extend(waiters)
        return b"".join(frames)

    def receive_data(self, data: bytes, now: float) -> list[tuple[object, Message]]:
        """Feed bytes as recv() returned them; (waiter or None, message) per complete
        message, in wire order. Raises wire.ProtocolError on bytes that are not ESL."""
        self.last_received = now
        pending = self._pending
        out = []
        for message in self.parser.feed(data):
            if pending and message.content_type in REPLY_TYPES:
                out.append((pending.popleft(), message))
            else:
                out.append((None, message))
        return out

    def silent_for(self, now: float) -> float:
        """Seconds since the last bytes arrived (the heartbeat watchdog's measure)."""
        return now - self.last_received

    @property
    def pending(self) -> int:
        return len(self._pending)

    def close(self) -> list:
        """The connection is gone: the waiters still owed a reply, oldest first."""
        pending, self._pending = list(self._pending), deque()
        return pending

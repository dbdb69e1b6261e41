"""A tiny raw ESL client for the emulator's tests (independent of fsapp.esl on purpose:
the tests check the bytes the emulator writes, not another package's parser)."""
from __future__ import annotations

import json
import socket
import time
from urllib.parse import unquote

from gevent.server import StreamServer
from gevent.queue import Queue, Empty
import gevent


class Msg:
    def __init__(self, raw: bytes, headers: list[tuple[str, str]], body: str):
        self.raw = raw
        self.headers = headers
        self.body = body

    @property
    def h(self) -> dict:
        return dict(self.headers)

    @property
    def content_type(self) -> str:
        return self.h.get("Content-Type", "")

    @property
    def event(self) -> dict | None:
        """Event headers (decoded) for text/event-plain|json, else None."""
        if self.content_type == "text/event-plain":
            head = self.body.split("\n\n", 1)[0]
            out = {}
            for line in head.split("\n"):
                if ": " in line:
                    k, v = line.split(": ", 1)
                    out.setdefault(k, unquote(v))
            return out
        if self.content_type == "text/event-json":
            return json.loads(self.body)
        return None

    @property
    def event_header_names(self) -> list[str]:
        if self.content_type == "text/event-plain":
            return [l.split(": ", 1)[0] for l in self.body.split("\n\n", 1)[0].split("\n") if ": " in l]
        if self.content_type == "text/event-json":
            # every key, repeated ones too (FreeSWITCH repeats "Hangup-Cause")
            return json.loads(self.body, object_pairs_hook=lambda pairs: [k for k, _ in pairs])
        return []

    def __repr__(self):
        ev = self.event
        if ev:
            return f"<Event {ev.get('Event-Name')} {ev.get('Application', '')}>"
        return f"<{self.content_type} {self.h.get('Reply-Text', self.body[:60])!r}>"


def parse_frames(sock):
    buf = b""
    while True:
        while b"\n\n" not in buf:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        head, buf = buf.split(b"\n\n", 1)
        headers = []
        for line in head.decode().split("\n"):
            k, _, v = line.partition(": ")
            headers.append((k, v))
        length = int(dict(headers).get("Content-Length", "0"))
        while len(buf) < length:
            data = sock.recv(65536)
            if not data:
                return
            buf += data
        body, buf = buf[:length], buf[length:]
        yield Msg(head + b"\n\n" + body, headers, body.decode())


class Conn:
    """One ESL connection; frames arrive in a queue so tests can wait with deadlines."""

    def __init__(self, sock):
        self.sock = sock
        self.q: Queue = Queue()
        self.closed = False
        self._reader = gevent.spawn(self._read)

    @classmethod
    def connect(cls, port: int, host="127.0.0.1"):
        sock = socket.create_connection((host, port), timeout=5)
        sock.settimeout(None)  # reads wait in the reader greenlet; deadlines are on the queue
        return cls(sock)

    def _read(self):
        try:
            for m in parse_frames(self.sock):
                self.q.put(m)
        except OSError:
            pass
        self.closed = True
        self.q.put(None)

    def send(self, text: str) -> None:
        self.sock.sendall(text.encode())

    def next(self, timeout=5.0) -> Msg | None:
        try:
            return self.q.get(timeout=timeout)
        except Empty:
            raise AssertionError(f"no message within {timeout}s") from None

    def cmd(self, text: str, timeout=5.0) -> Msg:
        """Send a command and return its reply (command/reply or api/response), skipping events."""
        self.send(text.rstrip("\n") + "\n\n")
        return self.until(lambda m: m.content_type in ("command/reply", "api/response"), timeout)

    def until(self, pred, timeout=10.0) -> Msg:
        deadline = time.monotonic() + timeout
        while True:
            m = self.next(max(0.01, deadline - time.monotonic()))
            if m is None:
                raise AssertionError("connection closed while waiting")
            if pred(m):
                return m

    def wait_event(self, name: str, timeout=10.0, **match) -> Msg:
        def ok(m):
            ev = m.event
            return ev is not None and ev.get("Event-Name") == name and all(ev.get(k) == v for k, v in match.items())
        return self.until(ok, timeout)

    def execute(self, app: str, arg: str = "", uuid: str = "", lock=True, app_uuid=None, timeout=30.0) -> dict:
        import uuid as uuidlib
        app_uuid = app_uuid or str(uuidlib.uuid4())
        text = f"sendmsg {uuid}\ncall-command: execute\nexecute-app-name: {app}\n"
        if arg:
            text += f"execute-app-arg: {arg}\n"
        if lock:
            text += "event-lock: true\n"
        text += f"Event-UUID: {app_uuid}\n"
        r = self.cmd(text)
        assert r.h["Reply-Text"] == "+OK", r.h
        return self.wait_event("CHANNEL_EXECUTE_COMPLETE", timeout, **{"Application-UUID": app_uuid}).event

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class OutboundServer:
    """Accepts the emulator's outbound socket connections into a queue of Conn."""

    def __init__(self):
        self.conns: Queue = Queue()
        self.server = StreamServer(("127.0.0.1", 0), self._handle)
        self.server.start()
        self.port = self.server.server_port

    def _handle(self, sock, addr):
        conn = Conn(sock)
        self.conns.put(conn)
        conn._reader.join()

    def accept(self, timeout=5.0) -> Conn:
        try:
            return self.conns.get(timeout=timeout)
        except Empty:
            raise AssertionError("emulator did not connect out") from None

    def stop(self):
        self.server.stop(timeout=1)

"""The floor of the outbound-socket approach: the issue-14 IVR driven by the leanest
client that still does it correctly (bench/real_switch.py's `lean` side).

Per call it sends exactly: `connect`, `filter Unique-ID <its uuid>` and `event plain`
of the five kinds a driver needs (in one write), three `sendmsg execute` (answer, the
tone, play_and_get_digits), each sent when the previous one's CHANNEL_EXECUTE_COMPLETE
arrived, and a `sendmsg hangup` (subscribe="myevents": `myevents` instead). No logging, no store, no flow, no parsing beyond finding
the event name and the application in the frame. What fsapp costs FreeSWITCH above this
client is what fsapp's own design costs; what this client costs above the native
dialplan is the price of the socket itself.
"""
from __future__ import annotations

import socket

from gevent.server import StreamServer


class _Frames:
    """Reads ESL frames (headers, blank line, optional Content-Length body) from a socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buf += data

    def next(self) -> tuple[bytes, bytes]:
        while (end := self.buf.find(b"\n\n")) < 0:
            self._fill()
        head = bytes(self.buf[:end])
        del self.buf[:end + 2]
        length = 0
        for line in head.split(b"\n"):
            if line.startswith(b"Content-Length:"):
                length = int(line[15:])
        while len(self.buf) < length:
            self._fill()
        body = bytes(self.buf[:length])
        del self.buf[:length]
        return head, body


def _execute(app: str, arg: str) -> bytes:
    return (f"sendmsg\ncall-command: execute\nexecute-app-name: {app}\n"
            + (f"execute-app-arg: {arg}\n" if arg else "") + "event-lock: true\n\n").encode()


# What a client subscribes to: `myevents` (every event of its channel), or a filter on
# its channel's Unique-ID and then only the events a driver needs.
SUBSCRIBE_EVENTS = "CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE CHANNEL_HANGUP CHANNEL_HANGUP_COMPLETE DTMF"


def _channel_uuid(head: bytes) -> bytes:
    for line in head.split(b"\n"):
        if line.startswith(b"Unique-ID: "):
            return line[11:]
    raise EOFError


def _ignore(what: str) -> None:
    pass


def run_call(sock: socket.socket, apps: list[tuple[str, str]], subscribe: str = "filter",
             pipelined: bool = False, mark=_ignore) -> None:
    """One call: apps[:-1] executed one after another, then the hangup (apps[-1]).
    pipelined: the first application (answer) is sent without waiting for it.
    mark(what) is called as each step is sent or arrives (bench/switch_probes.py times them)."""
    frames = _Frames(sock)
    sock.sendall(b"connect\n\n")
    head, _ = frames.next()
    if subscribe == "myevents":
        commands = [b"myevents\n\n"]
    else:
        commands = [b"filter Unique-ID " + _channel_uuid(head) + b"\n\n",
                    b"event plain " + SUBSCRIBE_EVENTS.encode() + b"\n\n"]
    sock.sendall(b"".join(commands))
    for _ in commands:
        while not frames.next()[0].startswith(b"Content-Type: command/reply"):
            pass
    mark("subscribed")
    waited = apps[:-1]
    if pipelined:
        sock.sendall(_execute(*waited[0]))
        mark(f"{waited[0][0]} sent (not waited for)")
        waited = waited[1:]
    for app, arg in waited:
        sock.sendall(_execute(app, arg))
        mark(f"{app} sent")
        want = b"\nApplication: " + app.encode() + b"\n"
        while True:
            _, body = frames.next()
            if body.startswith(b"Event-Name: CHANNEL_HANGUP"):
                return
            if body.startswith(b"Event-Name: CHANNEL_EXECUTE\n") and want in body:
                mark(f"{app} CHANNEL_EXECUTE")
            elif body.startswith(b"Event-Name: CHANNEL_EXECUTE_COMPLETE") and want in body:
                mark(f"{app} CHANNEL_EXECUTE_COMPLETE")
                break
    sock.sendall(b"sendmsg\ncall-command: hangup\nhangup-cause: NORMAL_CLEARING\n\n")
    mark("hangup sent")
    try:
        while True:
            _, body = frames.next()
            if body.startswith(b"Event-Name: CHANNEL_HANGUP\n"):
                mark("CHANNEL_HANGUP")
    except (EOFError, OSError):
        mark("socket closed")


class LeanServer:
    """An outbound server running `run_call` for every connection."""

    def __init__(self, address: tuple[str, int], apps: list[tuple[str, str]], subscribe: str = "filter"):
        self.apps, self.subscribe = apps, subscribe
        self.server = StreamServer(address, self._handle, backlog=1024)

    def _handle(self, sock, _address) -> None:
        try:
            run_call(sock, self.apps, self.subscribe)
        except (EOFError, OSError):
            pass
        finally:
            sock.close()

    def start(self) -> "LeanServer":
        self.server.start()
        return self

    @property
    def port(self) -> int:
        return self.server.server_port

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def stop(self) -> None:
        self.server.stop(timeout=2)

"""A scripted FreeSWITCH that replays the real capture transcripts over TCP.

It plays FreeSWITCH's side of one captured outbound connection against fsapp's
OutboundServer: it dials the server, and each command the app sends is matched against
the next command of the transcript (by verb and application name); then the bytes that
FreeSWITCH sent after that command in the capture are sent back, with the capture's
Event-UUIDs replaced by the app's (same length, so every Content-Length stays right).
Commands the transcript does not have get FreeSWITCH's generic answer (observations
10, 11, 21, 29). So the runtime is tested against REAL FreeSWITCH bytes.

Knobs for the failure tests:
  hangup_after=k   after the k-th matched step, send a hangup (CHANNEL_HANGUP + linger
                   notice) instead of continuing the transcript
  cut_after=k      after the k-th matched step, close TCP abruptly
  hangup_mid=k     at the k-th step, hang up instead of completing its application
  chunk=N          send everything in N-byte pieces (the app sees split reads anywhere)
  hold=APP         never send the CHANNEL_EXECUTE_COMPLETE of that application, until
                   the app sends `api uuid_break` (then it is sent, as FreeSWITCH would)
"""
from __future__ import annotations

import json
import re
import socket as stdsocket
from dataclasses import dataclass, field
from pathlib import Path

import gevent
from gevent import socket

from fsapp.esl.wire import Parser

UUID_RE = re.compile(r"Event-UUID: ([0-9a-f-]{36})")


@dataclass
class Step:
    command: str          # what the app sent in the capture
    replies: list[bytes] = field(default_factory=list)  # what FreeSWITCH sent after it
    eof_after: bool = False

    @property
    def key(self) -> tuple:
        return command_key(self.command)


def command_key(command: str) -> tuple:
    lines = command.strip("\n").split("\n")
    verb = lines[0].split(" ", 1)[0]
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return (verb, headers.get("call-command"), headers.get("execute-app-name"))


def load_steps(path: Path, conn: str = "outbound") -> list[Step]:
    steps: list[Step] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        if entry["conn"] != conn:
            continue
        if entry["dir"] == "app->fs":
            if entry.get("eof"):
                continue
            steps.append(Step(entry["raw"]))
        elif entry.get("eof"):
            if steps:
                steps[-1].eof_after = True
        elif steps:
            steps[-1].replies.append(entry["raw"].encode("utf-8"))
    return steps


def plain_event(name: str, uuid: str, **headers: str) -> bytes:
    from urllib.parse import quote
    lines = [f"Event-Name: {name}", f"Unique-ID: {uuid}"]
    lines += [f"{k.replace('_', '-') if not k.startswith('variable_') else k}: {quote(str(v), safe='/(),.-_')}"
              for k, v in headers.items()]
    body = ("\n".join(lines) + "\n\n").encode("utf-8")
    return f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n".encode() + body


def reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def api_response(body: str) -> bytes:
    raw = body.encode("utf-8")
    return f"Content-Type: api/response\nContent-Length: {len(raw)}\n\n".encode() + raw


GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def disconnect_notice(uuid: str, disposition: str = "disconnect") -> bytes:
    if disposition == "linger":
        return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
                f"Content-Disposition: linger\nChannel-Name: loopback/7000-b\nLinger-Time: 30\n"
                f"Content-Length: 0\n\n").encode()
    return (f"Content-Type: text/disconnect-notice\nControlled-Session-UUID: {uuid}\n"
            f"Content-Disposition: disconnect\nContent-Length: {len(GOODBYE)}\n\n").encode() + GOODBYE


class ReplaySwitch:
    """One emulated call: `ReplaySwitch(steps).dial(port)` returns the greenlet; after
    it ends, `.received` holds every command the app sent, in order."""

    def __init__(self, steps: list[Step], *, hangup_after: int | None = None, hangup_mid: int | None = None,
                 cut_after: int | None = None,
                 hold: str | None = None, hooks=None, uuid: str | None = None, cause: str = "NORMAL_CLEARING",
                 chunk: int | None = None):
        self.steps = steps
        self.hangup_after = hangup_after
        self.hangup_mid = hangup_mid
        self.cut_after = cut_after
        self.hold = hold
        self.chunk = chunk  # send in pieces of this many bytes (split reads anywhere)
        self.hooks = hooks or []
        self.received: list[str] = []
        self.uuid_map: dict[str, str] = {}
        self.matched = 0
        self.hung_up = False
        self.closed_by_app = False
        self.cause = cause
        self._held: list[bytes] = []
        first = steps[0].replies[0].decode() if steps and steps[0].replies else ""
        found = re.search(r"^Unique-ID: (\S+)$", first, re.M)
        self.capture_uuid = found.group(1) if found else "00000000-0000-0000-0000-000000000000"
        self.uuid = uuid or self.capture_uuid

    def dial(self, port: int, host: str = "127.0.0.1") -> gevent.Greenlet:
        return gevent.spawn(self._run, host, port)

    # -- internals ---------------------------------------------------------------------
    def _fix(self, raw: bytes) -> bytes:
        for old, new in self.uuid_map.items():
            raw = raw.replace(old.encode(), new.encode())
        return raw

    def _run(self, host: str, port: int) -> None:
        sock = socket.create_connection((host, port), timeout=30)
        sock.settimeout(30)
        sock.setsockopt(stdsocket.IPPROTO_TCP, stdsocket.TCP_NODELAY, 1)
        self.sock = sock  # for hooks that answer later
        if self.uuid != self.capture_uuid:
            self.uuid_map[self.capture_uuid] = self.uuid
        buf = b""
        try:
            while True:
                while b"\n\n" not in buf:
                    data = sock.recv(65536)
                    if not data:
                        self.closed_by_app = True
                        return
                    buf += data
                raw, buf = buf.split(b"\n\n", 1)
                command = raw.decode("utf-8") + "\n\n"
                length = re.search(r"^Content-Length: (\d+)$", command, re.M | re.I)
                if length:  # an argument sent as the body (syntax.sendmsg_execute)
                    while len(buf) < int(length.group(1)):
                        data = sock.recv(65536)
                        if not data:
                            self.closed_by_app = True
                            return
                        buf += data
                    body, buf = buf[:int(length.group(1))], buf[int(length.group(1)):]
                    command += body.decode("utf-8")
                self.received.append(command)
                if not self._answer(sock, command):
                    return
        except (OSError, stdsocket.timeout):
            return
        finally:
            sock.close()

    def _send(self, sock, chunks: list[bytes]) -> None:
        data = b"".join(chunks)
        if not self.chunk:
            if data:
                sock.sendall(data)
            return
        for i in range(0, len(data), self.chunk):
            sock.sendall(data[i:i + self.chunk])
            gevent.sleep(0)  # let the app read each piece on its own

    def _answer(self, sock, command: str) -> bool:
        for hook in self.hooks:
            out = hook(self, command)
            if out is not None:
                self._send(sock, out)
                return not command.startswith("exit")
        key = command_key(command)
        verb = key[0]
        if verb == "exit":
            self._send(sock, [reply("+OK bye"), disconnect_notice(self.uuid)])
            return False
        if verb == "api" and "uuid_break" in command:
            held, self._held = self._held, []
            self._send(sock, [api_response("+OK\n")] + held)
            return True
        index = self._find(key)
        if index is not None:
            step = self.steps[index]
            self.matched = index + 1
            mine = UUID_RE.search(command)
            theirs = UUID_RE.search(step.command)
            if mine and theirs:
                self.uuid_map[theirs.group(1)] = mine.group(1)
            replies = [self._fix(r) for r in step.replies]
            if self.hold and key[2] == self.hold:
                keep = [r for r in replies if b"CHANNEL_EXECUTE_COMPLETE" not in r[:200]]
                self._held = [r for r in replies if b"CHANNEL_EXECUTE_COMPLETE" in r[:200]]
                replies = keep
            if self.cut_after is not None and self.matched > self.cut_after:
                return False
            if self.hangup_mid is not None and self.matched == self.hangup_mid:
                replies = [r for r in replies if b"CHANNEL_EXECUTE_COMPLETE" not in r[:200]]
                self._send(sock, replies)
                return self._hangup(sock)
            self._send(sock, replies)
            if self.hangup_after is not None and self.matched == self.hangup_after:
                return self._hangup(sock)
            return not step.eof_after
        # Generic FreeSWITCH answers for commands the transcript lacks.
        if verb == "linger":
            arg = command.strip().split(" ", 1)[1:] or [""]
            self._send(sock, [reply(f"+OK will linger {arg[0]} seconds" if arg[0] else "+OK will linger")])
        elif verb == "api":
            self._send(sock, [api_response("+OK\n")])
        else:  # sendmsg during linger and anything else: +OK and nothing happens
            self._send(sock, [reply("+OK")])
        return True

    def _find(self, key: tuple) -> int | None:
        """Next transcript step with this command; captured commands the app does not
        send (e.g. the capture's refused `api status` probes) may be skipped, but never
        a captured sendmsg: the call's script must stay in order."""
        if self.hung_up:
            return None
        for index in range(self.matched, len(self.steps)):
            if self.steps[index].key == key:
                return index
            if self.steps[index].key[0] == "sendmsg":
                return None
        return None

    def _hangup(self, sock) -> bool:
        """Hang the channel up as FreeSWITCH does; False when the socket is closed too
        (no linger asked for yet: FreeSWITCH then says goodbye and closes at once)."""
        self.hung_up = True
        out = []
        if any(c.startswith("myevents") for c in self.received):
            out.append(plain_event("CHANNEL_HANGUP", self.uuid, Hangup_Cause=self.cause))
        if any(c.startswith("linger") for c in self.received):
            self._send(sock, out + [disconnect_notice(self.uuid, "linger")])
            return True
        self._send(sock, out + [disconnect_notice(self.uuid)])
        return False


def first_lines(received: list[str]) -> list[str]:
    """Each command's first line."""
    return [c.split("\n", 1)[0] for c in received]


SETUP = ["connect", "myevents", "linger 30"]


def app_arg(command: str) -> str | None:
    """The application argument of a received sendmsg: its execute-app-arg header, or
    its body (content-type text/plain)."""
    head, _, body = command.partition("\n\n")
    found = re.search(r"^execute-app-arg: (.*)$", head, re.M)
    if found:
        return found.group(1)
    return body if re.search(r"^content-type: text/plain$", head, re.M | re.I) else None


def parse_all(raw_messages: list[bytes]):
    parser = Parser()
    return parser.feed(b"".join(raw_messages))

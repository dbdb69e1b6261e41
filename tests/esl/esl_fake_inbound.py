"""A scripted FreeSWITCH inbound port (8021) for the InboundClient tests.

Replies are the byte shapes of the captures (auth/request, command/reply texts,
api/response, BACKGROUND_JOB with its nested body); it can be killed and restarted on
the same port, or made to go silent (a dead peer that keeps TCP open).
"""
from __future__ import annotations

import uuid as uuid_mod
from urllib.parse import quote

import gevent
from gevent import socket
from gevent.server import StreamServer

from esl_replay import api_response, reply

GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def event_plain(headers: dict[str, str], body: str = "") -> bytes:
    lines = [f"{k}: {quote(str(v), safe='/(),.-_')}" for k, v in headers.items()]
    raw_body = body.encode("utf-8")
    if raw_body:
        lines.append(f"Content-Length: {len(raw_body)}")
    inner = ("\n".join(lines) + "\n\n").encode("utf-8") + raw_body
    return f"Content-Length: {len(inner)}\nContent-Type: text/event-plain\n\n".encode() + inner


def notice() -> bytes:
    return f"Content-Type: text/disconnect-notice\nContent-Length: {len(GOODBYE)}\n\n".encode() + GOODBYE


class FakeInbound:
    def __init__(self, password: str = "ClueCon", port: int = 0):
        self.password = password
        self.port = port
        self.api_answers: dict[str, str] = {
            "status": "UP 0 years, 0 days\nFreeSWITCH (Version 1.10.12) is ready\n",
            "uuid_exists 00000000-0000-0000-0000-000000000000": "false",
        }
        self.originate_result: str | None = None  # e.g. "-ERR USER_BUSY\n"; None: +OK uuid
        self.commands: list[str] = []            # every command received, all connections
        self.silent = False                      # stop answering (dead peer, TCP still open)
        self.honour_job_uuid = True
        self._server: StreamServer | None = None
        self._socks: list = []

    def start(self) -> "FakeInbound":
        self._server = StreamServer(("127.0.0.1", self.port), self._handle)
        self._server.start()
        self.port = self._server.address[1]
        return self

    def stop(self) -> None:
        """Kill the server: listening socket and every connection closed."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for sock in self._socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self._socks.clear()

    def event(self, name: str, **headers) -> bytes:
        base = {"Event-Name": name, "Core-UUID": "8de44de5-06f7-46c1-a38d-3c89d3ab4396"}
        base.update({k.replace("_", "-"): v for k, v in headers.items()})
        return event_plain(base)

    def broadcast(self, raw: bytes) -> None:
        for sock in list(self._socks):
            try:
                sock.sendall(raw)
            except OSError:
                pass

    def _handle(self, sock, address) -> None:
        self._socks.append(sock)
        authed = False
        buf = b""
        try:
            sock.sendall(b"Content-Type: auth/request\n\n")
            while True:
                while b"\n\n" not in buf:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buf += data
                raw, buf = buf.split(b"\n\n", 1)
                lines = raw.decode().split("\n")
                command = lines[0]
                headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
                self.commands.append(command)
                if self.silent:
                    continue
                if not authed:
                    if command == f"auth {self.password}":
                        authed = True
                        sock.sendall(reply("+OK accepted"))
                        continue
                    sock.sendall(reply("-ERR invalid") + notice())
                    return
                out = self._answer(command, headers)
                sock.sendall(out)
                if command == "exit":
                    return
        except OSError:
            return
        finally:
            if sock in self._socks:
                self._socks.remove(sock)
            sock.close()

    def _answer(self, command: str, headers: dict) -> bytes:
        verb, _, rest = command.partition(" ")
        if verb == "exit":
            return reply("+OK bye") + notice()
        if verb == "event":
            return reply(f"+OK event listener enabled {rest.split()[0]}")
        if verb == "nixevent":
            return reply("+OK events nixed")
        if verb == "filter":
            if rest.startswith("delete"):
                parts = rest.split()
                if len(parts) < 3:
                    return reply("-ERR invalid syntax")
                return reply(f"+OK filter deleted. [{parts[1]}][{parts[2]}]")
            header, _, value = rest.partition(" ")
            return reply(f"+OK filter added. [{header}]=[{value}]")
        if verb == "api":
            return api_response(self._api(rest))
        if verb == "bgapi":
            job = headers.get("Job-UUID") if self.honour_job_uuid else None
            job = job or str(uuid_mod.uuid4())
            body = self._bg(rest)
            gevent.spawn_later(0.01, self.broadcast, event_plain(
                {"Event-Name": "BACKGROUND_JOB", "Core-UUID": "8de44de5-06f7-46c1-a38d-3c89d3ab4396",
                 "Job-UUID": job, "Job-Command": rest.split(" ", 1)[0],
                 "Job-Command-Arg": rest.split(" ", 1)[1] if " " in rest else ""}, body))
            return (f"Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job}\n"
                    f"Job-UUID: {job}\n\n").encode()
        return reply("-ERR command not found")

    def _api(self, rest: str) -> str:
        if rest in self.api_answers:
            return self.api_answers[rest]
        if rest.startswith(("uuid_kill", "uuid_bridge", "uuid_transfer", "uuid_setvar")):
            return "+OK\n"
        if rest.startswith("uuid_broadcast"):
            return "+OK Message sent\n"
        if rest.startswith("uuid_recv_dtmf"):
            uuid, digits = rest.split()[1:3]
            return f"+OK {uuid} received DTMF {digits}.\n"
        if rest.startswith("uuid_getvar"):
            return "_undef_"
        if rest == "show channels as json":
            return '{"row_count": 0}\n'
        return f"-ERR {rest.split()[0]} Command not found!\n"

    def _bg(self, rest: str) -> str:
        if rest.startswith("originate"):
            return self.originate_result or f"+OK {uuid_mod.uuid4()}\n"
        return self._api(rest)

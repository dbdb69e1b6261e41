"""Outbound Event Socket server: FreeSWITCH connects to us once per call
(dialplan `socket 127.0.0.1:8084 async full`), one greenlet runs the handler.

Session set-up, as the captures show it must be:
  connect      -> the reply's header block IS the channel data (observation 7)
  myevents     -> this channel's events, incl. CHANNEL_EXECUTE_COMPLETE and DTMF
  linger N     -> after hangup FreeSWITCH keeps the socket N s so clean-up code can run;
                  a bare `linger` would keep it open forever (observation 30)
(a socket without `full` takes no `linger`: `myevents` only there)
and at the end, whatever the handler did: the applications it queued without waiting
(Call.queue) run, then `exit`, then close.

A call over [serve] max_calls is handed back to the dialplan (the next worker, else the
fallback), not just closed: see OutboundServer._hand_back.
"""
from __future__ import annotations

import time
from typing import Callable

import gevent
import gevent.event
from gevent.server import StreamServer

from fsapp.esl import wire
from fsapp.esl.call import Call
from fsapp.esl.call_session import CONNECT, EXIT, setup_commands
from fsapp.esl.connection import Connection
from fsapp.esl.errors import CallHangup, ConnectionLost, ESLError
from fsapp.log import call_context, get_logger

log = get_logger("fsapp.esl.outbound")

Handler = Callable[[Call], object]


SOMAXCONN = "/proc/sys/net/core/somaxconn"


def effective_backlog(wanted: int, somaxconn_path: str = SOMAXCONN) -> int:
    """The listen backlog the kernel will really give: `wanted`, capped by somaxconn (Linux
    silently truncates a larger one; reading it lets the log say what holds)."""
    if wanted < 1:
        raise ValueError(f"[serve] backlog must be >= 1, got {wanted}")
    try:
        with open(somaxconn_path) as f:
            cap = int(f.read().strip())
    except (OSError, ValueError):
        return wanted
    return min(wanted, cap) if cap > 0 else wanted


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"listen address must be HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


class OutboundServer:
    """`OutboundServer(handler, "127.0.0.1:8084").serve_forever()`; `handler(call)` runs
    in its own greenlet per call. When it returns the session ends."""

    def __init__(self, handler: Handler, listen: str | tuple[str, int] = ("127.0.0.1", 8084), *,
                 linger: int = 30, app_timeout: float = 120.0, command_timeout: float = 10.0,
                 max_calls: int = 2000, event_format: str = "plain",
                 max_frame_bytes: int = wire.DEFAULT_MAX_FRAME_BYTES, backlog: int = 1024):
        if not callable(handler):
            raise TypeError(f"handler must be callable, got {handler!r}")
        if linger < 1:
            raise ValueError("linger must be >= 1 s (a bare linger never closes the socket)")
        if event_format not in ("plain", "json"):
            raise ValueError("event_format must be plain or json")
        if max_frame_bytes < 1:
            raise ValueError(f"[esl] max_frame_bytes must be >= 1, got {max_frame_bytes}")
        self.max_frame_bytes = max_frame_bytes
        self.handler = handler
        self.listen_address = parse_listen(listen) if isinstance(listen, str) else tuple(listen)
        self.linger = int(linger)
        self.app_timeout = app_timeout
        self.command_timeout = command_timeout
        self.max_calls = max_calls
        self.event_format = event_format
        self.active_calls = 0
        self.total_calls = 0
        self.refused_calls = 0
        # gevent's default backlog (128) loses calls in a burst: FreeSWITCH connects once
        # per call, and connections beyond the queue are refused (issue 14).
        self.backlog = effective_backlog(backlog)
        self._server = StreamServer(self.listen_address, self._handle, backlog=self.backlog)
        self._idle = gevent.event.Event()
        self._idle.set()

    @classmethod
    def from_config(cls, cfg, handler: Handler, listen: str | None = None) -> "OutboundServer":
        serve = cfg.section("serve")
        esl = cfg.section("esl")
        return cls(handler, listen or serve["listen"], linger=serve["linger"],
                   app_timeout=serve["app_timeout"], command_timeout=esl["command_timeout"],
                   max_calls=serve["max_calls"], max_frame_bytes=esl["max_frame_bytes"],
                   backlog=serve["backlog"])

    # -- server lifecycle ---------------------------------------------------------------
    @property
    def address(self) -> tuple[str, int]:
        return self._server.address

    @property
    def port(self) -> int:
        return self._server.address[1]

    def start(self) -> "OutboundServer":
        self._server.start()
        log.info("outbound server listening", extra={"listen": f"{self.address[0]}:{self.port}",
                                                     "backlog": self.backlog})
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self, timeout: float = 5.0, abort: gevent.event.Event | None = None) -> None:
        """Stop accepting (the listening socket closes: FreeSWITCH's next `socket` to this
        address fails and its dialplan goes on to the next worker); wait up to `timeout`
        for running calls to finish, or until `abort` is set; then end the rest."""
        self._server.close()
        if abort is None:
            self._idle.wait(timeout)
        else:
            gevent.wait([self._idle, abort], timeout=timeout, count=1)
        self._server.stop(timeout=0)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- one call --------------------------------------------------------------------------
    def _handle(self, sock, address) -> None:
        if self.active_calls >= self.max_calls:
            self.refused_calls += 1
            log.warning("refusing call: at max_calls", extra={"max_calls": self.max_calls})
            self._hand_back(sock, address, "max_calls")
            return
        self.active_calls += 1
        self._idle.clear()
        try:
            self._run_session(sock, address)
        finally:
            self.active_calls -= 1
            if self.active_calls == 0:
                self._idle.set()

    def _run_session(self, sock, address) -> None:
        conn = Connection(sock, name=f"outbound {address[0]}:{address[1]}",
                          max_frame_bytes=self.max_frame_bytes)
        conn.start()
        try:
            reply = conn.send(CONNECT, timeout=self.command_timeout, what="connect")
        except ESLError as exc:  # a port probe, or not FreeSWITCH at all
            log.info("connection closed before connect", extra={"peer": address[0], "error": str(exc)})
            conn.close()
            return
        call = Call(conn, reply.headers, app_timeout=self.app_timeout, command_timeout=self.command_timeout)
        self.total_calls += 1
        with call_context(call.uuid):
            conn.name = f"call {call.uuid}"
            conn.set_handlers(call._on_message, call._on_close)
            started = time.monotonic()
            log.info("call connected", extra={"caller": call.caller_id, "destination": call.destination,
                                              "control": reply.headers.get("Control")})
            try:
                self._setup(call, conn)
                self.handler(call)
                # `exit` would end the session with them unplayed (FreeSWITCH 1.10.12)
                call.drain()
            except CallHangup as exc:
                log.info("handler stopped by hangup", extra={"detail": str(exc)})
            except Exception:
                log.exception("handler failed")
            finally:
                self._finish(conn)
                log.info("session closed", extra={"seconds": round(time.monotonic() - started, 3)})

    def _hand_back(self, sock, address, reason: str) -> None:
        """Give a call back to FreeSWITCH's dialplan: its next action runs (the next
        worker's `socket`, else the fallback).

        Closing the socket at once is not enough on FreeSWITCH 1.10.12. Its `socket`
        application parks the channel after the connection is set up, and leaves that park
        only when the session ends while it is parked (mod_event_socket.c socket_function:
        the session's end clears CF_CONTROLLED, which switch_ivr_park waits on); a session
        that ended before the park began leaves the caller parked in silence until they
        hang up (capture outbound_refused_close: on a real switch a bare close, and a
        `connect` then close, left calls parked). A message sent with sendmsg runs inside
        that park, so its CHANNEL_EXECUTE_COMPLETE proves the park began; `exit` after it
        ends the park at once (capture outbound_refused_hand_back). The app run is `set
        fsapp_refused=<reason>`, which also tells the CDR why this worker let go."""
        conn = Connection(sock, name=f"refused {address[0]}:{address[1]}", max_frame_bytes=self.max_frame_bytes)
        conn.start()
        try:
            reply = conn.send(CONNECT, timeout=self.command_timeout, what="connect")
        except ESLError as exc:   # a port probe
            log.info("connection closed before connect", extra={"peer": address[0], "error": str(exc)})
            conn.close()
            return
        call = Call(conn, reply.headers, app_timeout=self.command_timeout, command_timeout=self.command_timeout)
        with call_context(call.uuid):
            conn.set_handlers(call._on_message, call._on_close)
            try:
                self._setup(call, conn)
                call.set("fsapp_refused", reason)
            except ESLError as exc:   # the caller hung up meanwhile, or the switch did not answer
                log.info("refused call ended before it was handed back", extra={"error": str(exc)})
            finally:
                self._finish(conn)

    def _setup(self, call: Call, conn: Connection) -> None:
        # myevents and linger do not depend on each other: one write, one round trip.
        commands = setup_commands(self.event_format, self.linger, call.full_control)
        try:
            replies = conn.send_pipelined([wire.encode_command(c) for c in commands], timeout=self.command_timeout)
        except ConnectionLost:
            call._end("socket closed")
            raise call._hangup_error() from None
        for command, reply in zip(commands, replies):
            if not reply.ok:
                raise ESLError(f"{command!r} refused: {reply.reply_text}")

    def _finish(self, conn: Connection) -> None:
        if not conn.closed:
            try:
                conn.send(EXIT, timeout=2.0, what="exit")
            except ESLError:
                pass
        conn.close("session finished")

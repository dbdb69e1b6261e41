"""Inbound Event Socket client: fsapp connects to FreeSWITCH (port 8021) to run api/bgapi
commands, originate calls and watch events.

    client = InboundClient.from_config(cfg)      # host, port, password: config or env
    client.start()                               # connects, authenticates, keeps it up
    client.subscribe("CHANNEL_HANGUP", "DTMF"); client.on("CHANNEL_HANGUP", handler)
    uuid = client.originate("loopback/7000/default", "&park", {"origination_caller_id_number": "100"})

The link is supervised: on loss (or when nothing, not even FreeSWITCH's 20-second
HEARTBEAT, arrived within heartbeat_timeout) it reconnects with capped exponential
back-off and restores the subscriptions and filters, once, on the new connection.

The gevent driver of fsapp.esl.inbound_session.InboundSession, which holds the rules
without I/O (auth, what to restore after a reconnect, bgapi Job-UUID matching); this
module connects, sends, waits with deadlines, sleeps the back-off and runs user handlers.
"""
from __future__ import annotations

import json
import random
import time
from typing import Callable

import gevent
import gevent.event
from gevent import socket
from gevent.event import AsyncResult
from gevent.queue import Queue

from fsapp.esl import syntax, wire
from fsapp.esl.connection import Connection
from fsapp.esl.errors import (AuthError, CommandError, CommandTimeout, ConnectionLost, ESLError,
                              NotConnected, OriginateError)
from fsapp.esl.inbound_session import InboundSession, checked, reconnect_delay
from fsapp.esl.wire import Event, Message
from fsapp.log import get_logger

log = get_logger("fsapp.esl.inbound")

EventHandler = Callable[[Event], object]


class InboundClient:
    def __init__(self, host: str, port: int, password: str, *, connect_timeout: float = 5.0,
                 command_timeout: float = 10.0, heartbeat_timeout: float = 60.0,
                 reconnect_max_delay: float = 30.0, reconnect_base_delay: float = 0.1,
                 event_format: str = "plain", max_frame_bytes: int = wire.DEFAULT_MAX_FRAME_BYTES):
        if not password:
            raise ValueError("InboundClient needs the event-socket password: set [esl] password "
                             "in the config file or FSAPP_ESL_PASSWORD")
        if event_format not in ("plain", "json"):
            raise ValueError("event_format must be plain or json")
        if max_frame_bytes < 1:
            raise ValueError(f"[esl] max_frame_bytes must be >= 1, got {max_frame_bytes}")
        self.max_frame_bytes = max_frame_bytes
        self.host, self.port = host, int(port)
        self.connect_timeout = connect_timeout
        self.command_timeout = command_timeout
        self.heartbeat_timeout = heartbeat_timeout
        self.reconnect_max_delay = reconnect_max_delay
        self.reconnect_base_delay = reconnect_base_delay
        self.connects = 0                      # successful (re)connections so far
        self._conn: Connection | None = None
        self._ready = gevent.event.Event()
        self._running = False
        self._supervisor: gevent.Greenlet | None = None
        self._dispatcher: gevent.Greenlet | None = None
        self.session = InboundSession(password, event_format)   # wanted state + bgapi jobs
        self._handlers: dict[str, list[EventHandler]] = {}
        self._queue: Queue = Queue()

    @classmethod
    def from_config(cls, cfg, **overrides) -> "InboundClient":
        esl = cfg.section("esl")
        password = cfg.require("esl", "password")
        kwargs = dict(connect_timeout=esl["connect_timeout"], command_timeout=esl["command_timeout"],
                      heartbeat_timeout=esl["heartbeat_timeout"],
                      reconnect_max_delay=esl["reconnect_max_delay"],
                      max_frame_bytes=esl["max_frame_bytes"])
        kwargs.update(overrides)
        return cls(esl["host"], esl["port"], password, **kwargs)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, wait: bool = True) -> "InboundClient":
        """Connect (first attempt errors are raised when wait=True) and keep connected."""
        if self._running:
            return self
        self._running = True
        self._dispatcher = gevent.spawn(self._dispatch_loop)
        if wait:
            try:
                self._connect_once()
            except Exception:
                self.stop()
                raise
        self._supervisor = gevent.spawn(self._supervise)
        return self

    def stop(self) -> None:
        self._running = False
        for greenlet in (self._supervisor, self._dispatcher):
            if greenlet is not None and greenlet is not gevent.getcurrent():
                greenlet.kill(block=True, timeout=2)
        conn, self._conn = self._conn, None
        self._ready.clear()
        if conn is not None:
            if not conn.closed:
                try:
                    conn.send(b"exit\n\n", timeout=1.0)
                except ESLError:
                    pass
            conn.close("client stopped")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def event_format(self) -> str:
        return self.session.event_format

    @property
    def _password(self) -> str:   # kept in the session, which builds the auth command
        return self.session._password

    def wait_connected(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    def _connect_once(self) -> None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise NotConnected(f"cannot connect to FreeSWITCH at {self.host}:{self.port} "
                               f"([esl] host/port): {exc}") from None
        sock.settimeout(None)
        auth = AsyncResult()

        def first_messages(msg: Message) -> None:
            if auth.ready():
                return
            try:
                if self.session.greeting(msg):
                    auth.set(msg)
            except AuthError as exc:
                auth.set_exception(exc)

        conn = Connection(sock, name=f"inbound {self.host}:{self.port}", on_message=first_messages,
                          max_frame_bytes=self.max_frame_bytes)
        conn.start()
        try:
            try:
                auth.get(timeout=self.connect_timeout)
            except gevent.Timeout:
                raise CommandTimeout(f"auth/request from {self.host}:{self.port}", self.connect_timeout) from None
            reply = conn.send(self.session.auth_command(), timeout=self.connect_timeout, what="auth")
            self.session.check_auth(reply, f"{self.host}:{self.port}")
            conn.on_message = self._on_message
            self._restore(conn)
        except BaseException:
            conn.close("connect failed")
            raise
        self._conn = conn
        self.connects += 1
        self._ready.set()
        log.info("connected to FreeSWITCH", extra={"host": self.host, "port": self.port,
                                                   "connects": self.connects})

    def _restore(self, conn: Connection) -> None:
        """Filters, then subscriptions, exactly once per connection (in that order:
        InboundSession.restore_commands says why)."""
        for frame, what in self.session.restore_commands():
            checked(conn.send(frame, timeout=self.command_timeout), what)

    def _supervise(self) -> None:
        attempt = 0
        while self._running:
            conn = self._conn
            if conn is not None and not conn.closed:
                # Watchdog: a peer that died silently sends nothing, not even HEARTBEAT.
                check = min(1.0, self.heartbeat_timeout / 4)
                conn.wait_closed(check)
                if not conn.closed and conn.session.silent_for(time.monotonic()) > self.heartbeat_timeout:
                    log.warning("no message within heartbeat_timeout, reconnecting",
                                extra={"heartbeat_timeout": self.heartbeat_timeout})
                    conn.close("heartbeat timeout")
                if not conn.closed:
                    continue
                self._ready.clear()
                log.warning("connection to FreeSWITCH lost", extra={"reason": conn.close_reason})
                self._fail_jobs(ConnectionLost(conn.close_reason or "connection lost"))
                attempt = 0
            if attempt:
                gevent.sleep(reconnect_delay(attempt, self.reconnect_base_delay, self.reconnect_max_delay,
                                             random.random()))
            attempt += 1
            try:
                self._connect_once()
                attempt = 0
            except AuthError as exc:
                log.error("authentication failed; retrying", extra={"error": str(exc)})
            except (OSError, ESLError) as exc:
                log.info("reconnect failed", extra={"attempt": attempt, "error": str(exc)})

    # -- events -----------------------------------------------------------------------------
    def _on_message(self, msg: Message) -> None:
        event = msg.event
        if event is None:
            if msg.content_type == wire.DISCONNECT_NOTICE and self._conn is not None:
                pass  # the close follows; the supervisor reconnects
            return
        result = self.session.receive(event)
        if result is not None:
            result.set(event)
        if self._handlers:
            self._queue.put(event)

    def _dispatch_loop(self) -> None:
        # User handlers run here, not in the reader, so they may call api() themselves.
        while True:
            event = self._queue.get()
            name = event.get("Event-Name")
            if name == "CUSTOM":
                name = event.get("Event-Subclass") or name
            for handler in self._handlers.get(name, []) + self._handlers.get("*", []):
                try:
                    handler(event)
                except Exception:
                    log.exception("event handler failed", extra={"event": name})

    def on(self, event_name: str, handler: EventHandler) -> None:
        """Call handler(event) for each such event ('*' for all, subclass name for CUSTOM)."""
        self._handlers.setdefault(event_name, []).append(handler)

    def off(self, event_name: str, handler: EventHandler) -> None:
        self._handlers.get(event_name, []).remove(handler)

    def subscribe(self, *event_names: str) -> None:
        """Add event names (`CUSTOM callcenter::info` as two words) to the subscription."""
        command = self.session.subscribe(*event_names)
        if self.connected:
            checked(self._send(command), "event")

    def unsubscribe(self, *event_names: str) -> None:
        command = self.session.unsubscribe(*event_names)
        if command and self.connected:
            checked(self._send(command), "nixevent")

    def add_filter(self, header: str, value: str) -> None:
        """Only events whose header equals value (FreeSWITCH `filter`)."""
        command = self.session.add_filter(header, value)
        if self.connected:
            checked(self._send(command), "filter")

    def delete_filter(self, header: str, value: str) -> None:
        command = self.session.delete_filter(header, value)
        if self.connected:
            checked(self._send(command), "filter delete")

    # -- commands ----------------------------------------------------------------------------
    def _send(self, command: str | bytes, timeout: float | None = None, headers: dict | None = None,
              body: str | None = None, what: str | None = None) -> Message:
        timeout = self.command_timeout if timeout is None else timeout
        if not self._ready.wait(timeout):
            raise NotConnected(f"not connected to FreeSWITCH {self.host}:{self.port} within {timeout:g} s")
        conn = self._conn
        if conn is None:
            raise NotConnected(f"not connected to FreeSWITCH {self.host}:{self.port}")
        frame = command if isinstance(command, bytes) else wire.encode_command(command, headers, body)
        return conn.send(frame, timeout=timeout, what=what or command)

    def api(self, command: str, timeout: float | None = None) -> str:
        """Run `api command`; returns the body (which may start with -ERR)."""
        return self._send(f"api {command}", timeout).body

    def api_ok(self, command: str, timeout: float | None = None) -> str:
        """Like api() but raises CommandError on an -ERR body."""
        body = self.api(command, timeout)
        if body.startswith("-ERR"):
            raise CommandError(f"api {command}", body)
        return body

    def bgapi(self, command: str, timeout: float | None = None) -> str:
        """Run `bgapi command` and wait for its BACKGROUND_JOB (correlated by Job-UUID);
        returns the job's body."""
        timeout = self.command_timeout if timeout is None else timeout
        result = AsyncResult()
        job_id, frame = self.session.start_job(command, result)
        started = time.monotonic()
        try:
            reply = checked(self._send(frame, timeout, what=f"bgapi {command}"), f"bgapi {command}")
            job_id, done = self.session.job_accepted(job_id, reply, result)
            if done is not None:
                return done.body
            left = max(0.0, timeout - (time.monotonic() - started))
            try:
                return result.get(timeout=left).body
            except gevent.Timeout:
                raise CommandTimeout(f"bgapi {command}", timeout) from None
        finally:
            self.session.forget_job(job_id)

    def _fail_jobs(self, exc: Exception) -> None:
        for result in self.session.fail_jobs():
            if not result.ready():
                result.set_exception(exc)

    def originate(self, dial_string: str, app_or_extension: str = "&park", variables: dict | None = None,
                  timeout: float = 60.0) -> str:
        """Place a call; returns the new channel's uuid, or raises OriginateError with
        FreeSWITCH's hangup cause (USER_BUSY, NO_ANSWER, DESTINATION_OUT_OF_ORDER, ...).
        `app_or_extension`: '&app(args)' or 'EXTENSION [DIALPLAN [CONTEXT]]'. Variable
        values are escaped (or refused with syntax.UnsafeValue) by fsapp.esl.syntax:
        a caller id there stays one variable of one leg."""
        merged = dict(variables or {})
        merged.setdefault("originate_timeout", int(timeout))
        command = syntax.originate_command(dial_string, app_or_extension, merged)
        body = self.bgapi(command, timeout=timeout + self.command_timeout)
        if body.startswith("+OK"):
            return body[3:].strip()
        cause = body[4:].strip() if body.startswith("-ERR") else body.strip()
        raise OriginateError(dial_string, cause or "UNKNOWN")

    def sendevent(self, event_name: str, headers: dict, body: str | None = None,
                  timeout: float | None = None) -> str:
        """Fire an event on FreeSWITCH (`sendevent`): `sendevent("CUSTOM", {"Event-Subclass":
        "fsapp::queue", "Action": "member-answered"})` reaches every connection subscribed
        with `event plain CUSTOM fsapp::queue`. FreeSWITCH adds Event-UUID and the core
        headers (Event-Name, Core-UUID, Event-Date-*, Event-Sequence ...). Returns the
        event's Event-UUID; raises CommandError on -ERR, ValueError on a CUSTOM event
        without Event-Subclass and syntax.UnsafeValue (a ValueError) on a name, header
        or value that would break the frame (line breaks, NUL: send such text as the body)."""
        name = str(event_name or "").strip()
        if not name or any(c.isspace() for c in name):
            raise ValueError(f"sendevent: event name {event_name!r} must be one word, e.g. CUSTOM")
        fields = syntax.event_headers(name, headers)
        if body is not None and "\0" in body:
            raise syntax.UnsafeValue(f"sendevent {name} body", body, "contains a NUL byte")
        if name.upper() == "CUSTOM" and not any(k.lower() == "event-subclass" for k in fields):
            raise ValueError("sendevent CUSTOM needs an Event-Subclass header (e.g. 'fsapp::queue'): "
                             "listeners subscribe to CUSTOM events by subclass")
        reply = checked(self._send(f"sendevent {name}", timeout, fields, body), f"sendevent {name}")
        return reply.reply_text[3:].strip() if reply.reply_text.startswith("+OK") else ""

    # -- helpers ------------------------------------------------------------------------------
    # -- helpers: every argument through fsapp.esl.syntax (one word each, or escaped) ----------
    def uuid_kill(self, uuid: str, cause: str = "NORMAL_CLEARING") -> None:
        self.api_ok(syntax.api_command("uuid_kill", syntax.uuid("uuid", uuid), syntax.word("cause", cause)))

    def uuid_break(self, uuid: str, what: str = "all") -> str:
        return self.api(syntax.api_command("uuid_break", syntax.uuid("uuid", uuid), syntax.word("uuid_break", what)))

    def uuid_exists(self, uuid: str) -> bool:
        return self.api(syntax.api_command("uuid_exists", syntax.uuid("uuid", uuid))).strip() == "true"

    def uuid_bridge(self, uuid: str, other_uuid: str) -> None:
        self.api_ok(syntax.api_command("uuid_bridge", syntax.uuid("uuid", uuid), syntax.uuid("other uuid", other_uuid)))

    def uuid_transfer(self, uuid: str, destination: str, dialplan: str = "XML", context: str = "default",
                      leg: str | None = None) -> None:
        legs = [leg] if leg in ("-bleg", "-both") else []
        self.api_ok(syntax.api_command("uuid_transfer", syntax.uuid("uuid", uuid), *legs,
                                       syntax.word("destination", destination), syntax.word("dialplan", dialplan),
                                       syntax.word("context", context)))

    def uuid_broadcast(self, uuid: str, path: str, leg: str = "aleg") -> None:
        self.api_ok(syntax.api_command("uuid_broadcast", syntax.uuid("uuid", uuid), syntax.word("path", path),
                                       syntax.word("leg", leg)))

    def uuid_recv_dtmf(self, uuid: str, digits: str) -> None:
        self.api_ok(syntax.api_command("uuid_recv_dtmf", syntax.uuid("uuid", uuid), syntax.word("digits", digits)))

    def uuid_setvar(self, uuid: str, name: str, value) -> None:
        """Set a variable to exactly `value` (escaped for uuid_setvar's space split)."""
        self.api_ok(syntax.api_command("uuid_setvar", syntax.uuid("uuid", uuid), syntax.name("variable name", name),
                                       "" if value is None else value))

    def uuid_getvar(self, uuid: str, name: str) -> str | None:
        value = self.api_ok(syntax.api_command("uuid_getvar", syntax.uuid("uuid", uuid),
                                               syntax.name("variable name", name)))
        return None if value in ("_undef_", "") else value

    def show_channels(self) -> list[dict]:
        body = self.api_ok("show channels as json")
        try:
            data = json.loads(body)
        except ValueError:
            raise CommandError("show channels as json", f"not JSON: {body[:80]!r}") from None
        return data.get("rows", []) if data.get("row_count") else []

"""The `socket` application: FreeSWITCH connecting out to fsapp (`socket host:port async full`).

The session runs on the channel that executes `socket` (the loopback b-leg). Its
reader greenlet answers commands; `sendmsg` queues messages that the channel's own
greenlet executes from its park loop (or nested inside a running app without
event-lock), like mod_event_socket in async mode.
"""
from __future__ import annotations

import logging
from gevent import socket

import gevent

from .. import wire
from ..commands import event_commands, run_api, run_bgapi, sendmsg
from ..listener import MYEVENTS, Listener
from ..registry import application
from ..sendevent import run_sendevent

log = logging.getLogger("fsapp.sim")

CONNECT_TIMEOUT_S = 5.0
# Commands a not-full (single-channel) session may use; everything else: -ERR command not
# found. mod_event_socket.c's parse_command handles these before its "outbound and not
# full" check; checked on FreeSWITCH 1.10.12: `event`, `linger`, `nolinger` answer -ERR.
SINGLE_CHANNEL_OK = {"connect", "exit", "filter", "resume", "myevents", "getvar", "divert_events", "sendmsg"}


@application("socket")
def run_socket_app(ch, arg: str) -> None:
    parts = arg.split()
    if not parts or ":" not in parts[0]:
        log.warning("sim: socket app needs host:port, got %r", arg)
        return
    host, _, port = parts[0].rpartition(":")
    full = "full" in parts[1:]
    ch.set_var("socket_host", host)
    try:
        sock = socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S)
        sock.settimeout(None)
    except (OSError, ValueError) as exc:
        log.warning("sim: socket app could not connect to %s: %s", parts[0], exc)
        return
    session = OutboundSession(ch.services, sock, ch, full)
    ch.sessions.append(session)
    gevent.spawn(session.run)
    # Park once the app starts talking (the captures show CHANNEL_PARK after the first
    # sendmsg reply), or at once if the call ends or the app goes away first.
    while not (session.started or ch.status.hungup or session.closed or ch.run.transfer_to):
        ch.queue.wake.clear()
        if session.started or ch.status.hungup or session.closed or ch.run.transfer_to:
            break
        ch.run.awaiting_app = True
        try:
            ch.queue.wake.wait(timeout=0.5)
        finally:
            ch.run.awaiting_app = False
    # The app went away without `connect`: FreeSWITCH's socket application waits for the
    # connect or the session's end, then parks the channel anyway, and nothing ends that
    # park (the session's end, which would, already happened): the caller waits until
    # hanging up (capture outbound_refused_close). After `connect` the park begins at once
    # (an app that sent connect, myevents, linger and exit let the call go on, 4 of 4 on
    # the real switch; connect and an immediate close raced the park).
    stranded = session.closed and not session.connected and not ch.queue.msgs
    if stranded:
        ch.run.break_out = False
    if not ch.status.hungup and not ch.run.transfer_to and (stranded or not (session.closed and not ch.queue.msgs)):
        ch.park_loop()
    ch.run.break_out = False


class OutboundSession(Listener):
    def __init__(self, services, sock, ch, full: bool):
        super().__init__(services, sock)
        self.ch = ch
        self.uuid = ch.uuid
        self.full = full
        self.linger: int | None = None   # None: no linger; -1: forever; N: seconds
        self.started = False
        self.connected = False
        self._disconnected = False

    def run(self) -> None:
        try:
            for name, rest, headers, body, first in self.commands():
                self.handle(name, rest, headers, body, first)
        except OSError:
            pass
        finally:
            self._app_gone()

    def _app_gone(self) -> None:
        self.close()
        if self in self.ch.sessions:
            self.ch.sessions.remove(self)
        if not self.ch.status.hungup:
            # The app hung up on us: leave the park loop; with nothing after `socket`
            # in the dialplan the call ends (FreeSWITCH does the same).
            self.ch.run.break_out = True
            self.ch.queue.wake.set()

    def handle(self, name: str, rest: str, headers, body, first: str = "") -> None:
        if not self.full and name not in SINGLE_CHANNEL_OK:
            self.send(wire.command_reply("-ERR command not found"))
            return
        if name == "connect":
            self.connected = True
            ev = self.services.events.new("CHANNEL_DATA", uuid=self.uuid)
            # CHANNEL_DATA starts with the caller profile under a "Channel-" prefix.
            ev.headers += self.ch._profile("Channel", True)
            ev.headers += self.ch.channel_headers()
            self.send(wire.connect_reply(ev.headers, self.full))
        elif name == "myevents":
            self.myevents_uuid = self.uuid
            self.names |= MYEVENTS
            self.format = "json" if "json" in rest.lower() else "plain"
            self.services.listen(self)
            self.send(wire.command_reply("+OK Events Enabled"))
        elif name == "linger":
            secs = rest.strip()
            if secs.lstrip("-").isdigit() and int(secs) > 0:
                self.linger = int(secs)
                self.send(wire.command_reply(f"+OK will linger {secs} seconds"))
            else:
                self.linger = -1
                self.send(wire.command_reply("+OK will linger"))
        elif name == "nolinger":
            self.linger = None
            self.send(wire.command_reply("+OK will not linger"))
        elif name == "sendmsg":
            reply = sendmsg(self, rest, headers, body, self.uuid)
            self.send(wire.command_reply(reply))
            if not self.started:
                self.started = True
                self.ch.queue.wake.set()
        elif name == "exit":
            self.send(wire.command_reply("+OK bye"))
            self._disconnect()
        elif name == "api":
            run_api(self, rest)
        elif name == "bgapi":
            run_bgapi(self, rest, headers)
        elif name == "sendevent":
            run_sendevent(self, first, rest, headers, body)
        elif name in ("resume", "divert_events"):
            self.send(wire.command_reply("+OK"))
        elif name == "getvar":
            self.send(wire.command_reply(self.ch.get_var(rest.strip(), "")))
        else:
            reply = event_commands(self, name, rest)
            self.send(wire.command_reply(reply if reply is not None else "-ERR command not found"))

    def wants(self, ev) -> bool:
        # FreeSWITCH never delivered CHANNEL_DESTROY of the session's own channel
        # (observation 30): the session is gone by then.
        if ev.name == "CHANNEL_DESTROY" and ev.uuid == self.uuid:
            return False
        return super().wants(ev)

    def _disconnect(self) -> None:
        if not self._disconnected:
            self._disconnected = True
            self.send(wire.outbound_disconnect(self.uuid))
            self.close()

    # Called from the channel (its hangup and its end), in the channel's greenlet.
    def channel_hungup(self, ch) -> None:
        if self.linger is not None and not self.closed:
            self.send(wire.linger_notice(self.uuid, ch.name, self.linger))

    def channel_destroyed(self, ch) -> None:
        if self.linger is None:
            self._disconnect()
        elif self.linger >= 0:
            gevent.spawn(self._disconnect_after, ch.clock, self.linger)

    def _disconnect_after(self, clock, seconds: float) -> None:
        clock.sleep(seconds, jump=False)
        self._disconnect()

"""What inbound connections and outbound sessions share: event subscriptions, filters,
and a writer greenlet so frames from many greenlets never interleave on the socket."""
from __future__ import annotations

import logging
import socket

import gevent
from gevent.queue import Queue

from . import wire
from .commands import split_command


log = logging.getLogger("fsapp.sim")

# mod_event_socket's `myevents` subscribes to exactly these (for the session's uuid).
MYEVENTS = {"CHANNEL_ANSWER", "CHANNEL_APPLICATION", "CHANNEL_BRIDGE", "CHANNEL_CREATE", "CHANNEL_DATA",
            "CHANNEL_DESTROY", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HANGUP",
            "CHANNEL_HANGUP_COMPLETE", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "CHANNEL_OUTGOING",
            "CHANNEL_PARK", "CHANNEL_PROGRESS", "CHANNEL_PROGRESS_MEDIA", "CHANNEL_STATE",
            "CHANNEL_UNBRIDGE", "CHANNEL_UNPARK", "DETECTED_SPEECH", "DTMF", "NOTALK", "TALK"}

_CLOSE = object()


class Listener:
    def __init__(self, services, sock):
        self.services = services   # the switch, seen through fsapp/sim/services.py
        self.sock = sock
        # mod_event_socket disables Nagle on both its listener's and the socket app's
        # connections; without it every reply waits ~40 ms for the peer's delayed ACK.
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.format: str | None = None
        self.names: set[str] = set()
        self.all_events = False
        self.subclasses: set[str] = set()
        self.custom = False            # `CUSTOM` named: subclass-less CUSTOM events too
        self.filters: list[tuple[str, str]] = []
        self.myevents_uuid: str | None = None
        self.closed = False
        self._out: Queue = Queue()
        self._writer = gevent.spawn(self._write_loop)

    # ---- output -----------------------------------------------------------------------
    def commands(self):
        """The client's commands as (name, rest, headers, body, first line), until it closes.
        Each one counts as activity for the virtual clock."""
        reader = wire.CommandReader(self.sock, self._tap)
        while not self.closed:
            cmd = reader.read()
            if cmd is None:
                return
            first, headers, body = cmd
            self.services.clock.touch()
            name, rest = split_command(first)
            yield name, rest, headers, body, first

    def _tap(self, data: bytes) -> None:
        if self.services.wire_log is not None:
            self.services.wire_log.append(data)

    def send(self, data: bytes) -> None:
        if not self.closed:
            self._out.put(data)

    def close(self) -> None:
        """Flush what is queued, then close the TCP connection."""
        if not self.closed:
            self.closed = True
            self._out.put(_CLOSE)
            self.services.unlisten(self)

    def _write_loop(self) -> None:
        try:
            while True:
                item = self._out.get()
                if item is _CLOSE:
                    break
                self.sock.sendall(item)
                self.services.clock.touch()
        except OSError:
            pass
        finally:
            self.closed = True
            self.services.unlisten(self)
            try:
                self.sock.close()
            except OSError:
                pass

    # ---- events -----------------------------------------------------------------------
    def subscribe(self, fmt: str, names: list[str]) -> str:
        fmt = fmt.lower()
        if fmt not in ("plain", "json", "xml"):
            # `event ALL` without a format means plain in FreeSWITCH
            names, fmt = [fmt] + names, "plain"
        self.format = "json" if fmt == "json" else "plain"
        custom = False
        for n in names:
            if n == "ALL":
                self.all_events = True
            elif n == "CUSTOM":
                custom = self.custom = True
            elif custom:   # FreeSWITCH reads every word after CUSTOM as a subclass
                self.subclasses.add(n)
            else:
                self.names.add(n)
        self.services.listen(self)
        return f"+OK event listener enabled {fmt}"

    def nix(self, names: list[str]) -> str:
        for n in names:
            if n == "ALL":
                self.all_events = False
                self.names.clear()
            self.names.discard(n)
            self.subclasses.discard(n)
        return "+OK events nixed"

    def noevents(self) -> str:
        self.format = None
        self.names.clear()
        self.subclasses.clear()
        self.custom = False
        self.all_events = False
        self.myevents_uuid = None
        self.services.unlisten(self)
        return "+OK no longer listening for events"

    def filter(self, args: list[str]) -> str:
        if args and args[0] == "delete":
            rest = args[1:]
            if not rest:
                return "-ERR invalid syntax"
            if rest[0] == "all":
                self.filters.clear()
                self._relisten()
                return "+OK filter deleted. [all]"
            header, value = rest[0], " ".join(rest[1:])
            self.filters = [(h, v) for h, v in self.filters if not (h == header and (not value or v == value))]
            self._relisten()
            return f"+OK filter deleted. [{header}][{value}]"
        if len(args) < 2:
            return "-ERR invalid syntax"
        header, value = args[0], " ".join(args[1:])
        self.filters.append((header, value))
        self._relisten()
        return f"+OK filter added. [{header}]=[{value}]"

    def _relisten(self) -> None:
        """A subscribed listener's filters decide which events the switch offers it
        (Switch.listen indexes Unique-ID-only filters): register it again."""
        if self.format is not None:
            self.services.listen(self)

    def wants(self, ev) -> bool:
        if self.format is None or self.closed:
            return False
        if self.myevents_uuid is not None and ev.uuid != self.myevents_uuid:
            return False
        if ev.name == "CUSTOM":
            # mod_event_socket: CUSTOM with a subclass only if that subclass was named;
            # one without a subclass to anyone subscribed to CUSTOM
            if not (self.all_events or ev.subclass in self.subclasses or (self.custom and ev.subclass is None)):
                return False
        elif not (self.all_events or ev.name in self.names):
            return False
        if self.filters:
            values = dict(ev.headers)
            if not any(values.get(h) == v for h, v in self.filters):
                return False
        return True

    def offer(self, ev) -> None:
        if self.wants(ev):
            self.send(ev.json() if self.format == "json" else ev.plain())

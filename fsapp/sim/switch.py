"""Switch: one emulated FreeSWITCH node (inbound ESL server, channels, dialplan, agents)."""
from __future__ import annotations

import datetime as dt
import importlib
import logging
import socket
import uuid as uuidlib

import gevent
from gevent.server import StreamServer

from . import fsstrings, registry
from .agents import AgentEndpoint
from .api import VERSION, Api, uptime_text
from .bridging import after_bridge, connect
from .caller import Caller, CallerScript
from .clock import RealClock
from .dialplan import Dialplan, run_dialplan
from .events import EventFactory
from .inbound import InboundConnection
from .ivrconf import read_menus
from .legs import new_leg, start_leg
from .phrases import DEFAULT_LANGUAGES

log = logging.getLogger("fsapp.sim")

LEVEL_NAMES = ("CONSOLE", "ALERT", "CRIT", "ERR", "WARNING", "NOTICE", "INFO", "DEBUG")
DEFAULT_SOUND_PREFIX = "/usr/local/freeswitch/share/freeswitch/sounds/en/us/callie"
# Modules a switch loads only when asked (load_module), like a modules.conf.xml entry:
# name -> the module whose load(switch) adds its applications and API commands.
OPTIONAL_MODULES = {"mod_callcenter": "fsapp.sim.callcenter"}


class Switch:
    def __init__(self, password: str = "ClueCon", esl: tuple[str, int] = ("127.0.0.1", 0),
                 heartbeat: float = 20.0, clock=None, hostname: str | None = None,
                 sound_prefix: str = DEFAULT_SOUND_PREFIX, conf_dir=None):
        if heartbeat <= 0:
            raise ValueError(f"heartbeat must be > 0 seconds, got {heartbeat!r}")
        self.password = password
        self.esl = (esl[0], int(esl[1]))
        self.heartbeat = float(heartbeat)
        self.clock = clock or RealClock()
        self.hostname = hostname or socket.gethostname()
        self.ipv4 = esl[0] if esl[0] not in ("0.0.0.0", "") else "127.0.0.1"
        self.ipv6 = "::1"
        self.sound_prefix = sound_prefix
        self.core_uuid = str(uuidlib.uuid4())
        self.events = EventFactory(self.core_uuid, self.hostname, self.ipv4, self.ipv6, self.clock)
        self.dialplan = Dialplan()
        # a FreeSWITCH conf/ directory: its dialplan/default/*.xml is loaded at start and
        # on `api reloadxml` (what fsapp deploy writes for a node)
        self.conf_dir = conf_dir
        self.ivr_menus: dict = {}   # ivr.conf's menus, conf_dir/ivr_menus/*.xml (the ivr application)
        if conf_dir is not None:
            self.dialplan.load_conf(conf_dir)
            self.ivr_menus = read_menus(conf_dir)
        self.api = Api(self)
        # the dialplan applications: every module of fsapp/sim/apps registers its own
        # (fsapp/sim/registry.py); optional modules add theirs to this switch only
        self.applications = dict(registry.discover())
        self.modules: dict = {}                   # loaded optional modules (load_module)
        self.channels: dict = {}
        self.listeners: set = set()               # every subscribed connection
        self._global_listeners: set = set()       # ... that want events of all channels
        self._uuid_listeners: dict[str, set] = {} # ... that want one channel's (myevents)
        # ... whose only filters are `Unique-ID <value>` (an outbound session's subscription):
        # they can only want events with one of those Unique-IDs
        self._filter_listeners: dict[str, set] = {}
        self.agents: dict[str, AgentEndpoint] = {}
        # sofia/gateway/<name>/<number> to another emulated node: its dialplan takes the call
        self.trunks: dict[str, "Switch"] = {}
        # Why dials failed for want of a destination the emulator knows, each naming the
        # contact and what the emulator knows (fsapp simulate prints them as notes).
        self.unreachable: list[str] = []
        # `log <level>` connections -> their level (log/data messages, say_zh_money)
        self.loggers: dict = {}
        # the phrase configuration's languages (`say`): name -> (say module, sound-prefix)
        self.say_languages: dict[str, tuple[str, str]] = dict(DEFAULT_LANGUAGES)
        self.callers: dict[str, Caller] = {}     # by leg uuid (both legs), for per-call events
        self.started_at = self.clock.now()
        self.sessions_since_start = 0
        self.peak_sessions = 0
        self._server: StreamServer | None = None
        self._heartbeat = None
        self._connections: set = set()
        # What tests read to see how the switch understood a client (docs/emulator.md,
        # "Recording what clients send"): every originate/bridge as parsed, and, once
        # record_wire() was called, every byte clients wrote, in order, per connection.
        self.originates: list[dict] = []
        self.api_expansions: list[tuple[str, str]] = []   # ${cmd args} an app argument ran
        self.wire_log: list[bytes] | None = None
        # A VirtualClock must not jump while an app owes a parked channel its next command.
        self.clock.add_veto(self.app_turn)

    def record_wire(self) -> list[bytes]:
        """From now on keep every chunk clients write to the event socket, as read."""
        if self.wire_log is None:
            self.wire_log = []
        return self.wire_log

    def record_originate(self, kind: str, raw: str, variables: dict, dial: str) -> list[str]:
        """Note an originate (api) or bridge (app) as FreeSWITCH read it; returns its legs."""
        legs = fsstrings.originate_legs(dial)
        self.originates.append({"kind": kind, "raw": raw, "variables": dict(variables), "dial": dial,
                                "legs": legs})
        return legs

    # ---- lifecycle ------------------------------------------------------------------
    def start(self) -> "Switch":
        self._server = StreamServer(self.esl, self._serve_inbound)
        self._server.start()
        self.started_at = self.clock.now()
        self._heartbeat = gevent.spawn(self._heartbeat_loop)
        log.info("sim: emulated FreeSWITCH listening on %s:%d", self.esl[0], self.esl_port)
        return self

    @property
    def esl_port(self) -> int:
        if self._server is None:
            raise RuntimeError("Switch not started: call start() first")
        return self._server.server_port

    def load_module(self, name: str):
        """Load an optional module (OPTIONAL_MODULES) into this switch, once; returns it
        (mod_callcenter: the CallCenter to configure queues, agents and tiers on)."""
        if name not in self.modules:
            where = OPTIONAL_MODULES.get(name)
            if where is None:
                raise ValueError(f"sim: no optional module {name!r}; known: {', '.join(sorted(OPTIONAL_MODULES))}")
            self.modules[name] = importlib.import_module(where).load(self)
        return self.modules[name]

    def stop(self, timeout: float = 5.0) -> None:
        for module in self.modules.values():
            module.stop()
        for ch in list(self.channels.values()):
            ch.hangup("SYSTEM_SHUTDOWN")
        gevent.wait([ch.status.ended for ch in list(self.channels.values())], timeout=timeout)
        if self._heartbeat is not None:
            self._heartbeat.kill(block=False)
        if self._server is not None:
            self._server.stop(timeout=1)
        for conn in list(self._connections) + list(self.listeners):
            conn.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _serve_inbound(self, sock, addr) -> None:
        conn = InboundConnection(self, sock)
        self._connections.add(conn)
        try:
            conn.run()
        finally:
            self._connections.discard(conn)

    def _heartbeat_loop(self) -> None:
        while True:
            self.clock.sleep(self.heartbeat, jump=False)
            self.fire(self._heartbeat_event())

    def _heartbeat_event(self):
        ev = self.events.new("HEARTBEAT")
        up = self.clock.now() - self.started_at
        ev.headers += [("Event-Info", "System Ready"), ("Up-Time", uptime_text(up)),
                       ("FreeSWITCH-Version", VERSION), ("Uptime-msec", str(int(up * 1000))),
                       ("Session-Count", str(len(self.channels))), ("Max-Sessions", "1000"),
                       ("Session-Per-Sec", "30"), ("Session-Per-Sec-Last", "0"),
                       ("Session-Per-Sec-Max", "0"), ("Session-Per-Sec-FiveMin", "0"),
                       ("Session-Since-Startup", str(self.sessions_since_start)),
                       ("Session-Peak-Max", str(self.peak_sessions)),
                       ("Session-Peak-FiveMin", str(self.peak_sessions)), ("Idle-CPU", "99.000000")]
        return ev

    # ---- events -----------------------------------------------------------------------
    def listen(self, listener) -> None:
        """(Re-)register a connection after its subscription changed. Indexed by uuid so
        firing an event costs O(interested listeners), not O(all connections)."""
        self.unlisten(listener)
        self.listeners.add(listener)
        listener.indexed_uuid = listener.myevents_uuid
        filters = getattr(listener, "filters", None)
        listener.indexed_filters = ()
        if listener.myevents_uuid is not None:
            self._uuid_listeners.setdefault(listener.myevents_uuid, set()).add(listener)
        elif filters and all(header == "Unique-ID" for header, _ in filters):
            # an exact index, not a shortcut: such a listener's filters (wants()) pass only
            # events whose Unique-ID is one of these values
            listener.indexed_filters = tuple({value for _, value in filters})
            for value in listener.indexed_filters:
                self._filter_listeners.setdefault(value, set()).add(listener)
        else:
            self._global_listeners.add(listener)

    def unlisten(self, listener) -> None:
        self.listeners.discard(listener)
        self._global_listeners.discard(listener)
        uuid = getattr(listener, "indexed_uuid", None)
        if uuid is not None and uuid in self._uuid_listeners:
            self._uuid_listeners[uuid].discard(listener)
            if not self._uuid_listeners[uuid]:
                del self._uuid_listeners[uuid]
        for value in getattr(listener, "indexed_filters", ()):
            if value in self._filter_listeners:
                self._filter_listeners[value].discard(listener)
                if not self._filter_listeners[value]:
                    del self._filter_listeners[value]

    def app_turn(self) -> bool:
        return any(ch.run.awaiting_app for ch in self.channels.values())

    def fire(self, ev) -> None:
        self.clock.touch()
        for listener in list(self._global_listeners):
            listener.offer(ev)
        if ev.uuid is not None:
            for listener in list(self._uuid_listeners.get(ev.uuid, ())):
                listener.offer(ev)
        if self._filter_listeners:
            for listener in list(self._filter_listeners.get(ev.get("Unique-ID"), ())):
                listener.offer(ev)
        if ev.uuid and self.callers:
            caller = self.callers.get(ev.uuid)
            if caller is not None:
                caller.on_event(ev)

    def next_session_id(self) -> int:
        self.sessions_since_start += 1
        self.peak_sessions = max(self.peak_sessions, len(self.channels) + 1)
        return self.sessions_since_start

    def log_to(self, conn, level: int | None) -> None:
        if level is None:
            self.loggers.pop(conn, None)
        else:
            self.loggers[conn] = level

    def log_line(self, level: int, file: str, func: str, line: int, text: str) -> None:
        """A FreeSWITCH log line: to the sockets that asked with `log <level>` (as
        log/data), and to the fsapp.sim logger. User-Data stays empty (as captured)."""
        log.debug("sim log [%s] %s:%d %s", LEVEL_NAMES[level], file, line, text)
        if not self.loggers:
            return
        stamp = dt.datetime.fromtimestamp(self.clock.now()).strftime("%Y-%m-%d %H:%M:%S.%f")
        body = f"{stamp} 99.00% [{LEVEL_NAMES[level]}] {file}:{line} {text}\n".encode("utf-8")
        head = (f"Content-Type: log/data\nContent-Length: {len(body)}\nLog-Level: {level}\nText-Channel: 0\n"
                f"Log-File: {file}\nLog-Func: {func}\nLog-Line: {line}\nUser-Data: \n\n")
        for conn, wanted in list(self.loggers.items()):
            if conn.closed:
                self.loggers.pop(conn, None)
            elif level <= wanted:
                conn.send(head.encode("utf-8") + body)

    def note_unreachable(self, text: str) -> None:
        log.warning("sim: %s", text)
        if text not in self.unreachable:
            self.unreachable.append(text)

    # ---- calls ------------------------------------------------------------------------
    def add_agent(self, agent_id: str, ring_s: float = 1.0, talk_s: float = 30.0, answer=True,
                  press: tuple = (), talk_from: str = "answer") -> AgentEndpoint:
        """A scripted endpoint: user/<agent_id>, and sofia/gateway/<any gateway>/<agent_id>."""
        agent = AgentEndpoint(str(agent_id), ring_s, talk_s, answer, press=tuple(press), talk_from=talk_from)
        self.agents[agent.agent_id] = agent
        return agent

    def add_trunk(self, gateway: str, other: "Switch") -> None:
        """A SIP trunk to another emulated node: `sofia/gateway/<gateway>/<number>` dialled
        here arrives there as an inbound call to <number> (its dialplan runs), with the
        dialler's caller id and, as mod_sofia does with received X- headers, the
        `sip_h_X-*` variables of the dialling leg. Answer and hangup cross both ways."""
        self.trunks[gateway] = other

    def place_call(self, script: CallerScript) -> Caller:
        """A scripted caller dials script.dial; returns a Caller (caller.wait() -> report)."""
        if self._server is None:
            raise RuntimeError("Switch not started: call start() before place_call()")
        vars_ = {"origination_caller_id_number": script.caller_id, **script.variables}
        leg = new_leg(self, f"loopback/{script.dial}/default", vars_, script.caller_id, script.caller_name)
        caller = Caller(self, script)
        leg.caller = caller
        leg.voice = caller.voice
        self.callers[leg.uuid] = caller
        self.callers[leg.links.peer.uuid] = caller
        caller.start(leg)
        start_leg(self, leg)
        leg.status.ended.rawlink(lambda _e: (self.callers.pop(leg.uuid, None), self.callers.pop(leg.links.peer.uuid, None)))
        return caller

    # ---- what channels and applications use (fsapp/sim/services.py) --------------------
    def route(self, ch) -> None:
        """The program of a leg that hits the dialplan."""
        run_dialplan(ch, self.dialplan)

    def expand_api(self, cmd: str, args: str) -> str:
        """`${cmd args}` in an application's argument: the API command runs (noted in
        api_expansions so tests can tell)."""
        self.api_expansions.append((cmd, args))
        return self.api.execute(cmd, args)

    def route_transfer(self, ch, ext: str, ctx: str) -> None:
        """Continue a transferred channel: normal extensions go back through the dialplan."""
        if ext == "__join__":
            other = self.channels.get(ctx)
            if other is not None and not other.status.hungup:
                # uuid_bridge_on_soft_execute fires these ("show channels" data) on both legs
                ch.set_var("uuid_bridge", None)   # set by switch_ivr_uuid_bridge, consumed here
                ch.fire("CHANNEL_EXECUTE", post=[("Application", "uuid_bridge"), ("Application-Data", other.uuid)])
                other.fire("CHANNEL_EXECUTE", post=[("Application", "uuid_bridge"), ("Application-Data", ch.uuid)])
                connect(ch, other, joined=True)
                after_bridge(ch, other, uuid_bridge=True)
            return
        if ext == "__joined__":
            while not ch.status.hungup and (ch.links.bridged_to is not None or self.channels.get(ctx) is not None
                                     and ch.links.bridged_to is None and not self.channels[ctx].status.hungup
                                     and self.channels[ctx].run.transfer_to is not None):
                ch.queue.wake.clear()
                ch.queue.wake.wait(timeout=0.5)
            return
        ch.profile.destination, ch.profile.context = ext, ctx
        ch.run.program = self.route

    def join(self, a, b) -> None:
        """uuid_bridge: take both legs out of what they run and bridge them."""
        b.run.transfer_to = ("__joined__", a.uuid)
        a.run.transfer_to = ("__join__", b.uuid)
        a.queue.wake.set()
        b.queue.wake.set()

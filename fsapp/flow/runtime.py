"""Running flows: pick the flow by the number dialled, run it, always run on_hangup;
reload flows while calls are running.

    handler = FlowHandler("ivr_flows", env=..., build_services=...)   # fsapp.app.flow_handler wires it
    handler(call)
    handler.reload()                              # validate DIR again; swap only if clean

The handler only interprets: what a flow is validated against (the Environment) and the
services a call uses (store, prompt catalog, calendars, router, say renderer) are built
outside the flow package and handed in, either fixed (`env=`, `services=`) or rebuilt
per reload (`env=` a callable, `build_services(flows, tracer, previous)`); fsapp.app
builds both from the configuration (fsapp.app.environment, fsapp.app.services).

A reload builds new immutable Flow objects and swaps the registry in one assignment.
A call takes the registry as it is when the call starts (its flow and every subflow it may
call), so live calls keep their version and new calls get the new one. Reloads come from
`fsapp reload` / `fsapp deploy` over a Unix control socket ([flows] control), or SIGHUP.
"""
from __future__ import annotations

import json
import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import gevent
from gevent.lock import Semaphore
from gevent.server import StreamServer

from fsapp.flow.callrecord import KIND as RECORD_KIND, record_key, unrouted_row
from fsapp.flow.compiler import Environment, compile_paths
from fsapp.flow.control_socket import bind_control_socket
from fsapp.flow.interpreter import Outcome, Services, run_call, wall_time
from fsapp.flow.model import Flow, Problem
from fsapp.flow.trace import NodeCounter, fan_out, log_tracer
from fsapp.log import get_logger

log = get_logger("fsapp.flow.runtime")


class FlowLoadError(RuntimeError):
    def __init__(self, problems: list[Problem]):
        super().__init__("flows have problems:\n" + "\n".join(map(str, problems)))
        self.problems = problems


@dataclass(frozen=True)
class Registry:
    """One consistent set of compiled flows."""
    flows: dict[str, Flow] = field(default_factory=dict)
    numbers: dict[str, Flow] = field(default_factory=dict)
    generation: int = 0
    services: Services | None = None     # built with these flows: catalog, calendars, queries

    def describe(self) -> dict:
        return {name: flow.version for name, flow in sorted(self.flows.items())}


class FlowHandler:
    """callable(call): runs the flow that answers call.destination."""

    def __init__(self, flows_dir, services: Services | None = None,
                 env: Environment | Callable[[], Environment] | None = None, tracers=(), build_services=None):
        # a directory (serve), or a list of flow files (simulate: the good files of a directory)
        self.paths = [Path(p) for p in flows_dir] if isinstance(flows_dir, (list, tuple)) else [Path(flows_dir)]
        self.flows_dir = self.paths[0] if len(self.paths) == 1 else self.paths[0].parent
        # what the flows are checked against: fixed, or built again by each reload (a
        # deploy may have changed the catalog, calendars or queues); structure only if None
        self.env = env
        self._lock = Semaphore()
        self.registry = Registry()
        self.outcomes: list[Outcome] = []  # the last few, for tests and `fsapp simulate`
        self._services_fixed = services
        # fn(flows, tracer, previous) -> (Services, warnings): what a reload builds the
        # services with (fsapp.app.services.services_from_config with the configuration)
        self._build_services = build_services
        self.counter = NodeCounter()   # per-node/edge counts of every call since start
        self.tracers = tuple(tracers)  # more readers of the trace events (fsapp.live's metrics)
        # more control requests: verb -> fn(argument text) -> JSON-able answer (fsapp.live adds
        # health, calls, hangup, transfer; the runtime itself knows reload and status)
        self.control_requests: dict = {}
        self.reload(initial=True)

    def _environment(self) -> Environment:
        if self.env is None:
            return Environment(tts=True)
        return self.env() if callable(self.env) else self.env

    def reload(self, initial: bool = False) -> dict:
        """Compile the directory again; install it only if it has no problem at all."""
        with self._lock:
            result = compile_paths(self.paths, self._environment())
            if result.problems:
                log.warning("flows not reloaded: problems found", extra={"count": len(result.problems)})
                if initial:
                    raise FlowLoadError(result.problems)
                return {"ok": False, "problems": [str(p) for p in result.problems],
                        "flows": self.registry.describe()}
            if not result.flows:
                missing = Problem(str(self.flows_dir), 1, 1, "no flow files (*.yaml) here")
                if initial:
                    raise FlowLoadError([missing])
                return {"ok": False, "problems": [str(missing)], "flows": self.registry.describe()}
            if self._services_fixed is not None:
                services, self.warnings = self._services_fixed, []
            elif self._build_services is not None:
                services, self.warnings = self._build_services(result.flows,
                                                               fan_out(self.counter, *self.tracers, log_tracer),
                                                               getattr(self, "services", None))
            else:
                raise TypeError("FlowHandler needs services= or build_services= (fsapp.app.flow_handler "
                                "builds them from the configuration)")
            for warning in self.warnings:
                log.warning(warning)
            old = self.registry
            self.services = services
            self.registry = Registry(dict(result.flows), result.by_number(), old.generation + 1, services)
            changed = {n: v for n, v in self.registry.describe().items() if old.flows.get(n) is None
                       or old.flows[n].version != v}
            log.info("flows loaded", extra={"generation": self.registry.generation,
                                            "flows": len(result.flows), "changed": ",".join(changed) or "-"})
            return {"ok": True, "generation": self.registry.generation, "flows": self.registry.describe(),
                    "changed": changed, "notes": list(getattr(services, "notes", [])),
                    "warnings": list(self.warnings)}

    def __call__(self, call) -> Outcome | None:
        registry = self.registry  # one snapshot for the whole call: flows and the services built with them
        flow = registry.numbers.get(str(call.destination))
        if flow is None:
            log.warning("no flow answers this number", extra={"destination": call.destination})
            call.hangup("UNALLOCATED_NUMBER")
            self._record_unrouted(call, registry.services or self.services)
            return None
        outcome = run_call(call, flow, registry.services or self.services, registry.flows)
        self.outcomes = (self.outcomes + [outcome])[-100:]
        return outcome

    @staticmethod
    def _record_unrouted(call, services: Services) -> None:
        """A call no flow answers still has its call record (every call has one)."""
        if services is None or services.store is None:
            return
        try:
            services.store.write(RECORD_KIND, unrouted_row(call, wall_time(services.clock()), "UNALLOCATED_NUMBER"),
                                 key=record_key(getattr(call, "uuid", None)))
        except Exception:  # reporting never breaks the worker; the outbox already keeps outages
            log.exception("call record not written", extra={"destination": call.destination})

    # ---- control: SIGHUP and a Unix socket --------------------------------------------------
    def listen(self, socket_path: str | os.PathLike | None = None, sighup: bool = True,
               group: str = "") -> StreamServer | None:
        """Accept `reload` requests on a Unix socket (one JSON line back) and on SIGHUP.

        The socket is mode 0600, or 0660 owned by `group` ([flows] control_group): its
        mode is its only access control (see control_socket.py)."""
        if sighup and threading.current_thread() is threading.main_thread():
            gevent.signal_handler(signal.SIGHUP, lambda: gevent.spawn(self.reload))
        if socket_path is None:
            return None
        path = Path(socket_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            try:
                request(path, "status", timeout=2.0)
            except (OSError, ValueError):
                path.unlink()  # a stale socket of a previous run
            else:
                raise RuntimeError(f"another `fsapp serve --flows` already answers on {path}; "
                                   f"set [flows] control to a different path for this one")
        listener = bind_control_socket(path, group)
        server = StreamServer(listener, self._control)
        server.start()
        self.control_server = server
        log.info("flow control socket listening", extra={"path": str(path)})
        return server

    def _inputs(self) -> dict:
        """Answers per question node since start: {"flow.node": {accepted, no_input, invalid}}."""
        out: dict = {}
        for (flow, node, outcome), n in self.counter.inputs.items():
            out.setdefault(f"{flow}.{node}", {})[outcome] = n
        return out

    def _control(self, sock, address) -> None:
        with sock:
            sock.settimeout(10)
            request = sock.makefile("r", encoding="utf-8").readline().strip()
            verb, _, argument = request.partition(" ")
            if verb in self.control_requests:
                try:
                    answer = self.control_requests[verb](argument)
                except Exception as exc:  # one clear line back, the worker goes on
                    answer = {"ok": False, "problems": [f"{type(exc).__name__}: {exc}"]}
            elif request == "reload":
                answer = self.reload()
            elif request == "status":
                answer = {"ok": True, "generation": self.registry.generation, "flows": self.registry.describe(),
                          "dir": str(self.flows_dir),
                          "entered": {f"{flow}.{node}": n for (flow, node), n in self.counter.entered.items()},
                          "inputs": self._inputs()}
            else:
                known = ", ".join(["reload", "status", *self.control_requests])
                answer = {"ok": False, "problems": [f"unknown request {request!r}; known: {known}"]}
            sock.sendall((json.dumps(answer, ensure_ascii=False) + "\n").encode("utf-8"))


def request(socket_path: str | os.PathLike, what: str, timeout: float = 30.0) -> dict:
    """Send one control request to a running `fsapp serve --flows` (used by reload/deploy)."""
    import socket as pysocket
    with pysocket.socket(pysocket.AF_UNIX, pysocket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(socket_path))
        sock.sendall((what + "\n").encode("utf-8"))
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data.decode("utf-8"))

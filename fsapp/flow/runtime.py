"""Running flows in `fsapp serve --flows DIR`: pick the flow by the number dialled, run it,
always run on_hangup; reload flows while calls are running.

    handler = make_handler("ivr_flows", cfg)      # what `fsapp serve --flows` calls per call
    handler(call)
    handler.reload()                              # validate DIR again; swap only if clean

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

import gevent
from gevent.lock import Semaphore
from gevent.server import StreamServer

from fsapp.flow.compiler import Environment, compile_paths
from fsapp.flow.control_socket import bind_control_socket
from fsapp.flow.interpreter import Outcome, Services, run_call
from fsapp.flow.model import Flow, Problem
from fsapp.flow.trace import NodeCounter, NodeVisitWriter, fan_out, log_tracer
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

    def describe(self) -> dict:
        return {name: flow.version for name, flow in sorted(self.flows.items())}


def services_from_config(cfg, flows: dict[str, Flow], tracer=None,
                         previous: Services | None = None) -> tuple[Services, list[str]]:
    """Build only what the flows use, so a flow without sql runs without a database.

    A service that cannot be built is left out with a warning (returned, and logged by
    the handler): the flows that do not need it keep working, and a node that does need
    it fails with that reason (an sql node takes its on_error path).
    """
    kinds = {node.kind for flow in flows.values() for node in (*flow.nodes.values(), *flow.on_hangup)}
    services = Services(recordings=Path(cfg.get("flows", "recordings")), tts=cfg.get("flows", "tts"),
                        tracer=tracer or log_tracer)
    warnings: list[str] = []
    from fsapp.say import render
    services.say = render
    if services.tts and "|" not in services.tts:
        from functools import partial

        from fsapp.sounds import tts
        services.tts_render = partial(tts, cache_dir=cfg.get("sounds", "cache"), voices=cfg.get("sounds", "voices"))
    parts = [("catalog", True, lambda: _catalog(cfg))]
    visits = bool(cfg.get("flows", "node_visits"))
    parts.append(("store", bool(kinds & {"sql", "write"}) or visits, lambda: _store(cfg)))
    parts.append(("calendars", "schedule" in kinds, lambda: _calendars(cfg)))
    parts.append(("router", "queue" in kinds, lambda: _router(cfg, services.store, services.catalog)))
    for name, needed, build in parts:
        if not needed:
            continue
        # a reload keeps the store's and router's pools and background greenlets; the
        # catalog and calendars are files that a deploy may have changed: read them again
        if name in ("store", "router") and previous is not None and getattr(previous, name) is not None:
            setattr(services, name, getattr(previous, name))
            continue
        try:
            setattr(services, name, build())
        except Exception as exc:  # reported, not fatal: see the docstring
            warnings.append(f"{name} unavailable, nodes that need it will fail: {type(exc).__name__}: {exc}")
            services.unavailable[name] = str(exc)
    if visits and services.store is not None:
        services.tracer = fan_out(services.tracer, NodeVisitWriter(services.store))
    return services, warnings


def _catalog(cfg):
    from fsapp.sounds.catalog import Catalog
    return Catalog.load(Path(cfg.get("sounds", "dir")) / "catalog.yaml")


def _store(cfg):
    from fsapp.store import Store
    store = Store.from_config(cfg)
    for name, path in store.new_sqlite_files.items():   # a typo must not pass as an empty line
        log.warning("SQLite database did not exist and was created empty (check the path if you "
                    "expected data)", extra={"connection": name, "path": str(path)})
    return store


def _calendars(cfg):
    from fsapp.calendar import load_calendars
    return load_calendars(cfg.get("flows", "calendars"))


def _router(cfg, store, catalog):
    from fsapp.routing import Router  # the contract in docs/architecture.md
    from fsapp.routing.announce import AgentIdPrompts, QueuePrompts
    from fsapp.say import render
    router = Router.from_config(cfg, store=store)  # its queue events go through the same store
    if catalog is not None:  # announce-agent-id and announce-position speak from the catalog
        router.agent_id_prompts = AgentIdPrompts(catalog, render)
        router.queue_prompts = QueuePrompts(catalog, render)
    return router


class FlowHandler:
    """callable(call): runs the flow that answers call.destination."""

    def __init__(self, flows_dir, cfg=None, services: Services | None = None,
                 env: Environment | None = None, tracers=()):
        # a directory (serve), or a list of flow files (simulate: the good files of a directory)
        self.paths = [Path(p) for p in flows_dir] if isinstance(flows_dir, (list, tuple)) else [Path(flows_dir)]
        self.flows_dir = self.paths[0] if len(self.paths) == 1 else self.paths[0].parent
        self.cfg = cfg
        self.env = env
        self._lock = Semaphore()
        self.registry = Registry()
        self.outcomes: list[Outcome] = []  # the last few, for tests and `fsapp simulate`
        self._services_fixed = services
        self.counter = NodeCounter()   # per-node/edge counts of every call since start
        self.tracers = tuple(tracers)  # more readers of the trace events (fsapp.live's metrics)
        # more control requests: verb -> fn(argument text) -> JSON-able answer (fsapp.live adds
        # health, calls, hangup, transfer; the runtime itself knows reload and status)
        self.control_requests: dict = {}
        self.reload(initial=True)

    def _environment(self) -> Environment:
        if self.env is not None:
            return self.env
        if self.cfg is None:
            return Environment(tts=True)
        from fsapp.flow.environment import from_config
        return from_config(self.cfg)

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
            else:
                services, self.warnings = services_from_config(self.cfg, result.flows,
                                                               tracer=fan_out(self.counter, *self.tracers,
                                                                              log_tracer),
                                                               previous=getattr(self, "services", None))
            for warning in self.warnings:
                log.warning(warning)
            old = self.registry
            self.services = services
            self.registry = Registry(dict(result.flows), result.by_number(), old.generation + 1)
            changed = {n: v for n, v in self.registry.describe().items() if old.flows.get(n) is None
                       or old.flows[n].version != v}
            log.info("flows loaded", extra={"generation": self.registry.generation,
                                            "flows": len(result.flows), "changed": ",".join(changed) or "-"})
            return {"ok": True, "generation": self.registry.generation, "flows": self.registry.describe(),
                    "changed": changed}

    def __call__(self, call) -> Outcome | None:
        registry = self.registry  # one snapshot for the whole call
        flow = registry.numbers.get(str(call.destination))
        if flow is None:
            log.warning("no flow answers this number", extra={"destination": call.destination})
            call.hangup("UNALLOCATED_NUMBER")
            return None
        outcome = run_call(call, flow, self.services, registry.flows)
        self.outcomes = (self.outcomes + [outcome])[-100:]
        return outcome

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


def make_handler(flows_dir, cfg, tracers=()) -> FlowHandler:
    """The `fsapp serve --flows` entry point: load and validate every flow (FlowLoadError
    lists the problems), then listen for reloads on [flows] control and SIGHUP.
    `tracers` also read every call's trace events (the metrics of fsapp.live)."""
    handler = FlowHandler(flows_dir, cfg, tracers=tracers)
    control = cfg.get("flows", "control") if cfg is not None else None
    handler.listen(control or None, group=cfg.get("flows", "control_group") if cfg is not None else "")
    gevent.spawn(_start_router, handler)
    return handler


def _start_router(handler: FlowHandler) -> None:
    """Start the ACD with the worker, not at its first queued call, so the reconciler
    repairs what a previous run of this worker left (stuck agents, orphaned members) and
    its callbacks are adopted at once. If FreeSWITCH is not reachable yet, the router's
    first enqueue starts it again."""
    router = getattr(handler.services, "router", None)
    if router is None or not hasattr(router, "start"):
        return
    try:
        router.start()
    except Exception as exc:  # FreeSWITCH down at start: not fatal, see the docstring
        log.warning("router not started yet; it starts with the first queued call",
                    extra={"error": f"{type(exc).__name__}: {exc}"})


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

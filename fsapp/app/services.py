"""The services a flow uses, built from the configuration: the say renderer, runtime
TTS, the prompt catalog, the store, calendars and the router (with its agent-id prompts).
Wiring, so it lives here and not in the flow language (fsapp.flow only interprets).

    handler = flow_handler("ivr_flows", cfg)      # a FlowHandler whose reloads rebuild these
    handler = flow_handler("ivr_flows", cfg, services=fakes)   # checked against cfg, fixed services
    handler = make_handler("ivr_flows", cfg)      # `fsapp serve --flows`: + control socket, router
"""
from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import gevent

from fsapp.app.environment import from_config as environment_from_config
from fsapp.calendar import load_calendars
from fsapp.flow.interpreter import Services
from fsapp.flow.model import Flow
from fsapp.flow.runtime import FlowHandler, FlowLoadError
from fsapp.flow.trace import log_tracer, record_node_visits
from fsapp.log import get_logger
from fsapp.routing import Router  # the contract in docs/architecture.md
from fsapp.routing.announce import AgentIdPrompts, QueuePrompts
from fsapp.say import render
from fsapp.sounds import tts
from fsapp.sounds.catalog import Catalog
from fsapp.store import Store

log = get_logger("fsapp.flow.runtime")   # the name operators' log filters know

__all__ = ["FlowLoadError", "flow_handler", "make_handler", "services_from_config"]


def flow_handler(flows_dir, cfg, tracers=(), env=None, services: Services | None = None,
                 router_clock=None) -> FlowHandler:
    """A FlowHandler over `flows_dir` whose flows are checked against `cfg` (the prompt
    catalog, queries, calendars and queues it names; read again on each reload) and whose
    services come from `cfg` too (rebuilt on reload, keeping the store's and router's
    pools), unless `services` (fixed: a test's fakes) or `env` are given. `router_clock`:
    the router's clock (epoch seconds, the wall clock's rate; the demo's is on its own day)."""
    if env is None:
        env = partial(environment_from_config, cfg) if cfg is not None else None
    if services is not None:
        return FlowHandler(flows_dir, services=services, env=env, tracers=tracers)
    return FlowHandler(flows_dir, env=env, tracers=tracers,
                       build_services=lambda flows, tracer, previous:
                       services_from_config(cfg, flows, tracer=tracer, previous=previous,
                                            router_clock=router_clock))


def services_from_config(cfg, flows: dict[str, Flow], tracer=None, previous: Services | None = None,
                         router_clock=None) -> tuple[Services, list[str]]:
    """Build only what the flows use, so a flow without sql runs without a database.

    A service that cannot be built is left out with a warning (returned, and logged by
    the handler): the flows that do not need it keep working, and a node that does need
    it fails with that reason (an sql node takes its on_error path).
    """
    kinds = {node.kind for flow in flows.values() for node in (*flow.nodes.values(), *flow.on_hangup)}
    services = Services(recordings=Path(cfg.get("flows", "recordings")), tts=cfg.get("flows", "tts"),
                        tracer=tracer or log_tracer)
    warnings: list[str] = []
    services.say = render
    if services.tts and "|" not in services.tts:
        services.tts_render = partial(tts, cache_dir=cfg.get("sounds", "cache"), voices=cfg.get("sounds", "voices"))
    parts = [("catalog", True, lambda: _catalog(cfg))]
    visits = bool(cfg.get("flows", "node_visits"))
    parts.append(("store", bool(kinds & {"sql", "write"}) or visits, lambda: _store(cfg)))
    parts.append(("calendars", "schedule" in kinds, lambda: _calendars(cfg)))
    parts.append(("router", "queue" in kinds,
                  lambda: _router(cfg, services.store, services.catalog, router_clock or time.time)))
    for name, needed, build in parts:
        if not needed:
            continue
        # a reload keeps the store's and router's pools and background greenlets; the
        # catalog and calendars are files that a deploy may have changed: read them again
        running = getattr(getattr(previous, "router", None), "base", None)   # a Router (not a test's fake)
        if name == "router" and hasattr(running, "reconfigure"):
            services.router = _reconfigured(cfg, running, services, warnings)
            continue
        if name in ("store", "router") and previous is not None and getattr(previous, name) is not None:
            setattr(services, name, getattr(previous, name))
            if name == "store" and hasattr(previous.store, "with_queries"):
                # the named queries are files too: read again, pinned per call like the flows
                try:
                    services.store = previous.store.with_queries(cfg.get("store", "queries"))
                except Exception as exc:
                    warnings.append(f"queries not read again, calls keep the previous ones: {exc}")
            continue
        try:
            setattr(services, name, build())
        except Exception as exc:  # reported, not fatal: see the docstring
            warnings.append(f"{name} unavailable, nodes that need it will fail: {type(exc).__name__}: {exc}")
            services.unavailable[name] = str(exc)
    if visits and services.store is not None:
        record_node_visits(services)
    return services, warnings


def _catalog(cfg):
    return Catalog.load(Path(cfg.get("sounds", "dir")) / "catalog.yaml")


def _store(cfg):
    store = Store.from_config(cfg)
    for name, path in store.new_sqlite_files.items():   # a typo must not pass as an empty line
        log.warning("SQLite database did not exist and was created empty (check the path if you "
                    "expected data)", extra={"connection": name, "path": str(path)})
    return store


def _calendars(cfg):
    return load_calendars(cfg.get("flows", "calendars"))


def _router(cfg, store, catalog, clock):
    router = Router.from_config(cfg, store=store, clock=clock)  # its queue events go through the same store
    _announcements(router, catalog)
    return router.pinned()    # the calls of this registry keep this routing version


def _announcements(router, catalog) -> None:
    """announce-agent-id and announce-position speak from the prompt catalog (the one a
    reload read: a deploy's new prompts reach them too)."""
    if catalog is not None:
        router.agent_id_prompts = AgentIdPrompts(catalog, render)
        router.queue_prompts = QueuePrompts(catalog, render)


def _reconfigured(cfg, router, services: Services, warnings: list[str]):
    """A reload (a deploy) applies routing.yaml to the running router: the shared state is
    reconciled (fsapp.routing.Router.reconfigure), the new registry's calls get the new
    version, calls in progress keep theirs. A routing.yaml that cannot be applied leaves
    the previous routing in place, with a warning."""
    from fsapp.routing.state import load_calendars_for, load_config
    _announcements(router, services.catalog)
    try:
        routing = load_config(cfg, services.store)
        if router.reconfigure(routing, load_calendars_for(routing)):
            services.notes.append(f"routing.yaml applied: {len(routing.queues)} queue(s), {len(routing.agents)} "
                                  f"agent(s), {len(routing.tiers)} tier(s); calls in progress keep their routing")
    except Exception as exc:   # Redis away, a query failing: keep routing as it was
        warnings.append(f"routing.yaml not applied, calls keep the previous routing: {type(exc).__name__}: {exc}")
    return router.pinned()


def make_handler(flows_dir, cfg, tracers=()) -> FlowHandler:
    """The `fsapp serve --flows` entry point: load and validate every flow (FlowLoadError
    lists the problems), then listen for reloads on [flows] control and SIGHUP.
    `tracers` also read every call's trace events (the metrics of fsapp.live)."""
    handler = flow_handler(flows_dir, cfg, tracers=tracers)
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

"""Opening the routing state for a process (the CLI, a worker, the bench): config file
plus backend, seeded from routing.yaml. Also the read models the CLI prints."""
from __future__ import annotations

import os
import socket
import time

from fsapp.routing.backend import StateBackend, make_backend
from fsapp.routing.config import RoutingConfig, load_routing, seed_backend
from fsapp.routing.model import AgentStatus
from fsapp.routing.policy import QueueSnapshot, average_handle_time, estimate_wait
from fsapp.routing.strategies import order_members


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def open_state(cfg, now: float | None = None, store=None) -> tuple[RoutingConfig, StateBackend]:
    """(routing config, seeded backend) from an fsapp Config's [routing] section. Queues
    of routing.yaml's `queues_query` are read through the store (made from [store] when
    none is given)."""
    section = cfg.section("routing")
    routing = load_config(cfg, store)
    backend = make_backend(section["backend"], section["redis_url"], section.get("redis_prefix", "fsapp:"))
    seed_backend(routing, backend, time.time() if now is None else now)
    return routing, backend


def load_config(cfg, store=None) -> RoutingConfig:
    """routing.yaml ([routing] config) plus the queues of its `queues_query`, read through
    the store (made from [store] when none is given)."""
    routing = load_routing(cfg.section("routing")["config"])
    if routing.queues_query:
        from fsapp.routing.config import add_sql_queues
        if store is None:
            from fsapp.store import Store
            store = Store.from_config(cfg)
        add_sql_queues(routing, store.query(routing.queues_query, {}), f"query {routing.queues_query}")
    return routing


def load_calendars_for(routing: RoutingConfig) -> dict:
    """The calendars file named in routing.yaml (`calendars:`), relative to routing.yaml."""
    from pathlib import Path
    from fsapp.calendar import load_calendars
    if not routing.calendars_file:
        return {}
    path = Path(routing.calendars_file)
    if not path.is_absolute() and routing.path and not path.exists():
        path = Path(routing.path).parent / path
    return load_calendars(path)


def queue_status(routing: RoutingConfig, backend: StateBackend, name: str, now: float) -> dict:
    queue = routing.queue(name)
    cands = backend.candidates(name)
    members = backend.members(name)
    waiting = order_members(queue, members, now)
    logged_in = sum(1 for c in cands if c.agent.status != AgentStatus.LOGGED_OUT)
    free = sum(1 for c in cands if c.agent.offerable(now))
    handle = backend.handle_times(name)
    snap = QueueSnapshot(len(waiting), logged_in, free, handle)
    return {
        "queue": name,
        "strategy": queue.strategy,
        "waiting": len(waiting),
        "members": [{"uuid": m.id, "caller_id": m.caller_id, "position": i, "waited_s": round(now - m.joined_at, 1),
                     "priority": m.priority, "state": m.state.value,
                     "estimated_wait_s": _round(estimate_wait(i, snap))}
                    for i, m in enumerate(waiting, start=1)]
                   + [{"uuid": m.id, "caller_id": m.caller_id, "position": None,
                       "waited_s": round(now - m.joined_at, 1), "priority": m.priority, "state": m.state.value,
                       "agent": m.serving_agent}
                      for m in members if m not in waiting],
        "agents_logged_in": logged_in,
        "agents_free": free,
        "average_handle_time_s": round(average_handle_time(handle), 1) if handle else None,
        "agents": [{"agent": c.name, "level": c.level, "position": c.position, "status": c.agent.status.value,
                    "state": c.agent.state(now).value} for c in cands],
    }


def _round(value):
    return None if value is None else round(value, 1)

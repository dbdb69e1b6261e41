"""One look at a running worker: what `fsapp status` shows (the control socket's
`health` request). Reads the handler's services as they are now; every probe of a
server (database, Redis) has a short deadline and reports its error instead of raising.
"""
from __future__ import annotations

import os
import time

from fsapp.live.agents import BOARD_STATES, board_state, callers_waiting
from fsapp.routing.model import AgentStatus

PROBE_TIMEOUT = 2.0


def health(handler, calls=None, clock=time.time) -> dict:
    services = getattr(handler, "services", None)
    router = getattr(services, "router", None)
    store = getattr(services, "store", None)
    now = clock()
    out = {
        "worker": {"pid": os.getpid(), "id": getattr(router, "worker_id", "") or f"pid {os.getpid()}",
                   "generation": handler.registry.generation, "flows": handler.registry.describe()},
        "calls": {"in_progress": len(calls.calls) if calls is not None else None},
        # node entries since the worker started (NodeCounter), "flow.node" -> count
        "entered": {f"{flow}.{node}": n for (flow, node), n in handler.counter.entered.items()},
        "queues": [], "agents": None, "outbox": None, "databases": {}, "redis": None, "esl": [],
        "unavailable": dict(getattr(services, "unavailable", {}) or {}),
    }
    if router is not None:
        out.update(_routing(router, now))
        client = router.esl
        if hasattr(client, "connects"):
            out["esl"].append({"connection": f"{client.host}:{client.port}", "connected": bool(client.connected),
                               "reconnects": max(0, client.connects - 1)})
    if store is not None:
        out["databases"] = {name: _probe_db(store, name) for name in store.breakers}
        try:
            status = store.outbox.status()
            out["outbox"] = {"pending": status["pending"], "dead": status["dead"]}
        except OSError as exc:
            out["outbox"] = {"error": str(exc)}
    return out


def _routing(router, now: float) -> dict:
    backend = router.backend
    redis = None
    if hasattr(backend, "r"):
        try:
            backend.r.ping()
            redis = {"ok": True}
        except Exception as exc:  # reported, see the module doc
            return {"redis": {"ok": False, "error": f"{type(exc).__name__}: {exc}"}}
    agents = {a.name: a for a in backend.agents()}
    queues = []
    for name in router.config.queues:
        waiting = [m for m in backend.members(name) if callers_waiting(m)]
        staffed = [agents[t.agent] for t in backend.tiers(queue=name) if t.agent in agents]
        queues.append({"queue": name, "waiting": len(waiting),
                       "longest_wait_s": round(max((now - m.joined_at for m in waiting), default=0.0), 1),
                       "agents_logged_in": sum(1 for a in staffed if a.status is not AgentStatus.LOGGED_OUT),
                       "agents_available": sum(1 for a in staffed if board_state(a, now) == "available")})
    counts = dict.fromkeys(BOARD_STATES, 0)
    for agent in agents.values():
        counts[board_state(agent, now)] += 1
    return {"queues": queues, "agents": counts, "redis": redis}


def _probe_db(store, name: str) -> dict:
    breaker = store.breakers[name].state
    try:
        store.run(lambda conn, _t: conn.raw.cursor().execute(conn.dialect.ping_sql).fetchall(), name,
                  timeout=PROBE_TIMEOUT)
    except Exception as exc:  # reported, see the module doc
        return {"ok": False, "breaker": store.breakers[name].state, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "breaker": breaker}

"""The live requests of the flows control socket ([flows] control), next to the runtime's
own `reload` and `status`. One line each way: `VERB JSON` in, one JSON object out.

    health   {}                              -> fsapp.live.snapshot.health(...)
    calls    {}                              -> {"ok": true, "calls": [...]}
    hangup   {"uuid": U}                     -> {"ok": true, "reply": "+OK"}
    transfer {"uuid": U, "destination": D, "context": C}   -> {"ok": true, "reply": "+OK"}
    agent-status {"agent": A, "status": S}   -> {"ok": true, "agent": {...}}  (S: Available, On Break, ...)

`agent-status` is how `fsapp agent login|logout|break|available` reaches the agents of a
memory routing backend, whose state exists only inside this process.

Clients: `fsapp status`, `fsapp calls` (fsapp/cli/live.py) through
fsapp.flow.runtime.request.
"""
from __future__ import annotations

import json

from fsapp.esl import syntax
from fsapp.live.calls import LiveCalls, UnknownCall
from fsapp.live.snapshot import health


def install(handler, calls: LiveCalls) -> None:
    """Add the live requests to a FlowHandler's control socket."""
    def member_queue(uuid: str) -> str:
        router = getattr(handler.services, "router", None)
        member = router.backend.get_member(uuid) if router is not None else None
        return member.queue if member is not None else ""
    calls.queue_of = member_queue

    def on_health(_arg: str) -> dict:
        return {"ok": True, **health(handler, calls)}

    def on_calls(_arg: str) -> dict:
        return {"ok": True, "calls": calls.rows()}

    def on_hangup(arg: str) -> dict:
        return _act(lambda a: calls.hangup(str(a["uuid"])), arg)

    def on_transfer(arg: str) -> dict:
        return _act(lambda a: calls.transfer(str(a["uuid"]), str(a["destination"]),
                                             str(a.get("context") or "default")), arg)

    def on_agent_status(arg: str) -> dict:
        router = getattr(handler.services, "router", None)
        if router is None:
            return {"ok": False, "problems": ["this worker has no routing ([routing] config)"]}
        return set_agent_status(router.backend, arg)

    handler.control_requests.update(health=on_health, calls=on_calls, hangup=on_hangup, transfer=on_transfer,
                                    **{"agent-status": on_agent_status})


def set_agent_status(backend, arg: str) -> dict:
    """Change an agent's status in this process's routing state (the running service's)."""
    import time
    from fsapp.routing.backend import UnknownAgent
    from fsapp.routing.model import AgentStatus
    try:
        request = json.loads(arg or "{}")
        status = AgentStatus.parse(str(request["status"]))
        now = time.time()
        record = backend.set_status(str(request["agent"]), status, now)
    except UnknownAgent as exc:
        return {"ok": False, "problems": [str(exc)]}
    except (KeyError, ValueError) as exc:
        return {"ok": False, "problems": [f"agent-status: {exc}"]}
    return {"ok": True, "agent": record.to_json(now)}


def _act(action, arg: str) -> dict:
    try:
        reply = action(json.loads(arg or "{}"))
    except (UnknownCall, syntax.UnsafeValue, KeyError, ValueError) as exc:
        return {"ok": False, "problems": [str(exc)]}
    return {"ok": not reply.startswith("-ERR"), "reply": reply}

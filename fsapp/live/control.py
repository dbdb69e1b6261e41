"""The live requests of the flows control socket ([flows] control), next to the runtime's
own `reload` and `status`. One line each way: `VERB JSON` in, one JSON object out.

    health   {}                              -> fsapp.live.snapshot.health(...)
    calls    {}                              -> {"ok": true, "calls": [...]}
    hangup   {"uuid": U}                     -> {"ok": true, "reply": "+OK"}
    transfer {"uuid": U, "destination": D, "context": C}   -> {"ok": true, "reply": "+OK"}

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

    handler.control_requests.update(health=on_health, calls=on_calls, hangup=on_hangup, transfer=on_transfer)


def _act(action, arg: str) -> dict:
    try:
        reply = action(json.loads(arg or "{}"))
    except (UnknownCall, syntax.UnsafeValue, KeyError, ValueError) as exc:
        return {"ok": False, "problems": [str(exc)]}
    return {"ok": not reply.startswith("-ERR"), "reply": reply}

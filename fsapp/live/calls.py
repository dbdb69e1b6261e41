"""The calls a worker is running now, for `fsapp calls` and `fsapp status`.

    calls = LiveCalls()
    handler = calls.wrap(flow_handler)        # what the outbound server runs per call
    FlowHandler(..., tracers=[calls])         # follows each call's flow and node
    calls.rows(now)                           # [{uuid, caller, flow, node, queue, seconds}]
    calls.hangup(uuid); calls.transfer(uuid, "1001")

hangup and transfer go out over the call's own Event Socket connection as `api`
commands built by fsapp/esl/syntax.py: the uuid must be a channel uuid and the
destination a phone number or a dialplan extension name, so neither can become
FreeSWITCH syntax.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from fsapp.esl import syntax


class UnknownCall(LookupError):
    pass


@dataclass
class LiveCall:
    uuid: str
    caller: str              # the caller-id policy's number (fsapp/esl/callerid.py), or ""
    started: float
    call: object = field(repr=False, default=None)
    flow: str = ""
    node: str = ""
    node_kind: str = ""


class LiveCalls:
    def __init__(self, clock=time.time):
        self.clock = clock
        self.calls: dict[str, LiveCall] = {}
        self.queue_of = lambda uuid: ""        # set by the service: the router's member lookup

    def wrap(self, handler):
        def run(call):
            self.calls[call.uuid] = LiveCall(call.uuid, call.caller_id or "", self.clock(), call)
            try:
                return handler(call)
            finally:
                self.calls.pop(call.uuid, None)
        run.__wrapped__ = handler
        return run

    def __call__(self, event: dict) -> None:          # a tracer
        live = self.calls.get(event.get("uuid"))
        if live is not None and event["event"] == "enter":
            live.flow, live.node = event.get("flow") or "", event.get("node") or ""
            live.node_kind = event.get("kind") or ""

    def rows(self) -> list[dict]:
        now = self.clock()
        out = []
        for live in sorted(self.calls.values(), key=lambda c: c.started):
            queue = self.queue_of(live.uuid) if live.node_kind == "queue" else ""
            out.append({"uuid": live.uuid, "caller": live.caller, "flow": live.flow, "node": live.node,
                        "queue": queue or "", "seconds": round(max(0.0, now - live.started), 1)})
        return out

    def _call(self, uuid: str):
        syntax.uuid("uuid", uuid)
        live = self.calls.get(uuid)
        if live is None:
            raise UnknownCall(f"no live call {uuid!r} in this worker (`fsapp calls` lists them)")
        return live.call

    def hangup(self, uuid: str, cause: str = "NORMAL_CLEARING") -> str:
        call = self._call(uuid)
        return call.api(syntax.api_command("uuid_kill", syntax.uuid("uuid", uuid), syntax.word("cause", cause)),
                        timeout=10.0).strip()

    def transfer(self, uuid: str, destination: str, context: str = "default") -> str:
        call = self._call(uuid)
        command = syntax.api_command("uuid_transfer", syntax.uuid("uuid", uuid),
                                     transfer_destination(destination), "XML", syntax.name("context", context))
        return call.api(command, timeout=10.0).strip()


def transfer_destination(text: str) -> str:
    """A phone number (+, digits, * #) or a dialplan extension name (letters, digits, _ . -)."""
    try:
        return syntax.number(text, "destination")
    except syntax.UnsafeValue:
        pass
    try:
        return syntax.name("destination", text)
    except syntax.UnsafeValue:
        raise syntax.UnsafeValue("destination", text, "is neither a phone number (+, digits, * and #) "
                                 "nor an extension name (letters, digits, _ . -)") from None

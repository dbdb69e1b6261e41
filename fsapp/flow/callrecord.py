"""The call record the flow runtime writes at the end of every call (fsapp_call_records).

One row per call, whatever way it ended (a hangup node, the caller hanging up mid-menu or
in a queue, a transfer, an error), written after on_hangup through the store's outbox
under the key `<call uuid>:call`, so it is written now or spooled and replayed, never
doubled. A flow does not write it (the compiler refuses `write: {kind: call_record}`);
it sets the record's outcome as data during the call (`set: {outcome: "'resolved'"}`),
else the outcome is the last node the call entered.

    row = call_record_row(facts)      # pure: the Session hands in what it saw
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

KIND = "call_record"
PATH_LIMIT = 4000        # fsapp_call_records.node_path's length
# what a flow may set (`set:`) as the record's data; the runtime fills the rest itself
SETTABLE = ("outcome",)


def record_key(uuid) -> str:
    return f"{uuid}:call"


@dataclass
class CallFacts:
    """What the Session saw of one call."""
    uuid: str | None
    caller: str | None
    destination: str | None
    flow: str
    version: str
    started: dt.datetime
    answered: dt.datetime | None
    ended: dt.datetime
    reason: str                      # Outcome.reason: hangup, transfer, queue, caller_hangup, error
    #                                  (a call no flow answers: no_flow, see unrouted_row)
    cause: str
    lang: str
    path: list[str] = field(default_factory=list)   # flow.node, in order
    fields: dict = field(default_factory=dict)      # set by the flow (outcome) and the queue node


def call_record_row(f: CallFacts) -> dict:
    duration = int(round((f.ended - f.started).total_seconds() * 1000))
    return {
        "call_uuid": f.uuid, "caller_number": f.caller or None, "destination": f.destination or None,
        "flow": f.flow, "flow_version": f.version,
        "started_at": f.started, "answered_at": f.answered, "ended_at": f.ended, "duration_ms": max(duration, 0),
        "hangup_cause": f.cause or None,
        "outcome": _text(f.fields.get("outcome")) or (f.path[-1].rpartition(".")[2] if f.path else None),
        "queue_name": f.fields.get("queue_name") or None, "agent_id": f.fields.get("agent_id") or None,
        "language": f.lang or None, "end_reason": f.reason, "node_path": node_path(f.path),
    }


def unrouted_row(call, at: dt.datetime, cause: str) -> dict:
    """The record of a call no flow answers (its number is not in any flow's `numbers`):
    refused at once, so arrival and end are the same moment and there is no answer."""
    return {"call_uuid": getattr(call, "uuid", None), "caller_number": getattr(call, "caller_id", None) or None,
            "destination": getattr(call, "destination", None) or None, "started_at": at, "ended_at": at,
            "duration_ms": 0, "hangup_cause": cause, "outcome": "no_flow", "end_reason": "no_flow"}


def node_path(path: list[str]) -> str | None:
    """flow.node>flow.node>...; a very long call keeps its end (where the caller left)."""
    text = ">".join(path)
    if len(text) <= PATH_LIMIT:
        return text or None
    return "…" + text[-(PATH_LIMIT - 1):]


def _text(value) -> str:
    return "" if value is None else str(value)

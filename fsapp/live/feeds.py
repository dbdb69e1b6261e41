"""Listeners that turn what the service already reports into metrics.

    FlowFeed     a tracer (fsapp/flow/trace.py): node visits, calls by flow and outcome,
                 calls in progress, flow errors
    RoutingFeed  a routing-events listener (StateBackend.subscribe): joins, waits,
                 offers and their results, per queue
    command_label  an ESL command line -> a label without caller data

They keep only what they need to pair events (a call's first flow, a member's join
time) in bounded maps; they do no I/O.
"""
from __future__ import annotations

import re
from collections import OrderedDict
from typing import Callable

from fsapp.live.metrics import Metrics

LEAVE_EVENTS = {"member-abandoned": "abandoned", "member-overflow": "overflow",
                "member-timeout": "timeout", "member-callback": "callback"}
KEEP = 100_000      # pairs remembered at most (a lost end event must not grow memory forever)
NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class _Bounded(OrderedDict):
    def remember(self, key, value) -> None:
        self[key] = value
        if len(self) > KEEP:
            self.popitem(last=False)


class FlowFeed:
    """callable(trace event). A call is counted in progress from its first `enter` to
    its `end`, under the flow it started in (subflows count their own node visits)."""

    def __init__(self, metrics: Metrics):
        self.m = metrics
        self.open: _Bounded = _Bounded()      # uuid -> flow the call started in
        self.ended: _Bounded = _Bounded()     # uuid -> True: on_hangup nodes run after `end`

    def __call__(self, event: dict) -> None:
        kind, uuid, flow = event["event"], event.get("uuid"), event.get("flow") or "-"
        if kind == "enter":
            self.m.fsapp_node_visits_total.labels(flow, event.get("node") or "-").inc()
            if uuid not in self.open and uuid not in self.ended:
                self.open.remember(uuid, flow)
                self.m.fsapp_calls_in_progress.labels(flow).inc()
        elif kind == "error":
            self.m.fsapp_flow_errors_total.labels(flow, event.get("node") or "-").inc()
        elif kind == "end" and uuid not in self.ended:
            started_in = self.open.pop(uuid, None)
            if started_in is not None:
                self.m.fsapp_calls_in_progress.labels(started_in).dec()
            self.m.fsapp_calls_total.labels(started_in or flow, event.get("reason") or "-").inc()
            self.ended.remember(uuid, True)


class RoutingFeed:
    """callable(routing event). Shared backends (Redis) deliver every worker's events to
    every worker, so a member's events are counted only by the worker that serves it
    (`is_local(member_id)` at its join): summed over workers, each call counts once."""

    def __init__(self, metrics: Metrics, is_local: Callable[[str], bool] = lambda member: True):
        self.m = metrics
        self.is_local = is_local
        self.members: _Bounded = _Bounded()   # member id -> (queue, joined_at)

    def __call__(self, event: dict) -> None:
        kind, member = event.get("event"), event.get("member")
        if kind == "member-joined":
            if member and self.is_local(member):
                self.members.remember(member, (event.get("queue") or "-", float(event.get("at") or 0)))
                self.m.fsapp_queue_joined_total.labels(event.get("queue") or "-").inc()
            return
        known = self.members.get(member)
        if known is None:
            return
        queue, joined_at = known
        if kind == "member-offered":
            self.m.fsapp_offers_total.labels(queue).inc(len(event.get("agents") or ()))
        elif kind == "member-answered":
            self._left(queue, "answered", joined_at, event)
            self.m.fsapp_offer_results_total.labels(queue, "answered").inc()
        elif kind in LEAVE_EVENTS:
            self._left(queue, LEAVE_EVENTS[kind], joined_at, event)
            self.members.pop(member, None)
        elif kind == "agent-released":
            result = str(event.get("result") or "-")
            self.m.fsapp_offer_results_total.labels(queue, result).inc()
            if result == "completed":
                self.members.pop(member, None)

    def _left(self, queue: str, outcome: str, joined_at: float, event: dict) -> None:
        self.m.fsapp_queue_left_total.labels(queue, outcome).inc()
        if event.get("at") is not None and joined_at:
            self.m.fsapp_queue_wait_seconds.labels(queue, outcome).observe(max(0.0, float(event["at"]) - joined_at))


def command_label(first_line: str) -> str:
    """'api uuid_bridge 1234 5678' -> 'api uuid_bridge'; 'sendmsg 1234' -> 'sendmsg'.
    Only the verb and an api's function name, and only if they look like names."""
    words = first_line.split(None, 2)
    if not words or not NAME.fullmatch(words[0]):
        return "other"
    if words[0] in ("api", "bgapi") and len(words) > 1:
        return f"{words[0]} {words[1]}" if NAME.fullmatch(words[1]) else f"{words[0]} other"
    return words[0]

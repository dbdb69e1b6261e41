"""Trace events: every node reports what happened, and simulate, flow tests (coverage),
reports and metrics all read the same stream.

An event is a dict with at least `event`, `flow`, `version`, `node`, `uuid` and `t`
(time.time()). Kinds:

    enter    a node starts                      kind
    prompt   prompts were played                prompts: [names]
    input    the caller answered a question     digits (what was entered, also when refused;
                                                '' = no input), valid: bool, outcome
                                                (accepted, no_input, invalid; declined for a
                                                confirm answered with another key), problem, refused
                                                (FreeSWITCH's <var>_invalid)
    typeahead_flushed  keys pressed before a confirm question were discarded: digits
    edge     the flow moves on                  to, label (next, options.1, cases[0], ...)
    error    something failed                   error (message)
    store    a row was written / query run      query or kind
    end      the call's flow part ended         reason (hangup, transfer, queue, caller_hangup,
                                                error, return), cause
"""
from __future__ import annotations

import collections
import logging
from typing import Callable

from fsapp.log import get_logger

Tracer = Callable[[dict], None]
log = get_logger("fsapp.flow.trace")


class Recorder:
    """Keeps every event (simulate, flow tests)."""

    def __init__(self):
        self.events: list[dict] = []

    def __call__(self, event: dict) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[dict]:
        return [e for e in self.events if e["event"] == kind]


class NodeCounter:
    """Per-node and per-edge counts, the figures behind "which menu nodes callers reach and
    where they give up" (domain brief section 4)."""

    def __init__(self):
        self.entered: collections.Counter = collections.Counter()
        self.edges: collections.Counter = collections.Counter()
        self.ended: collections.Counter = collections.Counter()  # (flow, node, reason)
        # (flow, node, outcome): answers per question node, no_input and invalid apart
        self.inputs: collections.Counter = collections.Counter()

    def __call__(self, event: dict) -> None:
        # called for every trace event (about 50 a call): no key built for those not counted
        kind = event["event"]
        if kind == "enter":
            self.entered[event.get("flow"), event.get("node")] += 1
        elif kind == "edge":
            self.edges[event.get("flow"), event.get("node"), event.get("label"), event.get("to")] += 1
        elif kind == "input" and event.get("outcome"):
            self.inputs[event.get("flow"), event.get("node"), event["outcome"]] += 1
        elif kind == "end":
            self.ended[event.get("flow"), event.get("node"), event.get("reason")] += 1


def log_tracer(event: dict) -> None:
    """Trace events as DEBUG log lines (errors as WARNING), carrying the call uuid."""
    error = event["event"] == "error"
    if not log.isEnabledFor(logging.WARNING if error else logging.DEBUG):
        return       # the usual case for all but errors: no fields built for a line never written
    fields = {k: v for k, v in event.items() if k not in ("event", "t", "uuid")}
    if error:
        log.warning("flow error", extra=fields)
    else:
        log.debug(f"flow {event['event']}", extra=fields)


def fan_out(*tracers: Tracer | None) -> Tracer:
    live = [t for t in tracers if t is not None]

    def trace(event: dict) -> None:
        for tracer in live:
            tracer(event)
    return trace


class NodeVisitWriter:
    """Stores one `node_visit` row per node a call leaves (flow, node, entered_at, left_at,
    outcome = the edge taken or how the call ended, digits = the last input there): the
    per-node figures of the reports ("which menu nodes callers reach, where they give up").

    A call's rows are kept until its flow part ends (or `batch` of them are waiting, for a
    call that loops long) and then go in one store.write_many: one trip to the database
    and one commit for the lot, instead of one per node. Installed by record_node_visits,
    the last ones wait a little longer, for the call record: the Session takes them
    (take) and writes them with it, one trip and one commit for the whole call's end.
    They go through the store's durable outbox like any write; a failing write is
    logged, never raised, so reporting can not break a call. (A worker killed mid-call
    loses that call's waiting rows, as it loses the call record, written at the end too.)
    """

    def __init__(self, store, clock=None, batch: int = 50):
        self.store = store
        # the store's clock unless told otherwise, so visits and the rows they explain agree
        self.clock = clock or (lambda: store.clock())
        self.batch = batch
        # Kept per call, so a call's end touches its own visits only, not those of every
        # call in progress (with 1,000 calls at once a scan of all of them per call end
        # showed in bench/hotline_load.py).
        self.open: dict[str, dict] = {}         # uuid -> {flow: the visit in progress}
        self.seen: dict[str, dict] = {}         # uuid -> {flow: nodes already visited}: revisits
        self.count: collections.Counter = collections.Counter()
        self.waiting: dict[str, list] = {}      # uuid -> rows left to write: (kind, row, key)
        self.handed_over = False                # True: the Session takes a call's last rows (take)

    def __call__(self, event: dict) -> None:
        uuid, kind = event.get("uuid"), event["event"]
        if kind == "enter":
            flow, node = event.get("flow"), event.get("node")
            seen = self.seen.setdefault(uuid, {})
            nodes = seen.get(flow)
            self.open.setdefault(uuid, {})[flow] = {
                "call_uuid": uuid, "flow": flow, "node": node, "flow_version": event.get("version"),
                "entered_at": self.clock(), "digits": None, "no_inputs": 0, "invalid_inputs": 0,
                "revisit": int(nodes is not None and node in nodes),   # calls per node = visits - revisits
                "flow_entry": int(nodes is None)}                      # calls per flow
            if nodes is None:
                seen[flow] = {node}
            else:
                nodes.add(node)
        elif kind == "input":
            visit = self.open.get(uuid, {}).get(event.get("flow"))
            if visit is not None and event.get("digits") is not None:
                visit["digits"] = str(event["digits"])[:40]
                if event["digits"] == "":
                    visit["no_inputs"] += 1            # the reports' no-input per node
                elif event.get("valid") is False:
                    visit["invalid_inputs"] += 1       # ... and invalid input
        elif kind == "edge":
            visits = self.open.get(uuid)
            visit = visits.pop(event.get("flow"), None) if visits else None
            if visit is not None:
                self._left(visit, str(event.get("label")))
        elif kind == "end":
            for visit in self.open.pop(uuid, {}).values():
                self._left(visit, str(event.get("reason")), flush=False)
            if not self.handed_over:
                self._flush(uuid)
            self.count.pop(uuid, None)
            self.seen.pop(uuid, None)

    def _left(self, visit: dict, outcome: str, flush: bool = True) -> None:
        uuid = visit["call_uuid"]
        self.count[uuid] += 1
        left = self.clock()
        # The visit (no longer open: the callers popped it) becomes the row itself.
        # created_at as when the row was one write per visit: when the caller left the node
        visit["left_at"] = left
        visit["outcome"] = outcome[:40]
        visit["created_at"] = left
        waiting = self.waiting.setdefault(uuid, [])
        waiting.append(("node_visit", visit, f"{uuid}:visit:{self.count[uuid]}"))
        if flush and len(waiting) >= self.batch:
            self._flush(uuid)

    def take(self, uuid) -> list[tuple[str, dict, str]]:
        """The call's rows not written yet, for its Session to write with the call record."""
        return self.waiting.pop(uuid, None) or []

    def _flush(self, uuid) -> None:
        rows = self.waiting.pop(uuid, None)
        if not rows:
            return
        try:
            self.store.write_many(rows)
        except Exception as exc:  # see the class docstring
            log.warning("node visits not stored", extra={"rows": len(rows), "node": rows[0][1]["node"],
                                                         "error": str(exc)})


def record_node_visits(services) -> NodeVisitWriter:
    """What `[flows] node_visits = true` does to a flow's Services: one node_visit row per
    node a call leaves, in services.store; the call's last rows go with its call record."""
    writer = NodeVisitWriter(services.store)
    services.tracer = fan_out(services.tracer, writer)
    services.held_rows = writer.take
    writer.handed_over = True
    return writer

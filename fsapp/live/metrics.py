"""The Prometheus metrics of `fsapp serve`, declared once.

SPECS is the one list: it builds the metric objects (Metrics), docs/metrics.md lists the
same rows (tests/live/test_metrics_doc.py compares them) and the Grafana dashboard may use
only these names (tests/live/test_dashboard.py).

Labels carry configuration words only (flow, node, queue, connection names; outcomes
and states from fixed vocabularies). No caller number, name, uuid or digit is ever a
label: it would leak caller data and give every call its own time series.

Several workers: each `fsapp serve` serves its own numbers on [metrics] listen (a port
per worker), or, with PROMETHEUS_MULTIPROC_DIR set, every worker writes its values to
files in that directory and any worker's endpoint answers for all of them
(`multiprocess` below says how each gauge is combined).
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# seconds: from a few seconds in the queue to the half hour a surge day can bring
WAIT_BUCKETS = (1, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
# seconds: ESL commands normally take a millisecond; FreeSWITCH under load, hundreds
ROUND_TRIP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10)


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str              # counter | gauge | histogram
    labels: tuple[str, ...]
    help: str
    multiprocess: str = ""  # gauges: how values of several workers combine
    buckets: tuple = ()


SPECS: tuple[Spec, ...] = (
    Spec("fsapp_calls_in_progress", "gauge", ("flow",),
         "Calls running a flow in this worker now (by the flow the call started in).", "livesum"),
    Spec("fsapp_calls_total", "counter", ("flow", "outcome"),
         "Calls whose flow part ended, by outcome: hangup, transfer, queue, caller_hangup, error."),
    Spec("fsapp_node_visits_total", "counter", ("flow", "node"),
         "Times a call entered a flow node (which menu nodes callers reach)."),
    Spec("fsapp_flow_errors_total", "counter", ("flow", "node"),
         "Errors a flow node reported (sql failure, queue unreachable, unplanned exception)."),
    Spec("fsapp_queue_waiting", "gauge", ("queue",),
         "Callers waiting in the queue now (shared state: every worker reports the same).", "mostrecent"),
    Spec("fsapp_queue_longest_wait_seconds", "gauge", ("queue",),
         "Wait of the queue's longest-waiting caller now.", "mostrecent"),
    Spec("fsapp_queue_joined_total", "counter", ("queue",),
         "Callers that joined the queue (counted by the worker serving them)."),
    Spec("fsapp_queue_left_total", "counter", ("queue", "outcome"),
         "Callers that left the queue, by outcome: answered, abandoned, overflow, timeout, callback."),
    Spec("fsapp_queue_wait_seconds", "histogram", ("queue", "outcome"),
         "Time from joining the queue to leaving it, by outcome (answered: the speed of answer).",
         buckets=WAIT_BUCKETS),
    Spec("fsapp_agents", "gauge", ("state",),
         "Agents by board state: available, ringing, on_call, wrap_up, break, logged_out.", "mostrecent"),
    Spec("fsapp_offers_total", "counter", ("queue",),
         "Offers made: one per agent rung for a caller."),
    Spec("fsapp_offer_results_total", "counter", ("queue", "result"),
         "How offers and the calls they became ended: answered, completed, no_answer, busy, reject, cancelled."),
    Spec("fsapp_esl_connected", "gauge", ("connection",),
         "1 while the inbound Event Socket connection (host:port) is up, else 0.", "max"),
    Spec("fsapp_esl_reconnects_total", "counter", ("connection",),
         "Times the inbound Event Socket connection was established again after a loss."),
    Spec("fsapp_esl_command_seconds", "histogram", ("command",),
         "Round-trip time of Event Socket commands (api NAME, bgapi NAME, sendmsg, event, ...).",
         buckets=ROUND_TRIP_BUCKETS),
    Spec("fsapp_db_up", "gauge", ("connection",),
         "1 while the database connection's circuit breaker is closed, else 0.", "min"),
    Spec("fsapp_db_errors_total", "counter", ("connection",),
         "Database calls that failed because the server was unavailable (connect, timeout, lost link)."),
    Spec("fsapp_outbox_depth", "gauge", (),
         "Rows waiting in the durable outbox spool to be written to the database.", "max"),
    Spec("fsapp_outbox_dead", "gauge", (),
         "Rows the outbox gave up on (dead letters; `fsapp db outbox replay --dead`).", "max"),
    Spec("fsapp_redis_up", "gauge", ("connection",),
         "1 while the routing state's Redis (host:port) answers PING, else 0 (none with the memory backend).",
         "min"),
    Spec("fsapp_redis_errors_total", "counter", ("connection", "operation"),
         "Redis failures: ping (the health check every [metrics] sample_interval failed), events "
         "(the routing events reader lost its connection)."),
)

BY_NAME = {spec.name: spec for spec in SPECS}


def multiprocess_dir() -> str | None:
    """The shared directory of multiprocess mode, if this process uses it."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("prometheus_multiproc_dir") or None


class Metrics:
    """The metric objects of one process: `metrics.fsapp_calls_total.labels(...).inc()`.

    A fresh registry per instance (tests make several); in multiprocess mode the values
    go to the shared directory whatever the registry.
    """

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry if registry is not None else CollectorRegistry()
        for spec in SPECS:
            setattr(self, spec.name, _build(spec, self.registry))

    def get(self, name: str):
        return getattr(self, name)


def _build(spec: Spec, registry: CollectorRegistry):
    # prometheus_client names a counter without its _total suffix
    if spec.kind == "counter":
        return Counter(spec.name.removesuffix("_total"), spec.help, spec.labels, registry=registry)
    if spec.kind == "histogram":
        return Histogram(spec.name, spec.help, spec.labels, registry=registry, buckets=spec.buckets)
    return Gauge(spec.name, spec.help, spec.labels, registry=registry,
                 multiprocess_mode=spec.multiprocess or "livesum")

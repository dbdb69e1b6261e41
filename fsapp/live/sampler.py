"""The I/O edge of the metrics: every [metrics] sample_interval seconds read the shared
state nobody announces (queue lengths, agent states, database and Redis health, the
outbox, the inbound ESL link) and set the gauges.

    sampler = Sampler(metrics, handler)     # the FlowHandler of `fsapp serve --flows`
    sampler.start(5.0)                      # a greenlet; sampler.sample() once, for tests

It follows the handler's services (a reload may bring a router or store the previous
flows did not need) and hooks the RoutingFeed into a router's events the first time it
sees it.
"""
from __future__ import annotations

import time

import gevent

from fsapp.live.agents import BOARD_STATES, callers_waiting, count_by_state
from fsapp.live.feeds import RoutingFeed
from fsapp.live.metrics import Metrics
from fsapp.log import get_logger

log = get_logger("fsapp.live.sampler")


class Sampler:
    def __init__(self, metrics: Metrics, handler, clock=time.time):
        self.m = metrics
        self.handler = handler
        self.clock = clock
        self._fed_backends: set[int] = set()
        self._connects: dict[str, int] = {}        # inbound client -> connects seen so far
        self._db_errors: dict[str, int] = {}
        self._event_errors: dict[int, int] = {}    # backend -> pub/sub reader errors counted so far
        self._greenlet: gevent.Greenlet | None = None

    def start(self, interval: float) -> "Sampler":
        self._greenlet = gevent.spawn(self._loop, interval)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(block=False)

    def _loop(self, interval: float) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # a sampler bug must not stop the next sample
                log.exception("metrics sample failed")
            gevent.sleep(interval)

    def sample(self) -> None:
        services = getattr(self.handler, "services", None)
        router = getattr(services, "router", None)
        store = getattr(services, "store", None)
        if router is not None:
            self._feed(router)
            self._routing(router)
            self._esl(router.esl)
        if store is not None:
            self._store(store)

    def _feed(self, router) -> None:
        if id(router.backend) in self._fed_backends:
            return
        tickets = router.dispatcher.tickets
        router.backend.subscribe(RoutingFeed(self.m, is_local=lambda member: member in tickets))
        self._fed_backends.add(id(router.backend))

    def _routing(self, router) -> None:
        backend, now = router.backend, self.clock()
        if hasattr(backend, "r"):
            self._reader_errors(backend)
        try:
            for name in router.config.queues:
                waiting = [m for m in backend.members(name) if callers_waiting(m)]
                self.m.fsapp_queue_waiting.labels(name).set(len(waiting))
                oldest = min((m.joined_at for m in waiting), default=None)
                self.m.fsapp_queue_longest_wait_seconds.labels(name).set(0 if oldest is None else max(0, now - oldest))
            counts = count_by_state(backend.agents(), now)
            for state in BOARD_STATES:
                self.m.fsapp_agents.labels(state).set(counts[state])
            if hasattr(backend, "r"):                  # the Redis backend
                backend.r.ping()
                self.m.fsapp_redis_up.labels(redis_name(backend)).set(1)
        except Exception as exc:
            if not hasattr(backend, "r"):
                raise
            self.m.fsapp_redis_up.labels(redis_name(backend)).set(0)
            self.m.fsapp_redis_errors_total.labels(redis_name(backend), "ping").inc()
            log.warning("Redis unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})

    def _reader_errors(self, backend) -> None:
        errors, seen = getattr(backend, "event_errors", 0), self._event_errors.get(id(backend), 0)
        if errors > seen:
            self.m.fsapp_redis_errors_total.labels(redis_name(backend), "events").inc(errors - seen)
        self._event_errors[id(backend)] = errors

    def _esl(self, client) -> None:
        if not hasattr(client, "connects"):
            return
        name = f"{client.host}:{client.port}"
        self.m.fsapp_esl_connected.labels(name).set(1 if client.connected else 0)
        # InboundClient.connects counts every connect: the first one is not a reconnect
        seen, now = self._connects.get(name, 0), client.connects
        new = max(0, now - max(seen, 1))
        if new:
            self.m.fsapp_esl_reconnects_total.labels(name).inc(new)
        self._connects[name] = max(seen, now)

    def _store(self, store) -> None:
        for name, breaker in store.breakers.items():
            self.m.fsapp_db_up.labels(name).set(1 if breaker.state == "closed" else 0)
            errors = store.unavailable_errors.get(name, 0)
            if errors > self._db_errors.get(name, 0):
                self.m.fsapp_db_errors_total.labels(name).inc(errors - self._db_errors.get(name, 0))
            self._db_errors[name] = errors
        status = store.outbox.status()
        self.m.fsapp_outbox_depth.set(status["pending"])
        self.m.fsapp_outbox_dead.set(status["dead"])


def redis_name(backend) -> str:
    """host:port of the Redis behind a RedisBackend (never the URL: it may hold a password)."""
    kwargs = backend.r.connection_pool.connection_kwargs
    return f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}" if "host" in kwargs else kwargs.get("path", "redis")

"""Every worker of every node follows the line's current version in the shared store.

With `[deploy] store = "redis"`, `fsapp serve --flows` runs a VersionFollower: the
worker registers itself in Redis (a key per worker, renewed every heartbeat, gone a few
heartbeats after the worker stops), and whenever `deploy:current` names a version it has
not loaded, it writes that version's files into its own line directories (only the
files that differ, each atomically), reloads its flows (the same validation as
`fsapp reload`: a broken line is not installed) and acknowledges the version with the
result. `fsapp deploy` (and rollback) then waits for an acknowledgement from every
registered worker and reports each one; a worker on a node whose files are on another
host (or another share) is reached this way, with no control socket across hosts.

    follower = VersionFollower(store, handler, layout, worker_id, info).start()
    acks = wait_for_acks(store, number, store.workers(), deadline_s)

Keys (under the deploy prefix): worker:ID (JSON, with expiry), ack:NUMBER (hash ID ->
JSON {ok, generation, problems, at}).
"""
from __future__ import annotations

import json
import time

import gevent

from fsapp.deploy import line
from fsapp.log import get_logger

log = get_logger("fsapp.deploy.follow")

HEARTBEAT_S = 2.0            # how often a worker says it is alive and checks the version
WORKER_TTL_S = 3 * HEARTBEAT_S
ACK_KEEP_S = 7 * 86400


class WorkerRegistry:
    """The worker and acknowledgement keys beside a RedisStore's versions."""

    def __init__(self, store):
        self.redis, self.prefix = store.redis, store.prefix

    def register(self, worker: str, info: dict, ttl_s: float = WORKER_TTL_S) -> None:
        self.redis.set(f"{self.prefix}worker:{worker}", json.dumps(info, sort_keys=True), px=int(ttl_s * 1000))

    def unregister(self, worker: str) -> None:
        self.redis.delete(f"{self.prefix}worker:{worker}")

    def workers(self) -> dict[str, dict]:
        out = {}
        for key in self.redis.scan_iter(match=f"{self.prefix}worker:*"):
            data = self.redis.get(key)
            if data is not None:
                name = key.decode() if isinstance(key, bytes) else key
                out[name[len(self.prefix) + len("worker:"):]] = json.loads(data)
        return out

    def ack(self, number: int, worker: str, answer: dict) -> None:
        key = f"{self.prefix}ack:{number}"
        self.redis.hset(key, worker, json.dumps(answer, sort_keys=True))
        self.redis.expire(key, ACK_KEEP_S)

    def acks(self, number: int) -> dict[str, dict]:
        raw = self.redis.hgetall(f"{self.prefix}ack:{number}")
        return {(k.decode() if isinstance(k, bytes) else k): json.loads(v) for k, v in raw.items()}


class VersionFollower:
    def __init__(self, store, handler, layout: line.Layout, worker: str, info: dict | None = None,
                 heartbeat_s: float = HEARTBEAT_S):
        self.store, self.handler, self.layout = store, handler, layout
        self.registry = WorkerRegistry(store)
        self.worker, self.info = worker, dict(info or {})
        self.heartbeat_s = heartbeat_s
        self.loaded: int | None = None
        self._greenlet = None

    def start(self) -> "VersionFollower":
        """Registered at once (a deploy from now on waits for this worker), then the
        rounds run in a greenlet."""
        self.registry.register(self.worker, dict(self.info, version=None,
                                                 generation=self.handler.registry.generation),
                               ttl_s=max(WORKER_TTL_S, 3 * self.heartbeat_s))
        self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill(timeout=2)
        try:
            self.registry.unregister(self.worker)
        except Exception:
            pass       # Redis away: the key expires by itself

    def _run(self) -> None:
        while True:
            try:
                self.step()
            except Exception as exc:    # Redis away, a version unreadable: said, tried again
                log.warning("version check failed; retrying", extra={"error": f"{type(exc).__name__}: {exc}"})
            gevent.sleep(self.heartbeat_s)

    def step(self) -> dict | None:
        """One round: say this worker is alive; load the current version if it is new.
        Returns the acknowledgement written, if any."""
        current = self.store.current_number()
        self.registry.register(self.worker, dict(self.info, version=self.loaded,
                                                 generation=self.handler.registry.generation),
                               ttl_s=max(WORKER_TTL_S, 3 * self.heartbeat_s))
        if current is None or current == self.loaded:
            return None
        version = self.store.get(current)
        # files written with fsync: in gevent's thread pool, so calls in progress are not held up
        written = gevent.get_hub().threadpool.apply(line.write, (self.layout, version.files))
        answer = self.handler.reload()
        ack = {"ok": bool(answer.get("ok")), "generation": answer.get("generation"),
               "problems": answer.get("problems", [])[:20], "written": len(written), "at": time.time(),
               **self.info}
        if ack["ok"]:
            self.loaded = current
            log.info("version loaded", extra={"version": current, "generation": ack["generation"],
                                              "files_written": len(written)})
        else:
            # not loaded: acknowledged as failed once; retried when a newer version comes
            self.loaded = current
            log.warning("version not loaded: problems", extra={"version": current,
                                                               "problems": len(ack["problems"])})
        self.registry.ack(current, self.worker, ack)
        self.registry.register(self.worker, dict(self.info, version=self.loaded,
                                                 generation=self.handler.registry.generation))
        return ack


def wait_for_acks(registry: WorkerRegistry, number: int, expected, deadline_s: float,
                  poll_s: float = 0.2) -> dict[str, dict | None]:
    """{worker: its acknowledgement of version `number`, or None if none came in time}."""
    expected = sorted(expected)
    end = time.monotonic() + deadline_s
    while True:
        acks = registry.acks(number)
        if all(w in acks for w in expected) or time.monotonic() >= end:
            return {w: acks.get(w) for w in expected}
        gevent.sleep(poll_s)

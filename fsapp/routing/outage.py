"""What routing does while its shared state (Redis) cannot be reached.

    guard = StateGuard(backend, recover=router.recover_state, on_down=router.fail_waiting)
    guard.check()            # raises RoutingUnavailable while the state is down
    guard.failed(exc)        # an operation met backend.unavailable_errors

The first failure marks the state down (logged once, as an error) and starts one
reconnect loop: PING with capped exponential back-off (`Backoff`: 0.2 s, 0.4 s, ...
at most 5 s, +-20 % jitter so many workers do not reconnect in step). While down, a new
caller gets RoutingUnavailable at once (the flow's queue node takes on_error); callers
already waiting keep their hold music for `grace` seconds and then get it too, so each
caller has an answer within detection + grace whether Redis comes back or not. Callers
already ringing an agent or talking go on: their I/O is on the switch, not in Redis.

When PING answers, `recover()` runs (re-seed from routing.yaml, put back what this
worker still holds, reconcile against the switch: Reconciler.recover) and only then is
the state marked up; if recovery fails, the back-off goes on.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Iterator

import gevent
import gevent.event

from fsapp.log import get_logger

log = get_logger("fsapp.routing.outage")


class RoutingUnavailable(RuntimeError):
    """The routing state (Redis) cannot be reached: the caller is not queued, or no longer.
    The flow's queue node takes its on_error path (else on_overflow). `down_s`: how long
    the state has been unreachable."""

    def __init__(self, message: str, down_s: float = 0.0):
        super().__init__(message)
        self.down_s = down_s


@dataclass(frozen=True)
class Backoff:
    first: float = 0.2
    factor: float = 2.0
    cap: float = 5.0
    jitter: float = 0.2       # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]

    def delays(self, rand: Callable[[], float] = random.random) -> Iterator[float]:
        """0.2, 0.4, 0.8, 1.6, 3.2, 5, 5, ... (before jitter), without end."""
        delay = self.first
        while True:
            yield delay * (1 - self.jitter + 2 * self.jitter * rand())
            delay = min(self.cap, delay * self.factor)


class StateGuard:
    def __init__(self, backend, recover: Callable[[], list[str]], on_down: Callable[[], None] | None = None,
                 backoff: Backoff = Backoff(), grace: float = 5.0):
        self.backend = backend
        self.recover = recover
        self.on_down = on_down
        self.backoff = backoff
        self.grace = grace
        self.up = True
        self.down_since = 0.0        # time.monotonic() of the current outage's first failure
        self.outages = 0             # how many times the state went down
        self.recoveries = 0          # how many times it came back and was repaired
        self.last_repairs: list[str] = []
        self._recovered = gevent.event.Event()
        self._recovered.set()
        self._reconnect: gevent.Greenlet | None = None
        self._grace: gevent.Greenlet | None = None

    def check(self) -> None:
        if not self.up:
            down = time.monotonic() - self.down_since
            raise RoutingUnavailable(f"routing state (Redis) unreachable for {down:.1f} s; reconnecting", down)

    def unavailable(self, exc: BaseException) -> RoutingUnavailable:
        """`exc` (one of backend.unavailable_errors) as the typed error, the outage noted."""
        self.failed(exc)
        return RoutingUnavailable(f"routing state (Redis) unreachable: {exc}",
                                  time.monotonic() - self.down_since)

    def failed(self, exc: BaseException) -> None:
        """An operation could not reach the state. The first report of an outage marks it
        down and starts the reconnect loop; later ones are ignored."""
        if not self.up:
            return
        self.up = False
        self.down_since = time.monotonic()
        self.outages += 1
        self._recovered.clear()
        log.error("routing state unreachable: new callers take on_error, waiting ones after "
                  f"{self.grace:g} s; reconnecting with back-off",
                  extra={"error": f"{type(exc).__name__}: {exc}", "outage": self.outages})
        self._reconnect = gevent.spawn(self._reconnect_loop, self.outages)
        if self.on_down is not None:
            self._grace = gevent.spawn_later(self.grace, self._grace_over, self.outages)

    def wait_up(self, timeout: float | None = None) -> bool:
        return self._recovered.wait(timeout)

    def stop(self) -> None:
        for g in (self._reconnect, self._grace):
            if g is not None:
                g.kill(block=False)

    def _grace_over(self, outage: int) -> None:
        if not self.up and self.outages == outage:
            self.on_down()

    def _reconnect_loop(self, outage: int) -> None:
        attempts = 0
        for delay in self.backoff.delays():
            gevent.sleep(delay)
            attempts += 1
            try:
                self.backend.ping()
                repairs = self.recover()
            except self.backend.unavailable_errors as exc:
                log.info("routing state still unreachable", extra={"attempt": attempts, "error": str(exc)})
                continue
            except Exception:
                log.exception("routing state reachable but its repair failed; retrying",
                              extra={"attempt": attempts})
                continue
            down = time.monotonic() - self.down_since
            self.last_repairs = repairs
            self.recoveries += 1
            self.up = True
            self._recovered.set()
            log.warning(f"routing state back after {down:.1f} s ({attempts} attempts); "
                        f"{len(repairs)} repairs", extra={"outage": outage, "repairs": repairs})
            return

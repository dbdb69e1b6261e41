"""Emulator time: every emulated duration goes through a clock.

RealClock(scale=1) is wall time; RealClock(scale=10) makes emulated time run ten times
faster than wall time (a 60 s ring takes 6 s), in proportion, everywhere.

VirtualClock() runs at wall speed but *jumps* to the next emulated deadline (end of a
prompt, a digit timeout, a ring, a scripted caller's next step) when nobody can be
acting: no Event Socket traffic for `idle_s` of wall time, and no channel that an
outbound socket controls is parked waiting for the app's next command (then it is
the app's turn, and its own wall-clock work must not be overtaken). See
docs/emulator.md for what this does and does not guarantee.

Clocks offer:
  now()                                emulated epoch seconds
  sleep(seconds, jump=True)            wait emulated seconds
  wait(events, seconds, poll=None)     wait until one of the gevent events is set or
                                       `seconds` of emulated time pass (poll: wake at
                                       least every `poll` wall seconds); True if an event
                                       was set
  touch()                              note Event Socket activity (VirtualClock)
"""
from __future__ import annotations

import heapq
import itertools
import math
import time

import gevent
from gevent.event import Event as GEvent


class RealClock:
    def __init__(self, scale: float = 1.0):
        if scale <= 0:
            raise ValueError(f"clock scale must be > 0, got {scale!r}")
        self.scale = float(scale)
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) * self.scale

    def to_wall(self, seconds: float) -> float:
        return max(0.0, seconds) / self.scale

    def sleep(self, seconds: float, jump: bool = True) -> None:
        self.wait([], seconds)

    def wait(self, events, seconds: float, poll: float | None = None, jump: bool = True) -> bool:
        """Never returns early on the timeout: gevent's timers count from the loop's cached
        time, which a busy process leaves stale, so gevent.sleep(0.6) may return a little
        before 0.6 s of monotonic time have passed (a 0.6 s hold measured 599,964 us by
        the emulator's own timestamps under load). A switch's timers do not end early."""
        events = list(events)
        if seconds == math.inf:
            return bool(gevent.wait(events, timeout=poll, count=1))
        if self.to_wall(seconds) <= 0:       # a zero wait still yields, as gevent.sleep(0) does
            if not events:
                gevent.sleep(0)
                return False
            return bool(gevent.wait(events, timeout=0, count=1))
        end = time.monotonic() + self.to_wall(seconds)
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return any(e.is_set() for e in events) if events else False
            timeout = left if poll is None else min(poll, left)
            if not events:
                gevent.sleep(timeout)
            elif gevent.wait(events, timeout=timeout, count=1):
                return True
            if poll is not None:
                return any(e.is_set() for e in events)

    def touch(self) -> None:
        pass

    def add_veto(self, fn) -> None:
        pass


class VirtualClock:
    def __init__(self, idle_s: float = 0.05, scale: float | None = None):
        # `scale` is accepted for callers of the earlier scaled-clock contract and ignored:
        # time jumps instead.
        if idle_s <= 0:
            raise ValueError(f"idle_s must be > 0, got {idle_s!r}")
        self.idle_s = idle_s
        self.scale = 1.0
        self._wall0 = time.time()
        self._mono0 = time.monotonic()
        self._offset = 0.0                 # emulated seconds gained by jumps
        self._timers: list = []            # heap of [deadline, seq, event, jump, cancelled]
        self._seq = itertools.count()
        self._activity = time.monotonic()
        self._vetoes: list = []
        self._kick = GEvent()
        self._driver = None
        self.jumped = 0.0                  # total emulated seconds skipped (for tests/bench)

    def now(self) -> float:
        return self._wall0 + (time.monotonic() - self._mono0) + self._offset

    def to_wall(self, seconds: float) -> float:
        return max(0.0, seconds)           # an upper bound: jumps make it shorter

    def touch(self) -> None:
        self._activity = time.monotonic()

    def add_veto(self, fn) -> None:
        """fn() -> True while time must not jump (e.g. an app's turn to act)."""
        self._vetoes.append(fn)

    def sleep(self, seconds: float, jump: bool = True) -> None:
        self.wait([], seconds, jump=jump)

    def wait(self, events, seconds: float, poll: float | None = None, jump: bool = True) -> bool:
        events = list(events)
        if seconds <= 0:
            return any(e.is_set() for e in events)
        timer = GEvent()
        entry = None
        if seconds != math.inf:
            entry = [self.now() + seconds, next(self._seq), timer, jump, False]
            heapq.heappush(self._timers, entry)
            self._ensure_driver()
        try:
            gevent.wait(events + [timer], timeout=poll, count=1)
        finally:
            if entry is not None:
                entry[4] = True            # cancelled; dropped lazily by the driver
        return any(e.is_set() for e in events)

    # ---- the driver -------------------------------------------------------------------
    def close(self) -> None:
        """End the driver greenlet now (it would linger up to a second after its last
        timer); a later wait() starts a new one."""
        if self._driver is not None:
            self._driver.kill(block=True)
            self._driver = None

    def _ensure_driver(self) -> None:
        if self._driver is None or self._driver.dead:
            self._driver = gevent.spawn(self._drive)
        self._kick.set()

    def _may_jump(self) -> bool:
        if time.monotonic() - self._activity < self.idle_s:
            return False
        return not any(veto() for veto in self._vetoes)

    def _drive(self) -> None:
        while True:
            while self._timers and self._timers[0][4]:
                heapq.heappop(self._timers)
            if not self._timers:
                self._kick.clear()
                if not self._kick.wait(timeout=1.0) and not self._timers:
                    return   # nothing scheduled: stop; the next wait() starts a new driver
                continue
            now = self.now()
            deadline = self._timers[0][0]
            if deadline <= now:
                entry = heapq.heappop(self._timers)
                entry[2].set()
                # What the timer wakes is activity: let it run (and answer) before any
                # further jump.
                self.touch()
                gevent.sleep(0)
                continue
            if self._may_jump():
                # Quiet for idle_s is not enough: on a starved machine (or with other
                # emulated lines in this process keeping the hub busy) a channel still
                # being set up may simply not have had its turn yet, and a jump then hands
                # a caller its 900 s give-up before fsapp even got the call (seen: a whole
                # line's calls hearing nothing). So everything runnable here runs first;
                # only if that changed nothing may time jump.
                gevent.idle()
                if not self._may_jump():
                    continue
                jumpable = [e[0] for e in self._timers if e[3] and not e[4]]
                if jumpable:
                    target = min(jumpable)
                    self._offset += target - now
                    self.jumped += target - now
                    continue
            self._kick.clear()
            self._kick.wait(timeout=min(deadline - now, self.idle_s / 2))

"""Emulator time.

Every wait in the emulator goes through a clock, so a scenario can run faster than
real time. RealClock(scale=1) is wall time; scale=10 makes emulated time run ten times
faster (a 60 s ring timeout takes 6 s). Timestamps in events come from clock.now(), so
they stay consistent with the durations the emulator reports.

Why there is no free-running virtual clock: the emulator talks to fsapp over real TCP,
and fsapp's own deadlines use wall time; jumping emulated time while fsapp is busy
would fire timeouts it could never have met. A scale factor keeps both sides in
proportion; see docs/emulator.md.
"""
from __future__ import annotations

import time

import gevent


class RealClock:
    def __init__(self, scale: float = 1.0):
        if scale <= 0:
            raise ValueError(f"clock scale must be > 0, got {scale!r}")
        self.scale = float(scale)
        self._wall0 = time.time()
        self._mono0 = time.monotonic()

    def now(self) -> float:
        """Emulated epoch seconds."""
        return self._wall0 + (time.monotonic() - self._mono0) * self.scale

    def sleep(self, seconds: float) -> None:
        gevent.sleep(max(0.0, seconds) / self.scale)

    def to_wall(self, seconds: float) -> float:
        """Wall-clock seconds that `seconds` of emulated time take (for gevent timeouts)."""
        return max(0.0, seconds) / self.scale


def VirtualClock(scale: float = 20.0) -> RealClock:  # noqa: N802 - contract name
    """The contract's fast clock: emulated time runs `scale` times faster than wall time."""
    return RealClock(scale=scale)

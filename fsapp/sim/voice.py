"""What one leg sends towards its far end (voiced and silent segments over emulated time).

At the bottom of the emulator: a channel keeps one for what it plays, a scripted caller
one for what it says, and `record` reads the far leg's.
"""
from __future__ import annotations

import math


class VoiceLog:
    """What one leg sends towards its far end: voiced / silent segments over emulated time.

    A scripted caller's Speak/Silence steps and everything the leg plays (playback,
    uuid_broadcast: a tone or a prompt is audio) are segments; idle time is no media at all
    (a loopback leg with nothing to send gives comfort-noise frames, which `record` skips).
    Times may be asked for in the past (`at`): the far end hears them late
    (LOOPBACK_MEDIA_DELAY_S in apps.dptools, record)."""

    def __init__(self, clock):
        self.clock = clock
        self.done: list[tuple[float, float, bool]] = []
        self.current: tuple[float, bool] | None = None
        self.watchers: set = set()

    def begin(self, voiced: bool) -> None:
        self.end()
        self.current = (self.clock.now(), voiced)
        self._notify()

    def end(self, at: float | None = None) -> None:
        """End the current segment now, or at `at` if that is earlier (a scripted length
        stays exact when the emulated clock wakes the caller late)."""
        if self.current is not None:
            start, voiced = self.current
            now = self.clock.now()
            self.done.append((start, max(start, min(now, at)) if at is not None else now, voiced))
            self.current = None
            self._notify()

    def _notify(self) -> None:
        for ch in list(self.watchers):
            ch.queue.wake.set()

    def _all(self, now: float):
        segs = list(self.done)
        if self.current is not None:
            segs.append((self.current[0], max(now, self.current[0]), self.current[1]))
        return segs

    def voiced_until(self, at: float) -> float | None:
        """While voice is heard at time `at`: when that voice ends (math.inf while it goes
        on); None when `at` is silence or no media."""
        for s, e, voiced in self._all(at):
            if voiced and s <= at < e:
                return e
        if self.current is not None and self.current[1] and self.current[0] <= at:
            return math.inf
        return None

    def silence_since(self, start: float, now: float) -> float | None:
        """When the current silence began (not before `start`), as heard at `now`;
        None while voiced."""
        if self.voiced_until(now) is not None:
            return None
        last_voice_end = start
        for s, e, voiced in self._all(now):
            if voiced and s < now and min(e, now) > last_voice_end:
                last_voice_end = min(e, now)
        return max(start, last_voice_end)

    def segments(self, start: float, end: float, frame_s: float = 0.0) -> list[tuple[float, bool]]:
        """(seconds, voiced) of what was sent between start and end; with frame_s, each
        boundary moves to the nearest whole frame after `start` (media comes in frames)."""
        out = []
        for s, e, voiced in self._all(end):
            s, e = max(s, start) - start, min(e, end) - start
            if frame_s:
                s, e = round(s / frame_s) * frame_s, round(e / frame_s) * frame_s
            if e > s:
                out.append((e - s, voiced))
        return out

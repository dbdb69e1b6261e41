"""A waiting caller's hold: music, the periodic announcement and the leave key.

`Hold` runs in its own greenlet on the caller's Call and tells the caller's inbox when
the caller hangs up (CallerGone) or presses the leave key (LeftQueue); `stop()` ends it
for good (uuid_break), so what comes next (a bridge, the flow's next prompt) does not
queue behind a looping tone. Every playback has a deadline.

`Announcer` is what is said every announce-frequency seconds: announce-sound, then with
announce-position the caller's place and estimated wait in the caller's language. The
prompts come from a resolver the Router is given (fsapp.routing.announce.QueuePrompts:
the prompt catalog and the say engine), since routing may not import fsapp.say or
fsapp.sounds (docs/architecture.md).
"""
from __future__ import annotations

from typing import Callable

import gevent
import gevent.event

from fsapp.esl import syntax
from fsapp.esl.errors import CallHangup, CommandError, CommandTimeout, ESLError
from fsapp.log import get_logger
from fsapp.routing.inbox import CallerGone, LeftQueue
from fsapp.routing.model import Queue

log = get_logger("fsapp.routing.hold")


def wait_minutes(estimate_s: float) -> int:
    """An estimated wait as the whole minutes a caller is told: rounded half up (2.5
    minutes is three, not Python's round-half-even two), at least one."""
    return max(1, int(estimate_s / 60 + 0.5))


class Announcer:
    """announce-sound, then (announce-position) "you are number three in line; your
    estimated wait is about two minutes" / "您前面还有两位，预计等待时间约两分钟"."""

    def __init__(self, queue: Queue, lang: str, prompts, position: Callable[[], int | None],
                 estimate: Callable[[int], float | None]):
        self.queue = queue
        self.lang = lang
        self.prompts = prompts               # QueuePrompts-like: position(q, n, lang), wait(q, minutes, lang)
        self.position = position
        self.estimate = estimate
        self._warned = False

    def play(self, call) -> None:
        q = self.queue
        if q.announce_sound:
            call.playback(q.announce_sound, timeout=30.0)
        if not q.announce_position:
            return
        position = self.position()
        if not position:
            return
        call.set("fsapp_queue_position", position)
        estimate = self.estimate(position)
        minutes = wait_minutes(estimate) if estimate is not None else None
        if estimate is not None:
            call.set("fsapp_queue_estimated_wait_s", int(estimate))
        if self.prompts is None:
            if not self._warned:
                self._warned = True
                log.warning("announce-position is set but the Router has no queue_prompts; position not spoken",
                            extra={"queue": q.name})
            return
        try:
            paths = self.prompts.position(q, position, self.lang)
            if minutes is not None:
                paths = paths + self.prompts.wait(q, minutes, self.lang)
        except (ValueError, LookupError) as exc:
            if not self._warned:
                self._warned = True
                log.warning("queue position not announced", extra={"queue": q.name, "lang": self.lang,
                                                                   "error": str(exc)})
            return
        call.playback(paths, timeout=10.0 + 2.0 * len(paths))


class Hold:
    def __init__(self, call, queue: Queue, inbox, esl, clock, announcer: Announcer | None):
        self.call = call
        self.queue = queue
        self.inbox = inbox
        self.esl = esl
        self.clock = clock
        self.announcer = announcer
        self._stop = gevent.event.Event()
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> "Hold":
        self._greenlet = gevent.spawn(self._run)
        return self

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        """End the hold music for good: whatever comes next (a bridge, the flow's next
        prompt after an overflow) must not queue behind a looping tone."""
        if self._greenlet is None or self._greenlet.dead:
            self._stop.set()
            return
        self._stop.set()
        if not getattr(self.call, "ended", False):
            try:
                self.esl.api(syntax.api_command("uuid_break", self.call.uuid, "all"), timeout=5.0)
            except ESLError:
                pass
        self._greenlet.join(timeout=3)
        if not self._greenlet.dead:
            self._greenlet.kill(block=True, timeout=2)

    def _run(self) -> None:
        call, q = self.call, self.queue
        frequency = q.announce_frequency if self.announcer is not None else 0.0
        try:
            if q.leave_key:
                call.set("playback_terminators", q.leave_key)
                call.flush_typeahead()
            next_announce = self.clock() + frequency if frequency else None
            while not self._stop.is_set():
                now = self.clock()
                if next_announce is not None and now >= next_announce:
                    self.announcer.play(call)
                    next_announce = self.clock() + frequency
                    continue
                segment = min(60.0, next_announce - now) if next_announce is not None else 60.0
                began = self.clock()
                try:
                    call.playback(q.moh_sound, timeout=max(segment, 0.5))
                except CommandTimeout:
                    pass                      # the deadline is how a segment ends
                if self._stop.is_set():
                    return
                digits = call.take_typeahead()
                if q.leave_key and q.leave_key in digits:
                    self.inbox.put(LeftQueue(q.leave_key))
                    return
                if self.clock() - began < 0.5:   # missing hold music: wait, do not spin
                    call.sleep(int(min(segment, 2.0) * 1000), timeout=5.0)
        except CallHangup as exc:
            self.inbox.put(CallerGone(getattr(exc, "cause", None) or "hangup"))
        except (CommandError, ESLError) as exc:
            if not self._stop.is_set():
                log.warning("hold failed; the caller keeps waiting in silence", extra={"error": str(exc)})

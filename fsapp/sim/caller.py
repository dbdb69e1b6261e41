"""Scripted callers: what a caller dials, hears, presses, says, and when it hangs up.

A caller is the A side of a loopback-like pair; the dialplan (and fsapp, through
the socket) runs on the B side. What B plays, the caller hears; what the caller
presses arrives on B as DTMF; what it says (Speak) is what B records.

Steps (run in order):
  WaitPrompt("main_menu")        wait until a prompt whose path contains the text has
                                 played (after="end", default) or started (after="start")
  Press("1"), Press("123#", gap_ms=100), Press("9", at=12.0)   (at = seconds since dialling)
  Speak(3.0)                     talk for 3 s (recorded as audio)
  Silence(4.0)                   stay silent for 4 s (recorded as silence)
  Wait(2.0)                      do nothing for 2 s (no media at all)
  Hangup(), Hangup(at=30.0)      hang up now / at 30 s after dialling
After the last step the caller stays on the line until the far end hangs up.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import gevent
from gevent.event import Event as GEvent

from .voice import VoiceLog

log = logging.getLogger("fsapp.sim")


@dataclass
class WaitPrompt:
    match: str
    after: str = "end"
    timeout: float = 60.0

    def __post_init__(self):
        if self.after not in ("start", "end"):
            raise ValueError(f"WaitPrompt({self.match!r}): after must be 'start' or 'end', got {self.after!r}")


@dataclass
class Press:
    digits: str
    gap_ms: int = 100
    at: float | None = None

    def __post_init__(self):
        bad = [d for d in self.digits if d not in "0123456789*#ABCDabcd"]
        if bad or not self.digits:
            raise ValueError(f"Press({self.digits!r}): digits must be 0-9 * # A-D")


@dataclass
class Speak:
    seconds: float


@dataclass
class Silence:
    seconds: float


@dataclass
class Wait:
    seconds: float


@dataclass
class Hangup:
    at: float | None = None
    cause: str = "NORMAL_CLEARING"


STEP_TYPES = (WaitPrompt, Press, Speak, Silence, Wait, Hangup)


@dataclass
class CallerScript:
    dial: str
    caller_id: str = "0000000000"
    steps: list = field(default_factory=list)
    caller_name: str = ""
    variables: dict = field(default_factory=dict)

    def __post_init__(self):
        for i, step in enumerate(self.steps):
            if not isinstance(step, STEP_TYPES):
                raise TypeError(f"CallerScript(dial={self.dial!r}) step {i}: {step!r} is not one of "
                                f"{', '.join(t.__name__ for t in STEP_TYPES)}")


@dataclass
class CallReport:
    dial: str
    uuid: str | None = None          # the leg fsapp controls (runs the dialplan / socket)
    caller_uuid: str | None = None   # the caller's own leg
    heard: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)   # files played to the caller that do not exist
    pressed: list[str] = field(default_factory=list)
    recordings: list[str] = field(default_factory=list)
    bridged_to: list[str] = field(default_factory=list)
    received_dtmf: list[str] = field(default_factory=list)
    hangup_cause: str | None = None
    hung_up_by: str | None = None    # "caller" or "switch"
    answered: bool = False
    timeline: list[tuple[float, str, str]] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)  # (Event-Name, Unique-ID)
    error: str | None = None


class Caller:
    def __init__(self, switch, script: CallerScript):
        self.switch = switch
        self.script = script
        self.clock = switch.clock
        self.report = CallReport(dial=script.dial)
        self.voice = VoiceLog(self.clock)
        self._done = GEvent()
        self._changed = GEvent()
        self._prompt_log: list[tuple[str, str, int]] = []   # (phase, path, play number) in order
        self._plays = 0
        self._matched: set[int] = set()   # plays a WaitPrompt already matched (start or end)
        self._cursor = 0
        self.leg = None
        self._t0 = self.clock.now()
        self._greenlet = None

    # ---- from the switch ------------------------------------------------------------
    def _note(self, what: str, detail: str = "") -> None:
        self.report.timeline.append((round(self.clock.now() - self._t0, 3), what, detail))

    def on_prompt_start(self, path: str, seconds: float) -> None:
        self.report.heard.append(path)
        self._plays += 1
        self._prompt_log.append(("start", path, self._plays))
        self._note("prompt", path)
        self._changed.set()

    def on_prompt_missing(self, path: str) -> None:
        if path not in self.report.missing:
            self.report.missing.append(path)
        self._note("missing", path)

    def on_prompt_end(self, path: str, reason: str) -> None:
        play = next((n for ph, p, n in reversed(self._prompt_log) if ph == "start" and p == path), 0)
        self._prompt_log.append(("end", path, play))
        self._changed.set()

    def on_recording(self, path: str, seconds: float) -> None:
        self.report.recordings.append(path)
        self._note("recorded", f"{path} {seconds:.2f}s")

    def on_bridge(self, leg) -> None:
        self.report.bridged_to.append(leg.name)
        self._note("bridged", leg.name)

    def on_dtmf_sent(self, digits: str) -> None:
        self.report.received_dtmf.append(digits)

    def on_hangup(self, ch) -> None:
        if ch is self.leg:
            self.report.hangup_cause = ch.status.hangup_cause
            self.report.answered = bool(ch.profile.times["Channel-Answered-Time"])
            if self.report.hung_up_by is None:
                self.report.hung_up_by = "switch"
            self._note("hangup", ch.status.hangup_cause or "")
            self.voice.end()
            self._changed.set()

    def on_event(self, ev) -> None:
        self.report.events.append((ev.name, ev.uuid or ""))

    @property
    def plays(self) -> int:
        """How many prompt plays the caller has heard start so far."""
        return self._plays

    def speak_after_prompt(self, match: str, seconds: float, timeout: float = 60.0,
                           after: int | None = None, pause: float = 0.0) -> bool:
        """Talk for `seconds` once the next play of a prompt containing `match` (one that
        starts from now on) has ended: outside the script, `fsapp simulate` answers a
        recording this way; `after`: the play count (`plays`) that "now" means; `pause`:
        seconds between the prompt's end and the first word. False when
        that prompt did not end within `timeout` emulated seconds or the call ended first."""
        deadline = self._elapsed() + timeout
        after = self._plays if after is None else after
        while not self.leg.status.hungup and self._elapsed() < deadline:
            play = next((n for ph, p, n in self._prompt_log if ph == "start" and n > after and match in p), None)
            if play is not None and any(ph == "end" and n == play for ph, _, n in self._prompt_log):
                self._sleep_until(self._elapsed() + pause)
                if self.leg.status.hungup:
                    return False
                self.voice.begin(True)
                self._note("speak", f"{seconds}s")
                started = self.clock.now()
                self._sleep_until(self._elapsed() + seconds)
                self.voice.end(at=started + seconds)
                return not self.leg.status.hungup
            self._wait_change(deadline - self._elapsed())
        return False

    # ---- running --------------------------------------------------------------------
    # ---- the caller's own actions, also for code driving a caller live ----------------
    @property
    def in_call(self) -> bool:
        """The call was placed and neither side has hung up yet."""
        return self.leg is not None and not self.leg.status.hungup

    def press(self, digits: str, gap_s: float = 0.1) -> bool:
        """Press keys on the caller's phone now (in-band, as a Press step does), gap_s
        emulated seconds apart. False when the call ended before every key was pressed."""
        return self._press(digits, lambda: self.clock.sleep(gap_s))

    def hang_up(self, cause: str = "NORMAL_CLEARING") -> bool:
        """The caller hangs up now. False when the call had already ended."""
        if not self.in_call:
            return False
        self.report.hung_up_by = "caller"
        self._note("caller hangup", cause)
        self.leg.hangup(cause)
        return True

    def _press(self, digits: str, pause) -> bool:
        target = self.leg.links.peer or self.leg   # the leg fsapp controls hears the keys
        for i, digit in enumerate(digits):
            if self.leg.status.hungup:
                return False
            if i:
                pause()
            target.queue_dtmf(digit, source="RTP")
        self.report.pressed.append(digits)
        self._note("pressed", digits)
        return True

    def start(self, leg) -> None:
        self.leg = leg
        self.report.caller_uuid = leg.uuid
        self.report.uuid = leg.links.peer.uuid if leg.links.peer is not None else leg.uuid
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        try:
            for step in self.script.steps:
                if self.leg.status.hungup:
                    break
                self._step(step)
            while not self.leg.status.hungup:
                self._wait_change(None)
        except _ScriptError as exc:
            self.report.error = str(exc)
            log.info("sim caller %s: %s", self.script.dial, exc)
            if not self.leg.status.hungup:
                self.report.hung_up_by = "caller"
                self.leg.hangup("NORMAL_CLEARING")
        finally:
            self.voice.end()
            self.leg.status.ended.wait(timeout=30)
            self._done.set()

    def _elapsed(self) -> float:
        return self.clock.now() - self._t0

    def _sleep_until(self, t_rel: float) -> None:
        while not self.leg.status.hungup:
            remaining = t_rel - self._elapsed()
            if remaining <= 0:
                return
            self._wait_change(remaining)

    def _wait_change(self, seconds: float | None) -> None:
        self._changed.clear()
        if seconds is None:
            self._changed.wait(timeout=0.5)
        else:
            self.clock.wait([self._changed], seconds, poll=0.5)

    def _step(self, step) -> None:
        if isinstance(step, WaitPrompt):
            deadline = self._elapsed() + step.timeout
            while True:
                for i in range(self._cursor, len(self._prompt_log)):
                    phase, path, play = self._prompt_log[i]
                    # One play of a prompt satisfies one WaitPrompt, whether it matched
                    # its start or its end.
                    if phase == step.after and step.match in path and play not in self._matched:
                        self._matched.add(play)
                        self._cursor = i + 1
                        return
                if self.leg.status.hungup:
                    return
                if self._elapsed() >= deadline:
                    raise _ScriptError(f"WaitPrompt({step.match!r}) not heard within {step.timeout} s; "
                                       f"heard so far: {self.report.heard}")
                self._wait_change(deadline - self._elapsed())
        elif isinstance(step, Press):
            if step.at is not None:
                self._sleep_until(step.at)
            self._press(step.digits, lambda: self._sleep_until(self._elapsed() + step.gap_ms / 1000.0))
        elif isinstance(step, (Speak, Silence)):
            self.voice.begin(isinstance(step, Speak))
            self._note("speak" if isinstance(step, Speak) else "silence", f"{step.seconds}s")
            started = self.clock.now()
            self._sleep_until(self._elapsed() + step.seconds)
            self.voice.end(at=started + step.seconds)
        elif isinstance(step, Wait):
            self._sleep_until(self._elapsed() + step.seconds)
        elif isinstance(step, Hangup):
            if step.at is not None:
                self._sleep_until(step.at)
            self.hang_up(step.cause)

    def wait(self, timeout: float = 60.0) -> CallReport:
        """Wait (wall seconds) until the call has ended; the report of what happened."""
        if not self._done.wait(timeout=timeout):
            raise TimeoutError(f"call to {self.script.dial} still running after {timeout} s "
                               f"(heard {self.report.heard}, pressed {self.report.pressed})")
        return self.report


class _ScriptError(Exception):
    pass

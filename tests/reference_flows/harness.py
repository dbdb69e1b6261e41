"""End-to-end harness for the reference flows: the emulated FreeSWITCH (fsapp.sim) sends
each call over real TCP to fsapp's outbound socket server running the flows of
ivr_flows/ (fsapp.flow.runtime.FlowHandler), with a real Store on a real database.

    line = Line(services)                      # one emulated switch + socket server
    result = line.call("12345", [WaitPrompt("hotline/language_offer"), Press("2"), ...])
    result.heard    # prompt names the caller heard, in order (sounds/<lang>/<name>.wav -> name)
    result.outcome  # the interpreter's Outcome (vars, trail, reason)

Emulated time is the emulator's virtual clock by default: it jumps over a caller's
speech, silences and prompts, and does not jump while it is fsapp's turn to act, so a busy
machine delays a call but does not clip a recording (on a clock 20 times faster than wall
time, 0.13 wall seconds of a loaded machine between the beep and the record command cut
2.6 s off a 3 s message). A line whose fsapp side keeps its own wall-clock timers (the
router's overflow and offer timeouts) passes fsapp.sim.RealClock(scale=SCALE): a virtual clock would
jump past them. Every wait has a deadline.
"""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
import wave
from dataclasses import dataclass, field
from pathlib import Path

import gevent

from fsapp.app import EmulatedLine
from fsapp.flow.compiler import Environment
from fsapp.flow.interpreter import Outcome, Services
from fsapp.flow.runtime import FlowHandler
from fsapp.flow.trace import Recorder
from fsapp.sim import CallReport, VirtualClock
from fsapp.sounds import Catalog

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "ivr_flows"
SOUNDS = ROOT / "sounds"
QUERIES = ROOT / "queries"
BEEP = "tone_stream://%(500,0,1000)"
SCALE = 20.0            # emulated seconds per wall second, for lines on a RealClock
CALL_TIMEOUT = 90.0     # wall seconds one scripted call may take

# Moments the business calendars (calendars.yaml) put the lines in a known mode.
DAY = dt.datetime(2026, 11, 30, 10, 0)        # Monday: hotline day service, utility office open
NIGHT = dt.datetime(2026, 11, 30, 23, 30)     # Monday night: hotline self-service only
HOLIDAY = dt.datetime(2026, 10, 1, 10, 0)     # National Day: hotline holiday service


SILENCE_END = 5.0       # seconds of silence that end a recording (the flows' record nodes)


def WaitPrompt(match: str, after: str = "end", timeout: float = 900.0):  # noqa: N802 - a caller step
    """fsapp.sim.WaitPrompt with room for long readouts (a bill is over a minute of audio)."""
    from fsapp.sim import WaitPrompt as _WaitPrompt
    return _WaitPrompt(match, after=after, timeout=timeout)


def build_sounds() -> Catalog:
    """The emulator times playback from the WAV headers: render missing prompts first."""
    subprocess.run([str(Path(sys.executable).parent / "fsapp"), "sounds", "build", "--quiet"], cwd=ROOT,
                   check=True, timeout=300)
    return Catalog.load(SOUNDS / "catalog.yaml")


def prompt_name(path: str) -> str:
    """sounds/zh-CN/hotline/main_menu.wav -> hotline/main_menu; other media unchanged."""
    p = Path(path)
    try:
        rel = p.relative_to(SOUNDS)
    except ValueError:
        return path
    return str(Path(*rel.parts[1:]).with_suffix(""))


def wav_seconds(path: str | Path) -> float:
    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (8000, 1, 2), path
        return w.getnframes() / w.getframerate()


def recording_problem(path: str | None, speech: float, tail: float) -> str | None:
    """None when the WAV holds the caller's speech plus `tail` seconds (the silence that
    ended it). The record command starts a moment after the beep ends (the round trip to
    fsapp, up to ~0.8 emulated seconds on a loaded machine), so the start may be clipped."""
    if path is None:
        return "no recording was made"
    length = wav_seconds(path)
    if not speech + tail - 1.0 <= length <= speech + tail + 0.5:
        return f"{path} is {length:.2f} s; expected {speech} s of speech + {tail} s"
    return None


@dataclass
class Result:
    report: CallReport
    outcome: Outcome | None
    events: list[dict] = field(default_factory=list)

    @property
    def heard(self) -> list[str]:
        """Prompt names in the order the caller heard them. The 250 ms silence the Call API
        passes to play_and_get_digits as its "invalid input" file is left out; a recording
        played back to the caller shows as "<recording>"."""
        out = []
        for path in self.report.heard:
            if path.startswith("silence_stream://"):
                continue
            out.append("<recording>" if path in self.report.recordings or "/recordings/" in path
                       else prompt_name(path))
        return out

    @property
    def trail(self) -> list[str]:
        return list(self.outcome.trail) if self.outcome else []

    @property
    def vars(self) -> dict:
        return self.outcome.vars if self.outcome else {}

    def describe(self) -> str:
        return (f"heard {self.heard}\ntrail {self.trail}\npressed {self.report.pressed}\n"
                f"outcome {self.outcome and (self.outcome.reason, self.outcome.node, self.outcome.error)}\n"
                f"caller error {self.report.error}")


class Line:
    """One emulated FreeSWITCH whose dialplan sends every reference-flow number to an
    outbound socket server running ivr_flows/ with the given services."""

    def __init__(self, services: Services, clock=None):
        self.recorder = Recorder()
        services.tracer = self.recorder
        self.handler = FlowHandler(str(FLOWS), services=services, env=Environment(tts=True))
        self.line = EmulatedLine(clock or VirtualClock()).serve(self.handler, self.handler.registry.numbers)
        self.switch = self.line.switch

    def call(self, number: str, steps: list, caller_id: str = "13800138000",
             variables: dict | None = None) -> Result:
        caller = self.line.place_call(number, steps, caller_id=caller_id, variables=variables)
        report = caller.wait(CALL_TIMEOUT)
        outcome = self.line.outcome(report.uuid, timeout=15.0)  # on_hangup runs after the caller left
        events = [e for e in self.recorder.events if e.get("uuid") == report.uuid]
        return Result(report, outcome, events)

    def close(self) -> None:
        self.line.close()


def digits(lang: str, value: str) -> list[str]:
    """The prompt names of a number read digit by digit (ticket serials, account numbers)."""
    from fsapp.say import render
    return render(lang, "digits", value)


def check(failures: list[str], name: str, what: str, expected, actual) -> None:
    if expected != actual:
        failures.append(f"{name}: {what}:\n  expected {expected!r}\n  actual   {actual!r}")


def run_all(jobs: dict) -> dict:
    """Run {name: callable} concurrently (one greenlet per scripted call); {name: result}.
    An exception in one job is returned as its result, so every scenario reports."""
    greenlets = {name: gevent.spawn(job) for name, job in jobs.items()}
    gevent.joinall(list(greenlets.values()), timeout=CALL_TIMEOUT + 30)
    out = {}
    for name, g in greenlets.items():
        if not g.ready():
            g.kill(block=False)
            out[name] = TimeoutError(f"{name}: still running after {CALL_TIMEOUT + 30} s")
        else:
            out[name] = g.value if g.successful() else g.exception
    return out


class DbProxy:
    """A TCP relay in front of a database server, so a test can "stop the database" for
    its own Store alone: cut() drops every connection and refuses new ones, restore()
    accepts again. The shared servers of scripts/services.sh keep running for everyone."""

    def __init__(self, host: str, port: int):
        from gevent.server import StreamServer
        self.target = (host, port)
        self._server_cls = StreamServer
        self._links: set = set()
        self._server = StreamServer(("127.0.0.1", 0), self._relay)
        self._server.start()
        self.port = self._server.server_port

    def odbc(self, odbc: str) -> str:
        """The same connection string, through this proxy."""
        import re
        odbc = re.sub(r"(?i)(Server=)[^;]*", r"\g<1>127.0.0.1", odbc)
        return re.sub(r"(?i)(Port=)[^;]*", lambda m: m.group(1) + str(self.port), odbc)

    def _relay(self, client, _address) -> None:
        from gevent import socket
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            client.close()
            return
        self._links.update((client, upstream))

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.close()
                    except OSError:
                        pass
                    self._links.discard(s)
        gevent.joinall([gevent.spawn(pump, client, upstream), gevent.spawn(pump, upstream, client)])

    def cut(self) -> None:
        self._server.stop(timeout=1)
        for s in list(self._links):
            try:
                s.close()
            except OSError:
                pass
        self._links.clear()

    def restore(self) -> None:
        self._server = self._server_cls(("127.0.0.1", self.port), self._relay)
        self._server.start()

    def close(self) -> None:
        self.cut()

"""What a test call did in the rendered dialplan, read from its events.

`fsapp call NUMBER` originates `loopback/NUMBER/default &park`: the A leg parks, the
B leg (`loopback/NUMBER-b`, carrying `other_loopback_leg_uuid` = the A leg) runs the
dialplan, as in the capture fallback_native_ivr_keys. This tracker reads that B leg's
CHANNEL_EXECUTE / CHANNEL_EXECUTE_COMPLETE / CHANNEL_HANGUP_COMPLETE and tells which
`socket` (worker) took the call, or that the fallback ran. Applications a worker runs
execute while its `socket` application is still running (the outbound session drives the
channel from inside it); whatever runs after `socket` completed is the dialplan's again
(the next worker, or the fallback). Pure: no I/O, fed one event's headers at a time.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass
class Attempt:
    socket: str                                     # the `socket` application's data
    apps: list[str] = field(default_factory=list)   # the applications the worker ran inside it


@dataclass
class CallTrace:
    a_uuid: str                                  # the A leg (origination_uuid)
    b_uuid: str | None = None
    channel: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    fallback: list[str] = field(default_factory=list)   # dialplan apps after every socket
    before: list[str] = field(default_factory=list)     # dialplan apps before the first socket
    after_transfer: list[str] = field(default_factory=list)  # where a worker's transfer led
    played: list[str] = field(default_factory=list)     # PLAYBACK_START file paths
    keys: list[str] = field(default_factory=list)       # what the caller pressed, and when
    hangup_cause: str | None = None
    _in_socket: Attempt | None = None

    def mine(self, headers: Mapping[str, str]) -> bool:
        return (headers.get("variable_other_loopback_leg_uuid") == self.a_uuid
                and headers.get("variable_loopback_leg") == "B")

    def feed(self, headers: Mapping[str, str]) -> bool:
        """One event; returns True once the B leg has hung up (the call is over)."""
        if not self.mine(headers):
            return self.done
        self.b_uuid = self.b_uuid or headers.get("Unique-ID")
        self.channel = self.channel or headers.get("Channel-Name")
        name, app = headers.get("Event-Name"), headers.get("Application") or ""
        data = headers.get("Application-Data") or ""
        step = f"{app} {data}".strip()
        if name == "CHANNEL_EXECUTE":
            if app == "socket" and self._in_socket is None:
                self._in_socket = Attempt(data)
                self.attempts.append(self._in_socket)
            elif self._in_socket is not None:
                self._in_socket.apps.append(app)
            elif self.attempts and "transfer" in self.attempts[-1].apps:
                self.after_transfer.append(step)   # the worker sent the call on: not a fallback
            elif self.attempts:
                self.fallback.append(step)
            else:
                self.before.append(step)
        elif name == "CHANNEL_EXECUTE_COMPLETE" and app == "socket" and self._in_socket is not None:
            self._in_socket = None
        elif name == "PLAYBACK_START":
            self.played.append(headers.get("Playback-File-Path") or "")
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self.hangup_cause = headers.get("Hangup-Cause") or "UNKNOWN"
        return self.done

    def pressed(self, digits: str, answer: str) -> None:
        """The caller pressed `digits` while the latest prompt played; `answer` is the
        switch's reply to uuid_recv_dtmf."""
        prompt = self.played[-1].rsplit("/", 1)[-1] if self.played else "?"
        self.keys.append(f"pressed {digits} during {prompt}"
                         + ("" if answer.startswith("+OK") else f": {answer.strip()}"))

    @property
    def done(self) -> bool:
        return self.hangup_cause is not None

    @property
    def worker(self) -> str | None:
        """The worker that ran the call: the last socket whose session ran applications
        and after which the dialplan did not go on (a worker that hands a call back,
        `set fsapp_refused=...`, ran an application too, but the dialplan goes on)."""
        last = self.attempts[-1] if self.attempts else None
        if last is not None and last.apps and not self.fallback:
            return last.socket.split()[0]
        return None

    @property
    def in_worker(self) -> bool:
        """A worker's session is running the call now (what --hold counts from; the
        fallback is left to run to its own end, within the deadline). A worker's `set`
        alone does not count: a worker at max_calls sets fsapp_refused and hands back."""
        return bool(self._in_socket is not None
                    and any(app != "set" for app in self._in_socket.apps))

    def report(self) -> list[str]:
        lines = [f"call on {self.channel or 'loopback'} {self.b_uuid or '(no B leg seen)'}"]
        for attempt in self.attempts:
            lines.append(f"socket {attempt.socket}: "
                         + (f"worker ran {', '.join(attempt.apps)}" if attempt.apps else "no worker took the call"))
        if not self.attempts:
            lines.append("no socket application ran: the number did not reach an fsapp extension"
                         + (f" (the dialplan ran {', '.join(self.before)})" if self.before else ""))
        lines += self.keys
        if self.worker:
            lines.append(f"answered by worker {self.worker}")
            if self.after_transfer:
                lines.append(f"after the worker's transfer: {', '.join(self.after_transfer)}")
        elif self.fallback:
            lines.append(f"fallback: {', '.join(self.fallback)}")
        lines.append(f"hangup: {self.hangup_cause}" if self.hangup_cause else "hangup: not seen")
        return lines

"""Exceptions of the Event Socket runtime. All derive from ESLError."""
from __future__ import annotations


class ESLError(Exception):
    """Base class of every fsapp.esl error."""


class ConnectionLost(ESLError):
    """The TCP connection to FreeSWITCH closed (or the heartbeat watchdog gave up on it)."""


class NotConnected(ESLError):
    """A command was issued while no connection is up (inbound client reconnecting)."""


class AuthError(ESLError):
    """FreeSWITCH refused the event-socket password (`-ERR invalid`)."""


class CommandError(ESLError):
    """FreeSWITCH answered a command with -ERR (Reply-Text, api body or job body)."""

    def __init__(self, command: str, reply: str):
        super().__init__(f"{command!r} failed: {reply.strip()}")
        self.command = command
        self.reply = reply


class CommandTimeout(ESLError):
    """A command's deadline passed. For a call application the app was stopped on the
    switch with uuid_break, so the call is not left stuck in it."""

    def __init__(self, what: str, timeout: float, stopped: bool | None = None):
        tail = "" if stopped is None else (
            "; the application was stopped (uuid_break)" if stopped
            else "; stopping it (uuid_break) failed")
        super().__init__(f"{what}: no completion within {timeout:g} s{tail}")
        self.what = what
        self.timeout = timeout
        self.stopped = stopped


class CallHangup(ESLError):
    """The call is over (caller hung up, or the session ended). Raised by every pending
    and every later command of that call; the handler may still run clean-up code."""

    def __init__(self, uuid: str | None, cause: str | None = None, detail: str = ""):
        text = f"call {uuid} hung up"
        if cause:
            text += f" ({cause})"
        if detail:
            text += f": {detail}"
        super().__init__(text)
        self.uuid = uuid
        self.cause = cause


class OriginateError(ESLError):
    """originate failed; `cause` is FreeSWITCH's hangup cause, e.g. USER_BUSY."""

    def __init__(self, dial_string: str, cause: str):
        super().__init__(f"originate {dial_string!r} failed: {cause}")
        self.dial_string = dial_string
        self.cause = cause

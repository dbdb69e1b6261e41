"""The rules of one outbound call, without I/O (sans-IO): events in, commands and results
out. call.py's `Call` is the gevent driver: it sends the frames this returns, waits with a
deadline, and wakes the waiters this hands back. Nothing here reads a socket or a clock,
or imports gevent.

Application completion (captures, observations 21-23): each application goes as `sendmsg`
with `event-lock: true` and a fresh `Event-UUID`; its `+OK` only means queued; it is done
at the CHANNEL_EXECUTE_COMPLETE whose `Application-UUID` echoes that uuid.

Hangup: CHANNEL_HANGUP / CHANNEL_HANGUP_COMPLETE of this channel, a text/disconnect-notice
(linger or disconnect: their order is not fixed, 31), or the socket closing end the call
once; every waiter still pending is handed back to be failed with CallHangup, and later
commands are refused before they are sent.

Type-ahead: digits pressed while no collecting application runs are eaten by the socket
application's park loop (they arrive only as DTMF events), so the session keeps them for
the next play_and_get_digits/read; but a question sent behind applications queued
without waiting (Call.queue) does not get the keys pressed while those ran (on the switch
they were the playback's, as in a dialplan). Two exceptions, as on the switch: the key that ends a
`record` belongs to the recording, and a terminator pressed right after a full-length
entry (`1234#` into max 4) is dropped (capture pagd_terminator_after_full_entry).

Digits: a collect's outcome is read only from the variables of its
CHANNEL_EXECUTE_COMPLETE (captures pagd_*): the target variable holds the entry, also
when `read_result` is `timeout`; `failure` with no variable is no input; `<var>_invalid`
is the last entry the regexp refused.
"""
from __future__ import annotations

import itertools
import os
import uuid as uuid_mod
from dataclasses import dataclass, field
from typing import Callable

from fsapp.esl import callerid, syntax, wire
from fsapp.esl.errors import CallHangup
from fsapp.esl.wire import Event, Message

# Apps whose digits are theirs: a collect's answer, the key that ends a recording. Digits
# during other apps (playback, say, sleep) are kept as type-ahead: barge-in.
COLLECTING_APPS = frozenset({"play_and_get_digits", "read", "record"})

CONNECT = b"connect\n\n"
EXIT = b"exit\n\n"


def setup_commands(event_format: str, linger: int, full: bool = True) -> tuple[str, ...]:
    """`myevents` (this channel's events) and `linger N` (a bare `linger` would keep the
    socket open forever, 30); independent, so the driver pipelines them in one write.

    (`filter Unique-ID <uuid>` + `event` of the five kinds a Call uses was tried instead:
    one more command, fewer events, and on FreeSWITCH 1.10.12 no measurable difference to
    its CPU per call, docs/performance.md, as issue 14 had found.)

    A socket without `full` (dialplan `socket host:port async`) takes only connect,
    exit, filter, resume, myevents, getvar, divert_events and sendmsg
    (mod_event_socket.c parse_command); `linger` gets `-ERR command not found` there
    (checked on FreeSWITCH 1.10.12): such a session does not linger (the switch closes
    the socket at hangup)."""
    events = "myevents" if event_format == "plain" else f"myevents {event_format}"
    return (events, f"linger {int(linger)}") if full else (events,)


def hangup_frame(cause: str) -> bytes:
    return wire.encode_command("sendmsg", {"call-command": "hangup", "hangup-cause": syntax.word("cause", cause)})


@dataclass
class DigitsResult:
    """What one question got, read from FreeSWITCH's variables (never assumed).

    digits:     the accepted entry ('' when none)
    entered:    what the caller keyed in the (last) try, accepted or not, without the
                terminator: too short, or refused by the regexp (`<var>_invalid`)
    keys:       every key FreeSWITCH dequeued for this question, terminators included
                (its DTMF events), type-ahead first
    terminator: the terminator that ended the entry ('' = max digits or a timeout)
    result:     FreeSWITCH's read_result (success, timeout, failure), or "typeahead"
                when the buffer answered without running the application
    invalid:    `<var>_invalid`: the last entry the regexp refused (any try), or None
    """
    digits: str
    entered: str = ""
    keys: str = ""
    terminator: str = ""
    result: str = ""
    invalid: str | None = None

    @property
    def no_input(self) -> bool:
        """Nothing pressed at all (FreeSWITCH's menu counts this as a timeout; a lone
        terminator is a failure)."""
        return not self.digits and not self.entered and not self.keys

    @property
    def accepted(self) -> bool:
        return bool(self.digits)


@dataclass
class Collect:
    """A collecting application in flight: what it asked, what the caller pressed."""
    app: str
    var: str = ""
    max_digits: int = 0
    terminators: str = ""
    keys: list[str] = field(default_factory=list)
    stray: str = ""   # terminators still to drop when it started (the last entry was full)
    # Sent behind applications queued without waiting: the type-ahead keys it may start
    # with (those buffered when it was sent); None: it was not.
    keep_typeahead: int | None = None

    def starts_behind(self, buffered: int) -> None:
        """It was sent while queued applications still run: keys pressed before it starts
        went to them (FreeSWITCH's playback dequeues and drops them), so they are not
        type-ahead; only the `buffered` keys already kept when it was sent are."""
        self.keep_typeahead = buffered

    def ended_by_stray_terminator(self) -> bool:
        """The previous entry was full-length and this question's only key is its
        terminator, pressed late enough to reach this question: the caller ended the
        previous entry, they did not answer this one."""
        return len(self.keys) == 1 and self.keys[0] in self.stray

    def outcome(self, event: Event) -> DigitsResult:
        """FreeSWITCH's verdict from the CHANNEL_EXECUTE_COMPLETE: the variable decides.
        `success` or `timeout` with the variable set is an accepted entry; `failure` with it
        set is a too-short entry; the variable unset is no entry (or a refused one, in
        `<var>_invalid`)."""
        var, terminators = self.var, self.terminators
        read_result = event.get("variable_read_result", "")
        value = event.get(f"variable_{var}") or ""
        invalid = event.get(f"variable_{var}_invalid") or None
        keys = "".join(self.keys)
        accepted = value if read_result in ("success", "timeout") else ""
        # <var>_invalid is cleared when the application starts (fsapp always passes a
        # regexp), so it belongs to this question.
        entered = value or invalid or ""
        last = keys[-1:] if keys and keys[-1] in terminators else ""
        return DigitsResult(digits=accepted, entered=entered, keys=keys, terminator=last,
                            result=read_result, invalid=invalid)


@dataclass
class Ended:
    """The call ended now (it had not before): why, and the waiters to fail with
    CallHangup (applications still waiting for their completion)."""
    why: str
    waiters: list


_NOTHING: tuple = ()


class AppIds:
    """Event-UUIDs for the applications a call runs: uuid-shaped (8-4-4-4-12 hex, like
    uuid4, so FreeSWITCH sees what it always saw), unique among the ids of this process:
    a random uuid4 prefix drawn once (again in a forked child) and a counter after it.

    The id only pairs a sendmsg with its CHANNEL_EXECUTE_COMPLETE (Application-UUID) on
    the call's own socket, so it needs no randomness of its own; a uuid4() per
    application (os.urandom, UUID(), str()) showed in bench/hotline_load.py profiles."""

    def __init__(self):
        self._reset()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._prefix = str(uuid_mod.uuid4())[:24]     # "xxxxxxxx-xxxx-4xxx-yxxx-"
        self._count = itertools.count(1)              # next() is atomic under the GIL

    def __call__(self) -> str:
        return f"{self._prefix}{next(self._count):012x}"


new_app_id = AppIds()


class CallSession:
    """One outbound call's state. `receive(message)` returns what the message settled:
    (waiter, CHANNEL_EXECUTE_COMPLETE) pairs and at most one `Ended`."""

    def __init__(self, channel_data: dict[str, str], new_id: Callable[[], str] = new_app_id):
        self.variables = channel_data
        self.uuid: str = channel_data.get("Unique-ID") or channel_data.get("Channel-Unique-ID", "")
        # from the network, so untrusted: the caller-id policy of fsapp.esl.callerid (the
        # raw values stay in self.variables)
        self.caller_id: str | None = callerid.number(channel_data.get("Caller-Caller-ID-Number"))
        self.caller_name: str | None = callerid.name(channel_data.get("Caller-Caller-ID-Name"))
        self.destination: str | None = channel_data.get("Caller-Destination-Number")
        self.full_control = channel_data.get("Control") == "full"
        self.hangup_cause: str | None = None
        self.ended: str | None = None           # why the call is over, once it is
        self.hangup_sent = False                # fsapp asked the switch to hang up
        self._new_id = new_id
        self._apps: dict[str, object] = {}      # Application-UUID -> waiter
        self._collects: dict[str, Collect] = {}  # Application-UUID -> collecting app sent
        self._running: Collect | None = None    # the collecting app executing now
        self._typeahead: list[str] = []
        # Terminators dropped if they are the next key: the entry before ended at max
        # digits, and FreeSWITCH discards such a key (it never reaches the next question).
        self._drop_next: str = ""
        # playback_terminators as this call last set it; None: never set here, so
        # FreeSWITCH's default (record and playback stop on `*` only) applies.
        self.playback_terminators: str | None = None
        self.last_key: str | None = None        # the last DTMF key of this channel

    # -- ending --------------------------------------------------------------------------
    def hangup_error(self) -> CallHangup:
        return CallHangup(self.uuid, self.hangup_cause, self.ended or "")

    def check(self) -> None:
        """Raise CallHangup once the call has ended (before sending anything)."""
        if self.ended is not None:
            raise self.hangup_error()

    def end(self, why: str, cause: str | None = None) -> Ended | None:
        """End the call (first reason wins; a cause is kept if none was known). Returns
        Ended the first time, None after."""
        if cause and not self.hangup_cause:
            self.hangup_cause = cause
        if self.ended is not None:
            return None
        self.ended = why
        apps, self._apps = self._apps, {}
        return Ended(why, list(apps.values()))

    # -- applications --------------------------------------------------------------------
    def execute(self, app: str, args: str | None, waiter, collect: Collect | None = None) -> tuple[str, bytes]:
        """Start one application: (its Event-UUID, the sendmsg frame to send). Its
        completion will be handed back with `waiter`. Raises CallHangup once ended."""
        self.check()
        app_id = self._new_id()
        self._apps[app_id] = waiter
        if collect is not None:
            self._collects[app_id] = collect
        return app_id, syntax.sendmsg_execute(app, args, event_uuid=app_id)

    def forget(self, app_id: str) -> None:
        """The driver stopped waiting for this application (refused, timed out, hung up)."""
        self._apps.pop(app_id, None)
        if self._collects.pop(app_id, None) is self._running:
            self._running = None

    # -- events in -----------------------------------------------------------------------
    def receive(self, msg: Message) -> list | tuple:
        event = msg.event
        if event is None:
            if msg.content_type == wire.DISCONNECT_NOTICE:
                if msg.headers.get("Content-Disposition") == "linger":
                    ended = self.end("channel hung up (linger notice)")
                else:
                    ended = self.end("FreeSWITCH ended the session")
                return [ended] if ended else _NOTHING
            return _NOTHING
        channel = event.get("Unique-ID")
        if channel not in (None, "", self.uuid):
            # Another channel's event: an outbound socket subscribed without `myevents`
            # (or with a filter sent after `event`) gets every channel's events; their
            # digits and completions are not this call's.
            return _NOTHING
        name = event.get("Event-Name")
        if name == "CHANNEL_EXECUTE_COMPLETE":
            app_id = event.get("Application-UUID")
            collect = self._collects.pop(app_id, None)
            if collect is not None:
                if self._running is collect:
                    self._running = None
                self._after_collect(collect, event)
            waiter = self._apps.pop(app_id, None)
            if waiter is not None:
                return [(waiter, event)]
        elif name == "DTMF":
            digit = event.get("DTMF-Digit")
            self.last_key = digit or self.last_key   # record: the key that ended it
            if digit and self._running is not None:
                self._running.keys.append(digit)
            elif digit:
                self._buffer_key(digit)
        elif name == "CHANNEL_EXECUTE" and self._collects:    # else no header to look up
            collect = self._collects.get(event.get("Application-UUID"))
            if collect is not None:
                self._running = collect
                if collect.keep_typeahead is not None:
                    self.drop_typeahead_after(collect.keep_typeahead)
                # a key from now on reaches this question; remember whether its first
                # one may still be the last entry's stray terminator
                collect.stray, self._drop_next = self._drop_next, ""
        elif name in ("CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE") and channel in (None, self.uuid):
            ended = self.end("hung up by the application" if self.hangup_sent else "caller hung up",
                             event.get("Hangup-Cause"))
            if ended:
                return [ended]
        return _NOTHING

    def _after_collect(self, collect: Collect, event: Event) -> None:
        """An entry that stopped at max digits leaves its terminator to be dropped."""
        if collect.app == "record" or not collect.terminators or not collect.var:
            return
        entry = event.get(f"variable_{collect.var}") or ""
        # At max digits FreeSWITCH stops collecting: no terminator was consumed.
        if event.get("variable_read_result") == "success" and len(entry) >= collect.max_digits:
            self._drop_next = collect.terminators

    def _buffer_key(self, digit: str) -> None:
        drop, self._drop_next = self._drop_next, ""
        if digit not in drop:   # else: a terminator after a full-length entry, dropped
            self._typeahead.append(digit)

    # -- type-ahead ----------------------------------------------------------------------
    @property
    def typeahead(self) -> str:
        return "".join(self._typeahead)

    def take_typeahead(self) -> str:
        """Digits pressed while no collect ran, oldest first; the buffer is emptied."""
        digits, self._typeahead = "".join(self._typeahead), []
        return digits

    def drop_typeahead_after(self, count: int) -> str:
        """Keep only the oldest `count` type-ahead keys; returns the ones dropped."""
        dropped, self._typeahead = self._typeahead[count:], self._typeahead[:count]
        return "".join(dropped)

    def take_entry(self, max_digits: int, terminators: str) -> tuple[str, str, bool]:
        """Take one entry's worth of type-ahead: (keys used, digits, complete). An entry
        is complete at a terminator or at max digits; then a terminator right behind a
        full-length entry goes too (as on the switch). Keys beyond stay buffered for the
        next question."""
        keys = self._typeahead
        for i, digit in enumerate(keys):
            if digit in terminators:
                used, self._typeahead = keys[:i + 1], keys[i + 1:]
                return "".join(used), "".join(used[:-1]), True
            if i + 1 == max_digits:
                used, self._typeahead = keys[:i + 1], keys[i + 1:]
                if self._typeahead and self._typeahead[0] in terminators:
                    self._typeahead = self._typeahead[1:]
                elif terminators:
                    self._drop_next = terminators
                return "".join(used), "".join(used), True
        used, self._typeahead = list(keys), []
        return "".join(used), "".join(used), False

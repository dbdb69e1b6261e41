"""The Call API: one call on an outbound (`socket ... async full`) Event Socket.

`Call` is the gevent driver of fsapp.esl.call_session.CallSession, which holds the call's
rules without I/O (application completion by Application-UUID, hangup, type-ahead, digits'
outcome; docs/esl.md). The driver sends the frames the session returns, waits for each
application's completion with a deadline, and when a deadline passes stops the
application with `uuid_break` and raises CommandTimeout. Once the caller hangs up, every
pending and later command raises CallHangup.

The orchestration of a question stays here because it runs applications: a
play_and_get_digits/read starts with the type-ahead digits (see docs/api.md), and a
question reached only by the stray terminator of a full-length entry is asked again.
"""
from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field

import gevent
import gevent.event
from gevent.event import AsyncResult

from fsapp.esl import syntax, wire
from fsapp.esl.call_session import COLLECTING_APPS, CallSession, Collect, DigitsResult, Ended, hangup_frame
from fsapp.esl.connection import Connection
from fsapp.esl.errors import CallHangup, CommandError, CommandTimeout, ConnectionLost
from fsapp.esl.wire import Event, Message
from fsapp.log import call_context, get_logger

__all__ = ["BridgeResult", "Call", "COLLECTING_APPS", "DigitsResult", "RecordResult", "terminators_value"]

log = get_logger("fsapp.esl.call")

BREAK_GRACE_S = 5.0  # how long uuid_break gets to make the overrunning app complete


# Keys FreeSWITCH's on_dtmf (record, playback) accepts in playback_terminators, plus its
# two words: `any` (every key) and `none`.
DTMF_KEYS = "0123456789*#ABCD"


def terminators_value(terminators: str | None) -> str:
    """The playback_terminators value for keys that end a recording: '' -> `none`."""
    text = (terminators or "").strip()
    if text.lower() in ("none", ""):
        return "none"
    if text.lower() == "any":
        return "any"
    bad = sorted({c for c in text if c not in DTMF_KEYS})
    if bad:
        raise ValueError(f"record terminators must be DTMF keys (0-9 * # A-D), 'any' or 'none'; "
                         f"got {text!r} (bad: {''.join(bad)})")
    return text


@dataclass
class RecordResult:
    path: str
    duration_s: float
    silence_hits_exhausted: bool
    response: str
    event: Event | None = field(default=None, repr=False)
    terminator: str | None = None   # the key that ended the recording, if a key did


@dataclass
class BridgeResult:
    ok: bool
    cause: str | None          # hangup cause of the far leg / originate failure, if any
    disposition: str | None    # originate_disposition, e.g. SUCCESS, USER_BUSY
    response: str
    event: Event | None = field(default=None, repr=False)


# Positional app arguments are space-separated: refuse values that would shift them.
_word = syntax.word


_NOT_JOINABLE = re.compile(r"[\s!]|^file_string://|^$")


def _joinable(path: str) -> bool:
    """A path that can be one part of a file_string:// list: one word, no `!` (its
    separator), not itself a list."""
    return _NOT_JOINABLE.search(path) is None


class Call:
    """Handle of one call, given to the handler by OutboundServer."""

    def __init__(self, conn: Connection, channel_data: dict[str, str], *,
                 app_timeout: float = 120.0, command_timeout: float = 10.0):
        self._conn = conn
        self.session = session = CallSession(channel_data)
        self.variables = channel_data
        self.uuid: str = session.uuid
        self.caller_id: str | None = session.caller_id
        self.caller_name: str | None = session.caller_name
        self.destination: str | None = session.destination
        self.full_control = session.full_control
        self.app_timeout = app_timeout
        self.command_timeout = command_timeout
        # applications sent with wait=False whose completion has not been seen yet
        self._queued: list[AsyncResult] = []
        self._queue_mark = 0    # type-ahead keys buffered when the oldest of them was sent
        self._over = gevent.event.Event()    # set when the call ends, whatever ends it

    def __repr__(self) -> str:
        return f"<Call {self.uuid} from {self.caller_id} to {self.destination}>"

    # -- state fed by the reader greenlet ---------------------------------------------
    @property
    def ended(self) -> bool:
        return self.session.ended is not None

    @property
    def hangup_cause(self) -> str | None:
        return self.session.hangup_cause

    def _hangup_error(self) -> CallHangup:
        return self.session.hangup_error()

    def _fail_waiters(self, ended: Ended) -> None:
        """Wake every waiter of an ended call with CallHangup."""
        self._over.set()
        with call_context(self.uuid):  # may run in the reader greenlet
            log.info("call ended", extra={"why": ended.why, "cause": self.session.hangup_cause})
        for result in ended.waiters:
            if not result.ready():
                result.set_exception(self.session.hangup_error())

    def _end(self, why: str, cause: str | None = None) -> None:
        ended = self.session.end(why, cause)
        if ended is not None:
            self._fail_waiters(ended)

    def _on_message(self, msg: Message) -> None:
        for out in self.session.receive(msg):
            if isinstance(out, Ended):
                self._fail_waiters(out)
            else:
                out[0].set(out[1])

    def _on_close(self, reason: str) -> None:
        self._end(f"socket closed: {reason}")

    # -- plumbing ----------------------------------------------------------------------
    def _check(self) -> None:
        self.session.check()

    def _command(self, data: bytes, what: str) -> Message:
        try:
            return self._conn.send(data, timeout=self.command_timeout, what=what)
        except ConnectionLost:
            self._end("socket closed")
            raise self._hangup_error() from None

    def api(self, command: str, timeout: float | None = None) -> str:
        """`api` over the full outbound socket; returns the body (may start with -ERR).
        Works during linger (after hangup), so clean-up code can use it."""
        try:
            reply = self._conn.send(wire.encode_command(f"api {command}"),
                                    timeout=timeout or self.command_timeout, what=f"api {command}")
        except ConnectionLost:
            self._end("socket closed")
            raise self._hangup_error() from None
        if reply.content_type == wire.COMMAND_REPLY:  # not-full socket: -ERR command not found
            raise CommandError(f"api {command}", reply.reply_text)
        return reply.body

    def execute(self, app: str, args: str | None = None, timeout: float | None = None) -> Event:
        """Run one dialplan application and wait for its CHANNEL_EXECUTE_COMPLETE.
        Returns that event (its headers carry Application-Response and all variables).
        `args` is FreeSWITCH syntax (the channel expands `${...}` in it): build the parts
        that come from callers or databases with fsapp.esl.syntax.literal()."""
        return self._execute(app, args, timeout, Collect(app) if app in COLLECTING_APPS else None)

    def _send_app(self, app: str, args: str | None, result: AsyncResult, collect: Collect | None = None) -> str:
        """Send one application; its completion will set `result`. Returns its Event-UUID
        once the switch said +OK (queued); forgets it if the switch refused."""
        if collect is not None and self.queued:
            # It will start behind applications sent with wait=False: keys pressed while
            # they run are theirs on the switch (playback takes them), not type-ahead.
            collect.starts_behind(len(self.session.typeahead))
        app_id, frame = self.session.execute(app, args, result, collect)
        try:
            reply = self._command(frame, f"sendmsg {app}")
            if not reply.ok:
                raise CommandError(f"sendmsg {app} {args or ''}".strip(), reply.reply_text)
        except BaseException:
            self.session.forget(app_id)
            raise
        return app_id

    def _execute(self, app: str, args: str | None, timeout: float | None, collect: Collect | None) -> Event:
        result = AsyncResult()
        deadline = self.app_timeout if timeout is None else timeout
        started = time.monotonic()
        app_id = self._send_app(app, args, result, collect)
        try:
            try:
                event = self._conn.wait(result, deadline)
            except gevent.Timeout:
                stopped = self._break(app_id, result)
                raise CommandTimeout(f"{app} {args or ''}".strip(), deadline, stopped) from None
        except BaseException:
            self.session.forget(app_id)
            raise
        if log.isEnabledFor(logging.DEBUG):    # else no header search (~6 kB) for a line never written
            log.debug("app complete", extra={"app": app, "ms": round((time.monotonic() - started) * 1000, 1),
                                             "response": event.get("Application-Response")})
        return event

    def _break(self, app_id: str, result: AsyncResult) -> bool:
        """Stop the overrunning app (otherwise, with event-lock, every later command
        would queue behind it) and wait a little for its completion."""
        log.warning("application overran its deadline, sending uuid_break")
        try:
            body = self.api(syntax.api_command("uuid_break", self.uuid, "all"))
        except (CommandError, CommandTimeout) as exc:
            log.error("uuid_break failed", extra={"error": str(exc)})
            return False
        if body.startswith("-ERR"):
            log.error("uuid_break failed", extra={"error": body.strip()})
            return False
        try:
            self._conn.wait(result, BREAK_GRACE_S)
        except gevent.Timeout:
            return False
        return True

    # -- simple applications -------------------------------------------------------------
    def answer(self, timeout: float | None = None, wait: bool = True) -> None:
        """wait=False: send `answer` and go on without waiting for its completion. The
        switch runs a channel's queued applications one after another (event-lock), so
        the next application starts right after the answer, on the switch's side, without
        a round trip to fsapp in between: on FreeSWITCH each such round trip costs up to a
        media frame (20 ms) before the session picks the command up and up to 20 ms before
        mod_event_socket's listener, polling, sends the completion (issue 14). A call that
        cannot be answered ends, and the next command that waits says so."""
        if wait:
            self.execute("answer", timeout=timeout)
        else:
            self.queue("answer")

    def queue(self, app: str, args: str | None = None) -> None:
        """Send one application without waiting for it to finish (see answer(wait=False));
        only the switch's +OK is waited for. Its completion is not reported; `drain()`
        waits for it. What follows runs after it on the switch's side:

        * an application waited for: its completion comes after this one's;
        * a question (play_and_get_digits, read): keys pressed while queued applications
          run are theirs, as in a dialplan (playback takes them), not type-ahead;
        * hangup(): the switch hangs up once the queued applications have run;
        * the handler's return: fsapp waits for them before it lets the call go.
        """
        self._queued = [r for r in self._queued if not r.ready()]
        if not self._queued:
            self._queue_mark = len(self.session.typeahead)
        result = AsyncResult()
        self._send_app(app, args, result)
        self._queued.append(result)

    def _keys_of_queued_apps_dropped(self) -> None:
        """Before a question: keys that came while queued applications ran were theirs."""
        if self.queued:
            self.session.drop_typeahead_after(self._queue_mark)

    @property
    def queued(self) -> bool:
        """Applications sent with wait=False may still be running."""
        return any(not r.ready() for r in self._queued)

    def drain(self, timeout: float | None = None) -> None:
        """Wait until every application sent with wait=False has completed (each gets
        `timeout`, default app_timeout). Raises CallHangup if the call ends first,
        CommandTimeout (after `uuid_break`) if one overruns."""
        deadline = self.app_timeout if timeout is None else timeout
        while self._queued:
            result = self._queued[0]
            try:
                self._conn.wait(result, deadline)
            except gevent.Timeout:
                stopped = self._break("", result)
                raise CommandTimeout("queued application", deadline, stopped) from None
            self._queued.pop(0)

    def pre_answer(self, timeout: float | None = None) -> None:
        self.execute("pre_answer", timeout=timeout)

    def playback(self, path_or_list, timeout: float | None = None, wait: bool = True) -> str:
        """Play one file or several in turn; returns the last Application-Response
        (FILE PLAYED, FILE NOT FOUND, PLAYBACK ERROR). Several one-word paths go as one
        `playback file_string://a!b!c` (one application, one round trip); a key in
        playback_terminators then stops the rest of the list too.

        wait=False: send it and go on (see queue()); returns ''. The next application
        then starts on the switch's side the moment this one ends, without a round trip
        through fsapp (each costs FreeSWITCH up to two media frames, issue 14)."""
        paths = [path_or_list] if isinstance(path_or_list, str) else list(path_or_list)
        if not paths:
            raise ValueError("playback needs at least one path")
        if len(paths) > 1 and all(_joinable(p) for p in paths):
            # One application instead of len(paths): FreeSWITCH's cost per call is mostly
            # the applications it executes and the commands it answers (issue 14).
            paths = ["file_string://" + "!".join(paths)]
        response = ""
        for path in paths:
            if wait:
                response = self.execute("playback", path, timeout).get("Application-Response", "")
            else:
                self.queue("playback", path)
        return response

    def say(self, lang_module: str, say_type: str, say_method: str, text, gender: str | None = None,
            timeout: float | None = None) -> None:
        words = [_word("lang_module", lang_module), _word("say_type", say_type),
                 _word("say_method", say_method)]
        if gender:
            words.append(_word("gender", gender))
        words.append(syntax.literal(text))
        self.execute("say", " ".join(words), timeout)

    def set(self, name: str, value, timeout: float | None = None) -> None:
        """Set a channel variable to exactly `value` (never expanded: see syntax.set_arg)."""
        self.execute("set", syntax.set_arg(name, value), timeout)
        if name == "playback_terminators":
            self.session.playback_terminators = str(value) or None

    def export(self, name: str, value, timeout: float | None = None) -> None:
        self.execute("export", syntax.export_arg(name, value), timeout)

    def unset(self, name: str, timeout: float | None = None) -> None:
        self.execute("unset", syntax.name("variable name", name), timeout)
        if name == "playback_terminators":
            self.session.playback_terminators = None

    def get(self, name: str) -> str | None:
        """A channel variable now (`uuid_getvar`); None when unset."""
        self._check()
        value = self.api(syntax.api_command("uuid_getvar", self.uuid, syntax.name("variable name", name)))
        if value.startswith("-ERR"):
            raise CommandError(f"uuid_getvar {name}", value)
        return None if value in ("_undef_", "") else value

    def sleep(self, ms: int, timeout: float | None = None) -> None:
        self.execute("sleep", str(int(ms)), timeout if timeout is not None else ms / 1000 + 10)

    def send_dtmf(self, digits: str, timeout: float | None = None) -> None:
        self.execute("send_dtmf", _word("digits", digits), timeout)

    def use_terminators(self, terminators: str, timeout: float | None = None) -> None:
        """Make `terminators` the keys that end a record (and a playback): the channel
        variable playback_terminators, set only if this Call has not set it to them
        already. Calling it before the prompt that precedes a recording keeps the round
        trip out of the moment between the beep and the recording."""
        wanted = terminators_value(terminators)
        if wanted != self.session.playback_terminators:
            self.set("playback_terminators", wanted, timeout)

    def record(self, path: str, limit_s: int, silence_threshold: int = 200, silence_hits: int = 3,
               timeout: float | None = None, terminators: str | None = "#") -> RecordResult:
        """FreeSWITCH's record. `terminators`: the keys that end it, as the prompt announces
        them ("press # when done"). The record application reads them from the channel
        variable playback_terminators and stops on `*` only when it is unset
        (record_with_audio), so the variable is set first, once per call: later records
        with the same keys cost no extra round trip (it also lets those keys cut a
        playback short). '' or 'none': no key; 'any': every key; None: leave the channel's
        setting alone."""
        args = f"{_word('path', path)} {int(limit_s)} {int(silence_threshold)} {int(silence_hits)}"
        if terminators is not None:
            self.use_terminators(terminators, timeout)
        self.session.last_key = None
        event = self.execute("record", args, timeout if timeout is not None else limit_s + 30)
        ms = event.get("variable_record_ms")
        seconds = event.get("variable_record_seconds")
        duration = int(ms) / 1000 if ms and ms.isdigit() else float(seconds or 0)
        exhausted = event.get("variable_silence_hits_exhausted") == "true"
        # playback_terminator_used stays on the channel after the app that set it: it is
        # this recording's key only if that key's DTMF event came during this recording
        # (the event comes before the completion).
        key = event.get("variable_playback_terminator_used")
        ended_by_key = bool(key) and key == self.session.last_key and not exhausted
        return RecordResult(path=path, duration_s=duration, silence_hits_exhausted=exhausted,
                            response=event.get("Application-Response", ""), event=event,
                            terminator=key if ended_by_key else None)

    def bridge(self, dial_string: str, timeout: float | None = None) -> BridgeResult:
        """Returns when the bridge ends (far end hung up, or it failed). If the caller
        hangs up while bridged, CallHangup is raised like for any command. `dial_string`
        is FreeSWITCH syntax: build it with fsapp.esl.syntax.bridge_arg(dial, variables)
        when any part of it comes from a caller."""
        event = self.execute("bridge", dial_string, timeout)
        disposition = event.get("variable_originate_disposition")
        cause = (event.get("variable_bridge_hangup_cause") or event.get("variable_last_bridge_hangup_cause")
                 or event.get("variable_originate_failed_cause"))
        ok = disposition in ("SUCCESS", "ANSWER") or event.get("variable_DIALSTATUS") == "SUCCESS"
        return BridgeResult(ok=ok, cause=cause, disposition=disposition,
                            response=event.get("Application-Response", ""), event=event)

    def transfer(self, extension: str, dialplan: str = "XML", context: str = "default",
                 timeout: float | None = None) -> None:
        """Send the call to another extension; the socket session ends with it."""
        self.execute("transfer", f"{_word('extension', extension)} {_word('dialplan', dialplan)} "
                     f"{_word('context', context)}", timeout)
        self._end(f"transferred to {extension}")

    def hangup(self, cause: str = "NORMAL_CLEARING", timeout: float | None = None) -> None:
        """Hang up. A no-op once the call has already ended (so clean-up code may call it).

        Behind applications sent with wait=False (a goodbye prompt) the switch hangs up
        when they have run: this waits for that (its CHANNEL_HANGUP), at most `timeout`
        (default app_timeout), because the socket must stay until then: `exit` would end
        the session with the queued applications unplayed (checked on FreeSWITCH
        1.10.12)."""
        if self.session.ended is not None:
            return
        behind = self.queued
        self.session.hangup_sent = True
        try:
            self._command(hangup_frame(cause), "sendmsg hangup")
        except CallHangup:
            return
        if behind and not self._over.wait(self.app_timeout if timeout is None else timeout):
            log.warning("the switch did not hang up after the queued applications", extra={"cause": cause})
        self._end("hung up by the application", cause)

    # -- digits ------------------------------------------------------------------------------
    def take_typeahead(self) -> str:
        """Digits pressed while no collect ran, oldest first; the buffer is emptied."""
        return self.session.take_typeahead()

    def flush_typeahead(self) -> str:
        """Discard buffered digits (e.g. before a question the caller must hear first)."""
        return self.session.take_typeahead()

    @property
    def typeahead(self) -> str:
        return self.session.typeahead

    def get_digits(self, min_digits: int, max_digits: int, tries: int, timeout_ms: int,
                   terminators: str, prompt: str, invalid_prompt: str | None = None,
                   regex: str | None = None, digit_timeout_ms: int | None = None,
                   var: str = "fsapp_digits", timeout: float | None = None) -> DigitsResult:
        """FreeSWITCH's play_and_get_digits with its whole outcome (DigitsResult).
        Type-ahead digits count as the start of the answer (see take_typeahead)."""
        terminators = terminators or ""
        pattern = re.compile(regex) if regex else None
        self._keys_of_queued_apps_dropped()

        def ok(digits: str) -> bool:
            return min_digits <= len(digits) <= max_digits and (pattern is None or bool(pattern.fullmatch(digits)))

        if self.session.typeahead:
            keys, digits, complete = self.session.take_entry(max_digits, terminators)
            term = keys[-1] if complete and keys and keys[-1] in terminators else ""
            if complete and ok(digits):
                log.debug("answered from type-ahead", extra={"digits": digits})
                return DigitsResult(digits, digits, keys, term, "typeahead")
            if not complete:
                rest = self._pgd(max(0, min_digits - len(digits)), max_digits - len(digits), 1, timeout_ms,
                                 terminators, prompt, invalid_prompt, None, digit_timeout_ms, var, timeout)
                keys, digits = keys + rest.keys, digits + rest.entered
                term = rest.terminator
                if ok(digits):
                    return DigitsResult(digits, digits, keys, term, rest.result or "success")
            tries -= 1
            if tries <= 0:
                return DigitsResult("", digits, keys, term, "failure",
                                    digits if digits and pattern is not None and not pattern.fullmatch(digits) else None)
            if invalid_prompt:
                self.playback(invalid_prompt, timeout)
        return self._pgd(min_digits, max_digits, tries, timeout_ms, terminators, prompt, invalid_prompt,
                         regex, digit_timeout_ms, var, timeout)

    def play_and_get_digits(self, min_digits: int, max_digits: int, tries: int, timeout_ms: int,
                            terminators: str, prompt: str, invalid_prompt: str | None = None,
                            regex: str | None = None, digit_timeout_ms: int | None = None,
                            var: str = "fsapp_digits", timeout: float | None = None) -> str:
        """FreeSWITCH's play_and_get_digits; returns the digits ('' on no valid input).
        Digits entered and then ended by the timeout count (FreeSWITCH's read_result is
        `timeout` and its variable holds them). See get_digits for the whole outcome."""
        return self.get_digits(min_digits, max_digits, tries, timeout_ms, terminators, prompt, invalid_prompt,
                               regex, digit_timeout_ms, var, timeout).digits

    def _pgd(self, min_digits, max_digits, tries, timeout_ms, terminators, prompt, invalid_prompt,
             regex, digit_timeout_ms, var, timeout) -> DigitsResult:
        args = " ".join([str(int(min_digits)), str(int(max_digits)), str(int(tries)), str(int(timeout_ms)),
                         _word("terminators", terminators or "none"), _word("prompt", prompt),
                         _word("invalid_prompt", invalid_prompt or "silence_stream://250"),
                         _word("var", var), _word("regex", regex or "[0-9*#]+"),
                         str(int(digit_timeout_ms or timeout_ms))])
        if timeout is None:
            timeout = max(self.app_timeout, tries * (timeout_ms / 1000 + 30))
        collect = Collect("play_and_get_digits", var, int(max_digits), terminators or "")
        event = self._execute("play_and_get_digits", args, timeout, collect)
        result = collect.outcome(event)
        if collect.ended_by_stray_terminator() and not result.entered:
            log.info("a terminator after a full-length entry reached the next question; asking again")
            return self._pgd(min_digits, max_digits, tries, timeout_ms, terminators, prompt, invalid_prompt,
                             regex, digit_timeout_ms, var, timeout)
        return result

    def read(self, min_digits: int, max_digits: int, prompt: str, timeout_ms: int,
             terminators: str = "#", var: str = "fsapp_digits", timeout: float | None = None) -> str:
        """FreeSWITCH's read (one try, no validation); type-ahead digits come first.
        Digits ended by the timeout count, as with play_and_get_digits."""
        terminators = terminators or ""
        wanted = min_digits
        self._keys_of_queued_apps_dropped()
        digits = ""
        if self.session.typeahead:
            _, digits, complete = self.session.take_entry(max_digits, terminators)
            if complete:
                return digits if len(digits) >= wanted else ""
            min_digits, max_digits = max(0, min_digits - len(digits)), max_digits - len(digits)
        args = (f"{int(min_digits)} {int(max_digits)} {_word('prompt', prompt)} {_word('var', var)} "
                f"{int(timeout_ms)} {_word('terminators', terminators or 'none')}")
        if timeout is None:
            timeout = max(self.app_timeout, timeout_ms / 1000 + 30)
        collect = Collect("read", var, int(max_digits), terminators)
        event = self._execute("read", args, timeout, collect)
        result = collect.outcome(event)
        if collect.ended_by_stray_terminator() and not result.entered:
            log.info("a terminator after a full-length entry reached the next question; asking again")
            collect = Collect("read", var, int(max_digits), terminators)
            event = self._execute("read", args, timeout, collect)
            result = collect.outcome(event)
        digits += result.entered
        return digits if len(digits) >= wanted else ""

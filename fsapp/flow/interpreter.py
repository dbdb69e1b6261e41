"""The interpreter: runs a compiled Flow on one Call (fsapp.esl.call.Call or anything with
the same methods), node by node, emitting trace events, and always runs on_hangup.

Every dependency comes in through Services, so each node kind can be tested with a fake
call and fake services (tests/flow/test_interpreter.py) and run for real over ESL.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import time
from collections import abc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from fsapp.esl import syntax
from fsapp.esl.errors import CallHangup
from fsapp.flow import expr
from fsapp.flow.callrecord import KIND as RECORD_KIND, SETTABLE as RECORD_SETTABLE, CallFacts, \
    call_record_row, record_key
from fsapp.flow.model import Flow, Node, thaw
from fsapp.flow.trace import Tracer
from fsapp.flowspec import WAITING_KINDS, case_label, mode_label, option_label
from fsapp.log import call_context, get_logger

log = get_logger("fsapp.flow.interpreter")

BEEP = "tone_stream://%(500,0,1000)"
MAX_STEPS_WITHOUT_INPUT = 1000  # a runtime guard behind the validator's loop check
MAX_STEPS_PER_CALL = 20000      # e.g. queue -> next -> queue against a router that answers at once
_SPACE = re.compile(r"\s")              # str.isspace(), one character at a time
_SPACE_OR_BANG = re.compile(r"[\s!]")   # ... or file_string's separator


def real_clock() -> dt.datetime:
    """The flow clock of a running line: the true instant, timezone-aware (in the host's
    zone), so a schedule node asks a calendar in any zone about the real moment whatever
    the server's TZ. A clock a test or the demo pins may give a naive time instead: a
    calendar takes that as its own local time (docs/calendars.md, "Which moment")."""
    return dt.datetime.now().astimezone()


def wall_time(moment: dt.datetime) -> dt.datetime:
    """`moment` as the naive host-local wall-clock time flows have always seen (`now`,
    call.started, the recordings' day) and rows store; a naive time is that already."""
    return moment if moment.tzinfo is None else moment.astimezone().replace(tzinfo=None)


class FlowRuntimeError(RuntimeError):
    """The flow cannot go on (bad value at run time, missing service); names flow and node."""


@dataclass
class Services:
    """What the interpreter needs from the rest of fsapp; each part is optional until a
    node needs it (a flow without sql nodes runs without a store)."""
    catalog: Any = None                  # fsapp.sounds.Catalog: .path(name, lang)
    say: Callable[[str, str, Any], list[str]] | None = None   # fsapp.say.render (fsapp.app hands it in)
    store: Any = None                    # fsapp.store.Store: query, query_one, write
    router: Any = None                   # fsapp.routing.Router: enqueue
    calendars: Mapping[str, Any] | None = None
    recordings: Path = Path("var/recordings")
    tracer: Tracer | None = None
    tts: str = ""                        # {text: ...} prompts: "" off, "espeak-ng" (tts_render),
    #                                      or "engine|voice" of FreeSWITCH's own speak (say: files)
    tts_render: Callable[[str, str], Any] | None = None   # fsapp.sounds.tts: (lang, text) -> WAV path
    # the moment schedule nodes ask calendars about: aware (real_clock), or a naive time a
    # test or the demo pins, taken as the calendar's local time; expressions see wall_time
    clock: Callable[[], dt.datetime] = real_clock
    # fn(call uuid) -> rows (kind, row, key) a tracer kept for the call's end, written with
    # its call record in one store trip (fsapp.flow.trace.record_node_visits: node visits)
    held_rows: Callable[[Any], list] | None = None
    unavailable: dict[str, str] = field(default_factory=dict)  # service -> why it could not be built
    notes: list[str] = field(default_factory=list)   # what building them did (a reload's answer says it)

    def need(self, name: str, node: str):
        value = getattr(self, name)
        if value is None:
            why = self.unavailable.get(name, "not configured")
            raise FlowRuntimeError(f"node {node!r} needs the {name} ({why})")
        return value

    def prompt_path(self, name: str, lang: str) -> str:
        if self.catalog is None:
            return name
        played = getattr(self.catalog, "played", None)    # fsapp.sounds.Catalog remembers them
        return played(name, lang) if played is not None else str(self.catalog.path(name, lang))


@dataclass
class Outcome:
    """How the call's run ended (also returned to the handler and printed by simulate)."""
    reason: str            # hangup, transfer, queue, caller_hangup, error
    node: str | None
    flow: str
    version: str
    cause: str | None = None
    error: str | None = None
    vars: dict = field(default_factory=dict)
    trail: list = field(default_factory=list)


class _Ended(Exception):
    def __init__(self, reason: str, cause: str | None = None):
        self.reason, self.cause = reason, cause


class _Return(Exception):
    pass


@dataclass
class _Frame:
    flow: Flow
    vars: dict


def _say_options(item) -> dict:
    """Engine options of a say item that differ from the engine's defaults: the currency
    of an amount other than CNY."""
    currency = item.get("currency") or "CNY"
    return {"currency": currency} if item["say"] in ("currency", "money") and currency != "CNY" else {}


class Session:
    """One call through one flow (and the subflows it calls)."""

    def __init__(self, call, flow: Flow, services: Services, flows: Mapping[str, Flow] | None = None,
                 initial: Mapping | None = None):
        self.call = call
        self.flow = flow
        self.s = services
        self.flows = dict(flows or {}) or {flow.name: flow}  # the registry as the call began
        self.trail: list[str] = []
        self.path: list[str] = []       # flow.node of every node entered: the call record's node path
        self.record: dict = {}          # the call record's data set during the call (outcome, queue, agent)
        self.answered: dt.datetime | None = None
        self.error = ""
        self.hangup_cause = ""
        self.visits: dict[str, int] = {}
        self.steps_without_input = 0
        self.node: Node | None = None
        self.in_on_hangup = False
        self.started = wall_time(services.clock())
        self.frame = _Frame(flow, self._initial_vars(flow))
        # values for variables the flow declares (an outbound campaign's contact fields);
        # undeclared names are ignored: a flow only ever sees the variables it declared
        self.frame.vars.update({k: v for k, v in (initial or {}).items() if k in flow.vars})
        self.main_vars = self.frame.vars

    # ---- entry point ----------------------------------------------------------------------
    def run(self, answer: bool = True) -> Outcome:
        reason, cause, error = "hangup", None, None
        with call_context(getattr(self.call, "uuid", None)):
            try:
                if answer:
                    # not waited for: the flow's first application is queued behind it
                    # and starts on the switch's side right after (Call.answer)
                    self.call.answer(wait=False)
                self.answered = wall_time(self.s.clock())   # the IVR answered (an outbound call: already answered)
                self._run(self.frame)
                reason = "hangup"  # a main flow's `return` ends the call like a hangup
                self.call.hangup()
            except _Ended as end:
                reason, cause = end.reason, end.cause
            except CallHangup as exc:
                reason, cause = "caller_hangup", exc.cause
            except Exception as exc:  # anything unplanned: log it, hang up cleanly, keep serving
                reason, error = "error", f"{type(exc).__name__}: {exc}"
                log.exception("flow failed", extra={"flow": self.flow.name,
                                                    "node": self.node.name if self.node else None})
                self._trace("error", error=error)
                self._hangup_quietly("NORMAL_TEMPORARY_FAILURE")
            self.hangup_cause = cause or ("NORMAL_CLEARING" if reason != "error" else "NORMAL_TEMPORARY_FAILURE")
            self._trace("end", reason=reason, cause=self.hangup_cause)
            end_node = self.node.name if self.node else None
            end_flow = self.frame.flow
            self._on_hangup()
            self._write_record(reason)
        return Outcome(reason, end_node, end_flow.name, end_flow.version,
                       cause=self.hangup_cause, error=error, vars=self.main_vars, trail=list(self.trail))

    def _write_record(self, reason: str) -> None:
        """The call's one record, after on_hangup (which may still set its outcome). The
        outbox keeps it through a database outage; a store that refuses it is logged, the
        worker goes on."""
        store = self.s.store
        held = self.s.held_rows(getattr(self.call, "uuid", None)) if self.s.held_rows is not None else []
        if store is None:
            return
        call = self.call
        facts = CallFacts(getattr(call, "uuid", None), getattr(call, "caller_id", None),
                          getattr(call, "destination", None), self.flow.name, self.flow.version,
                          self.started, self.answered, wall_time(self.s.clock()), reason, self.hangup_cause,
                          self.main_vars.get("lang") or self.flow.languages[0], self.path, self.record)
        # a call sent on from an agent (e.g. to the satisfaction survey) names its agent in
        # fsapp_agent_id (export fsapp_agent_id=1001 on the transferring side)
        facts.fields.setdefault("agent_id", (getattr(call, "variables", None) or {}).get("variable_fsapp_agent_id"))
        key = record_key(facts.uuid)
        try:
            if held:    # the rows a tracer kept for the call's end: one trip, one commit with them
                store.write_many([(RECORD_KIND, call_record_row(facts), key), *held])
            else:
                store.write(RECORD_KIND, call_record_row(facts), key=key)
        except Exception as exc:
            log.exception("call record not written", extra={"flow": self.flow.name})
            self._trace("error", error=f"{type(exc).__name__}: {exc}", stage="call_record")
            self._write_held(held)
            return
        self._trace("store", kind=RECORD_KIND, key=key)

    def _write_held(self, rows: list) -> None:
        """The held rows without the record that could not be written (its row was refused)."""
        if not rows:
            return
        try:
            self.s.store.write_many(rows)
        except Exception:  # reporting never breaks the worker; the outbox already keeps outages
            log.exception("held rows not written", extra={"flow": self.flow.name, "rows": len(rows)})

    def _hangup_quietly(self, cause: str) -> None:
        try:
            self.call.hangup(cause)
        except Exception:  # the call may already be gone; nothing more to do for it
            pass

    # ---- the node loop --------------------------------------------------------------------
    def _initial_vars(self, flow: Flow) -> dict:
        values = thaw(flow.vars)
        for name in RECORD_SETTABLE:   # `vars: {outcome: ...}`: the record's outcome until set
            if name in values:
                self.record.setdefault(name, values.pop(name))
        values.setdefault("lang", flow.languages[0])
        return values

    def _run(self, frame: _Frame) -> None:
        """Run a flow from its start until a `return` (returns) or an end (raises _Ended).
        When the call ends inside it, self.frame stays on it, so the end trace and the
        Outcome name the flow (e.g. the survey a caller was transferred to) where it ended."""
        previous = self.frame
        self.frame = frame
        self._run_nodes(frame)
        self.frame = previous

    def _run_nodes(self, frame: _Frame) -> None:
        name = frame.flow.start
        while True:
            node = frame.flow.nodes[name]
            # before the node is entered: while the caller still hears the prompts, the call
            # is shown (fsapp calls, the trace, node visits) in the node that played them
            self._wait_for_prompts(node)
            self.node = node
            self.trail.append(name)
            where = f"{frame.flow.name}.{name}"
            self.path.append(where)
            self.visits[where] = self.visits.get(where, 0) + 1
            self._trace("enter", kind=node.kind)
            self._guard_loop(node)
            try:
                label = getattr(self, f"_k_{node.kind}")(node, frame)
            except _Return:
                return
            if label is None:
                return
            # the compiled node's edges are the one place a label meets its target
            target = node.target(label)
            if target is None:
                raise FlowRuntimeError(f"flow {frame.flow.name}: node {node.name!r} has no {label!r} edge")
            self._trace("edge", to=target, label=label)
            name = target

    def _wait_for_prompts(self, node: Node) -> None:
        """Play and say nodes do not wait for their prompts to end: the switch runs what
        follows the moment a prompt ends, without a round trip through fsapp (issue 14),
        so a chain of prompts, the choice between them (goto, branch: they only read
        variables) and the goodbye before a hang-up cost no waiting. Any other node waits
        first, so nothing changes for the caller: a key pressed during the prompts is
        type-ahead for the next question, and a caller who hangs up during them gets no
        ticket written, no database lookup and no place in a queue."""
        if node.kind not in _NEEDS_NO_WAIT and self.call.queued:
            self.call.drain()

    def _guard_loop(self, node: Node) -> None:
        if len(self.trail) > MAX_STEPS_PER_CALL:
            raise FlowRuntimeError(f"flow {self.frame.flow.name}: more than {MAX_STEPS_PER_CALL} nodes in one "
                                   f"call (loop at {node.name!r})")
        if node.kind in WAITING_KINDS:
            self.steps_without_input = 0
            return
        self.steps_without_input += 1
        if self.steps_without_input > MAX_STEPS_WITHOUT_INPUT:
            raise FlowRuntimeError(f"flow {self.frame.flow.name}: {MAX_STEPS_WITHOUT_INPUT} nodes without "
                                   f"caller input (loop at {node.name!r})")

    def _trace(self, event: str, **fields) -> None:
        if self.s.tracer is None:
            return
        node = self.node
        self.s.tracer({"event": event, "flow": self.frame.flow.name, "version": self.frame.flow.version,
                       "node": node.name if node else None, "uuid": getattr(self.call, "uuid", None),
                       "t": time.time(), **fields})

    # ---- values ---------------------------------------------------------------------------
    def scope(self, frame: _Frame | None = None) -> dict:
        frame = frame or self.frame
        call = self.call
        return {**frame.vars,
                "call": {"uuid": getattr(call, "uuid", None), "caller_id": getattr(call, "caller_id", None),
                         "caller_name": getattr(call, "caller_name", None),
                         "destination": getattr(call, "destination", None), "started": self.started,
                         "variables": getattr(call, "variables", {})},
                "flow": {"name": frame.flow.name, "version": frame.flow.version},
                "trail": list(self.trail), "now": wall_time(self.s.clock()), "error": self.error,
                "hangup_cause": self.hangup_cause, "ticket_serial": self._ticket_serial,
                "outcome": self.record.get("outcome", "")}

    def _ticket_serial(self) -> str:
        return self.s.need("store", self.node.name if self.node else "?").next_ticket_serial()

    def render(self, value, frame: _Frame | None = None):
        # most fields are plain text (prompt names): no scope to build for those
        if isinstance(value, abc.Mapping):     # not typing's alias: its isinstance() runs in Python
            if not any(_is_template(v) for v in value.values()):
                return dict(value)
            scope = self.scope(frame)
            return {k: self._guarded(expr.render, v, scope) for k, v in value.items()}
        if not _is_template(value):
            return value
        return self._guarded(expr.render, value, self.scope(frame))

    def evaluate(self, value, frame: _Frame | None = None, scope: dict | None = None):
        """An expression's value; `scope`: one self.scope() shared by several expressions
        read at the same moment (a branch's cases)."""
        if not isinstance(value, str):
            return value       # a YAML literal (true, 3): its own value
        return self._guarded(expr.evaluate, value, self.scope(frame) if scope is None else scope)

    def _guarded(self, function, value, scope):
        """Errors inside a flow's expression are the flow's: name the node and the text."""
        try:
            return function(value, scope)
        except CallHangup:
            raise
        except Exception as exc:
            where = self.node.name if self.node else "?"
            raise FlowRuntimeError(f"node {where!r}: {value!r}: {type(exc).__name__}: {exc}") from exc

    @property
    def lang(self) -> str:
        return self.frame.vars.get("lang") or self.frame.flow.languages[0]

    def _set(self, frame: _Frame, name: str, value) -> None:
        if name == "lang" and value not in frame.flow.languages:
            raise FlowRuntimeError(f"node {self.node.name!r}: language {value!r} is not one of the flow's "
                                   f"languages ({', '.join(frame.flow.languages)})")
        if name in RECORD_SETTABLE:     # the call record's data, not a flow variable
            self.record[name] = value
            return
        frame.vars[name] = value

    # ---- prompts --------------------------------------------------------------------------
    def _playable(self, items) -> tuple[list[str], list[str]]:
        """(things to hand to playback, names for the trace) for a prompt sequence."""
        paths, names = [], []
        lang = self.lang
        for item in items or ():
            if "name" in item:
                name = str(self.render(item["name"]))
                paths.append(self.s.prompt_path(name, lang))
                names.append(name)
            elif "say" in item:
                value = self.render(item["value"])
                say = self.s.need("say", self.node.name if self.node else "on_hangup")
                for name in say(lang, item["say"], value, **_say_options(item)):
                    paths.append(self.s.prompt_path(name, lang))
                    names.append(name)
            elif "tone" in item:
                tone = "tone_stream://" + str(self.render(item["tone"]))
                paths.append(self._as_data(item["tone"], tone))
                names.append(tone)
            elif "silence" in item:
                paths.append(f"silence_stream://{int(item['silence'] * 1000)}")
                names.append(paths[-1])
            elif "file" in item:
                path = str(self.render(item["file"]))
                paths.append(self._as_data(item["file"], path))
                names.append(path)
            elif "text" in item:
                if not self.s.tts:
                    raise FlowRuntimeError("text prompt but no TTS configured ([flows] tts)")
                text = str(self.render(item["text"]))
                if self.s.tts_render is not None and "|" not in self.s.tts:
                    paths.append(str(self.s.tts_render(lang, text)))  # a cached WAV, played as a file
                else:
                    # FreeSWITCH speaks it (tts_engine/tts_voice); the text may hold a caller's
                    # or a database's data, so it must not be expanded as ${...}
                    paths.append("say:" + syntax.literal(text))
                names.append("say:" + text)
        return paths, names

    @staticmethod
    def _as_data(source, rendered: str) -> str:
        """What a template rendered is data (a caller's or a database's text may be in it):
        FreeSWITCH must not expand `${...}` in it. A plain string in the flow file is the
        author's own FreeSWITCH syntax (e.g. `$${sounds_dir}/x.wav`) and goes as written."""
        return syntax.literal(rendered) if isinstance(source, str) and expr.is_template(source) else rendered

    def play(self, items, wait: bool = True, **trace) -> None:
        """wait=False: the prompt goes without waiting for it to end (Call.playback); see
        _wait_for_prompts for when the flow waits after all."""
        paths, names = self._playable(items)
        if not paths:
            return
        if "|" in self.s.tts and any(p.startswith("say:") for p in paths):
            engine, _, voice = self.s.tts.partition("|")
            self.call.set("tts_engine", engine)
            if voice:
                self.call.set("tts_voice", voice)
        self._trace("prompt", prompts=names, **trace)
        self.call.playback(paths, wait=wait)

    def _prompt_arg(self, items) -> str:
        """One word for play_and_get_digits: a file, or file_string://a!b!c. Prompts that
        cannot be one word (TTS text with spaces) are played first instead."""
        paths, names = self._playable(items)
        self._trace("prompt", prompts=names, question=True)
        if len(paths) == 1 and not _SPACE.search(paths[0]):
            return paths[0]
        if paths and not any(_SPACE_OR_BANG.search(p) for p in paths):
            return "file_string://" + "!".join(paths)
        self.call.playback(paths)
        return "silence_stream://250"

    def ask(self, items, *, min_digits: int, max_digits: int, timeout: float, terminators: str,
            digit_timeout: float | None = None, flush: bool = False):
        """One try of one question; the Call's DigitsResult (digits, entered, no_input, ...).
        flush: keys pressed before the question was asked do not answer it."""
        if flush:
            dropped = self.call.flush_typeahead()
            if dropped:
                self._trace("typeahead_flushed", digits=dropped)
        return self.call.get_digits(min_digits, max_digits, 1, int(timeout * 1000), terminators,
                                    self._prompt_arg(items), digit_timeout_ms=int((digit_timeout or timeout) * 1000))

    # ---- node kinds: each returns the label of the edge taken (its target is the compiled
    # node's: Node.target), or None when the flow part ends ---------------------------------
    def _k_play(self, node: Node, frame: _Frame):
        self.play(node.args["prompt"], wait=self.in_on_hangup)
        return "next"

    def _k_say(self, node: Node, frame: _Frame):
        self.play([{"say": node.args["type"], "value": node.args["value"],
                    "currency": node.args["currency"]}], wait=self.in_on_hangup)
        return "next"

    def _k_menu(self, node: Node, frame: _Frame):
        """FreeSWITCH's ivr menu rule (switch_ivr_menu.c): an entry ends at the longest
        option's length (digit-len), at #, or digit_timeout after the last key
        (inter-digit-timeout), so "1" then a pause chooses 1 beside a "10" option. Wrong
        entries and silent passes are counted apart (max-failures, max-timeouts)."""
        a = node.args
        options = a["options"]
        longest = max(len(k) for k in options)
        max_failures = a["max_failures"] or a["tries"]
        max_timeouts = a["max_timeouts"] or max_failures
        failures = timeouts = attempt = 0
        while True:
            prompt = a["prompt"] if attempt == 0 else (a["repeat_prompt"] or a["prompt"])
            attempt += 1
            got = self.ask(prompt, min_digits=1, max_digits=longest, timeout=a["timeout"],
                           terminators="#" if longest > 1 and "#" not in options else "",
                           digit_timeout=a["digit_timeout"])
            valid = bool(got.digits) and got.digits in options
            fields = _input_fields(got, valid, "" if valid else "no input" if got.no_input else "not an option")
            self._trace("input", attempt=attempt, **fields)
            if valid:
                return option_label(got.digits)
            if got.no_input:
                timeouts += 1
                sorry = a["no_input"] or a["invalid"]
            else:
                failures += 1
                sorry = a["invalid"]
            if sorry:
                self.play(sorry)
            if failures >= max_failures or timeouts >= max_timeouts:
                return "on_fail"

    def _k_collect(self, node: Node, frame: _Frame):
        a = node.args
        for attempt in range(a["tries"]):
            got = self.ask(a["prompt"], min_digits=1, max_digits=a["max"], timeout=a["timeout"],
                           terminators=a["terminators"], digit_timeout=a["digit_timeout"])
            digits = got.digits
            entry = digits or got.entered
            if got.no_input:
                problem = "no input"
            elif not entry:
                problem = f"{got.terminator or 'a terminator'} before any digit"
            else:
                problem = _digits_problem(entry, a) or (None if digits else "not accepted")
            self._trace("input", attempt=attempt + 1, **_input_fields(got, problem is None, problem or ""))
            if problem is not None:
                sorry = (a["no_input"] or a["invalid"]) if got.no_input else a["invalid"]
                if sorry:
                    self.play(sorry)
                continue
            if a["readback"]:
                # a resident ID's check letter X is keyed as *: read it back as X, not "star"
                spoken = digits[:-1] + "X" if a["check"] == "mod11" and digits.endswith("*") else digits
                self.play([{"say": "digits", "value": spoken}])
            if a["confirm"]:
                confirm = a["confirm"]
                answer = self.ask(confirm["prompt"], min_digits=1, max_digits=1, timeout=a["timeout"],
                                  terminators="", flush=confirm["flush"])
                confirmed = answer.digits == confirm["yes"]
                fields = _input_fields(answer, confirmed, "")
                if fields["outcome"] == "invalid":
                    fields["outcome"] = "declined"   # another key is an answer here, not a mistake
                self._trace("input", confirm=True, **fields)
                if not confirmed:
                    continue
            self._set(frame, a["into"], digits)
            return "next"
        return "on_fail"

    def _k_record(self, node: Node, frame: _Frame):
        a = node.args
        count = self.visits.get(f"{frame.flow.name}.{node.name}", 1)
        day = wall_time(self.s.clock()).strftime("%Y%m%d")
        path = Path(self.s.recordings).absolute() / frame.flow.name / day / \
            f"{getattr(self.call, 'uuid', 'call')}-{node.name}-{count}.wav"
        try:  # FreeSWITCH writes the file; on the same host the directory must exist
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot create recordings directory", extra={"dir": str(path.parent), "error": str(exc)})
        review = a["review"]
        short_tries = 0
        # the keys first, so no command stands between the beep and the recording
        self.call.use_terminators(a["terminators"])
        while True:
            self._set(frame, a["into"], {"path": str(path), "duration": 0.0, "saved": False})
            # after a too-short message, too_short is the prompt (it asks again)
            if a["prompt"] and not (short_tries and a["too_short"]):
                # the recording's cue (record=True in the trace): its beep, else this prompt
                self.play(a["prompt"], **({} if a["beep"] else {"record": True}))
            if a["beep"]:
                self._trace("prompt", prompts=[BEEP], record=True)
                self.call.playback(BEEP)
            result = self.call.record(str(path), int(a["max"]), 200, max(1, int(a["silence"])),
                                      terminators=a["terminators"])
            duration = float(getattr(result, "duration_s", 0.0) or 0.0)
            too_short = a["min_length"] is not None and duration < a["min_length"]
            self._set(frame, a["into"], {"path": str(path), "duration": duration, "saved": False})
            self._trace("input", recording=str(path), duration=duration, valid=not too_short,
                        **({"problem": f"shorter than {a['min_length']:g} s"} if too_short else {}))
            if too_short:
                short_tries += 1
                _remove_quietly(path)
                if short_tries >= a["tries"]:
                    self._set(frame, a["into"], None)
                    if a["on_too_short"]:
                        return "on_too_short"
                    return "on_discard" if node.target("on_discard") else "next"
                self.play(a["too_short"], **({} if a["beep"] else {"record": True}))
                continue
            if not review:
                frame.vars[a["into"]]["saved"] = True
                return "next"
            decision = self._review(review, path)
            if decision == "rerecord":
                continue
            if decision == "discard":
                _remove_quietly(path)
                self._set(frame, a["into"], None)
                return "on_discard" if node.target("on_discard") else "next"
            frame.vars[a["into"]]["saved"] = True
            return "next"

    def _review(self, review, path: Path) -> str:
        keys = {review["listen"]: "listen", review["rerecord"]: "rerecord", review["save"]: "save",
                review["discard"]: "discard"}
        tries = review["tries"]
        while tries > 0:
            digits = self.ask(review["prompt"], min_digits=1, max_digits=1, timeout=5.0, terminators="").digits
            choice = keys.get(digits)
            self._trace("input", digits=digits, valid=choice is not None, review=choice)
            if choice == "listen":
                self._trace("prompt", prompts=[str(path)])
                self.call.playback(str(path))
                continue
            if choice is not None:
                return choice
            tries -= 1
        return "save"  # a caller who stops answering keeps the message: the usual voicemail rule

    def _k_sql(self, node: Node, frame: _Frame):
        a = node.args
        params = self.render(a["params"])
        try:
            store = self.s.need("store", node.name)
            if a["rows"] == "one":
                result = store.query_one(a["query"], params)
            else:
                result = store.query(a["query"], params)
        except CallHangup:
            raise
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            self._trace("error", error=self.error, query=a["query"])
            if a.get("on_error"):
                return "on_error"
            raise
        self._trace("store", query=a["query"], rows=_count(result))
        self._set(frame, a["into"], result)
        return "next" if node.target("next") else None

    def _k_write(self, node: Node, frame: _Frame):
        a = node.args
        store = self.s.need("store", node.name)
        row = self.render(a["row"])
        visit = self.visits.get(f"{frame.flow.name}.{node.name}", 1)
        where = f"on_hangup.{node.name}" if self.in_on_hangup else node.name
        key = self.render(a["key"]) if a["key"] else f"{getattr(self.call, 'uuid', '')}:{where}:{visit}"
        store.write(a["kind"], row, key=str(key))
        self._trace("store", kind=a["kind"], key=str(key))
        return "next" if node.target("next") else None

    def _k_set(self, node: Node, frame: _Frame):
        for name, value in node.args["vars"].items():
            self._set(frame, name, self.evaluate(value, frame))
        return "next" if node.target("next") else None

    def _k_branch(self, node: Node, frame: _Frame):
        scope = self.scope(frame)      # the cases only read: one scope for all of them
        for i, case in enumerate(node.args["cases"]):
            if self.evaluate(case["when"], frame, scope):
                return case_label(i)
        return "else"

    def _k_goto(self, node: Node, frame: _Frame):
        return "target"

    def _k_subflow(self, node: Node, frame: _Frame):
        a = node.args
        callee = self._flow_named(a["flow"])
        args = self.render(a["args"])
        sub = _Frame(callee, {**self._initial_vars(callee), **args, "lang": self.lang})
        if self.lang not in callee.languages:
            sub.vars["lang"] = callee.languages[0]
        self._run(sub)
        self.node = node
        for var, output in a["returns"].items():
            self._set(frame, var, sub.vars.get(output))
        if "lang" in sub.vars and sub.vars["lang"] in frame.flow.languages:
            frame.vars["lang"] = sub.vars["lang"]  # a language menu in a subflow switches the call
        return "next"

    def _k_return(self, node: Node, frame: _Frame):
        raise _Return()

    def _k_queue(self, node: Node, frame: _Frame):
        a = node.args
        kwargs = {"priority": int(self.evaluate(a["priority"], frame) or 0),
                  "skills": list(a["skills"]) or None, "lang": self.lang}
        if a["timeout"]:
            kwargs["timeout"] = a["timeout"]
        try:
            outcome = self.s.need("router", node.name).enqueue(self.call, a["queue"], **kwargs)
        except CallHangup:
            raise
        except Exception as exc:  # the ACD's state or FreeSWITCH is unreachable: never drop the caller
            self.error = f"{type(exc).__name__}: {exc}"
            self._trace("error", error=self.error, queue=a["queue"])
            for label in ("on_error", "on_overflow"):
                if node.target(label):
                    return label
            raise
        kind, target = getattr(outcome, "kind", str(outcome)), getattr(outcome, "target", None)
        self._trace("input", queue=a["queue"], outcome=kind, agent=target, valid=True)
        self.record["queue_name"] = a["queue"]     # the call record names the last queue and its agent
        if kind in ("answered", "transferred") and getattr(outcome, "agent", ""):
            self.record["agent_id"] = outcome.agent     # transferred: by this agent (att_xfer)
        elif kind == "answered":
            self.record["agent_id"] = target
        if a["into"]:
            self._set(frame, a["into"], {"kind": kind, "target": target})
        if kind == "abandoned":
            raise _Ended("caller_hangup", "NORMAL_CLEARING")
        if kind == "overflow" and str(target or "").startswith("flow:") and target[5:] in self.flows:
            self._continue_in(target[5:])      # the router sends the caller on to that flow
        label = {"answered": "next", "overflow": "on_overflow", "timeout": "on_timeout",
                 "callback": "on_callback"}.get(kind)
        if label and node.target(label):
            return label
        self.call.hangup()
        raise _Ended("queue", "NORMAL_CLEARING")

    def _k_transfer(self, node: Node, frame: _Frame):
        a = node.args
        if a["extension"]:
            self.call.transfer(a["extension"], "XML", a["context"])
            raise _Ended("transfer")
        if a["number"]:
            result = self.call.bridge(syntax.bridge_arg(
                f"sofia/gateway/{syntax.word('gateway', a['gateway'])}/{syntax.number(a['number'], 'transfer number')}"))
            if getattr(result, "ok", False):
                self.call.hangup()
                raise _Ended("transfer")
            self.error = f"bridge to {a['number']} failed: {getattr(result, 'cause', None)}"
            self._trace("error", error=self.error)
            if node.target("on_fail"):
                return "on_fail"
            self.call.hangup()
            raise _Ended("transfer", getattr(result, "cause", None))
        self._continue_in(a["flow"])

    def _continue_in(self, name: str):
        """Run flow `name` to its end, then hang up (transfer: {flow}, and a queue's
        overflow or leave key to flow:NAME)."""
        target = self._flow_named(name)
        self._run(_Frame(target, {**self._initial_vars(target), "lang": self.lang
                                  if self.lang in target.languages else target.languages[0]}))
        self.call.hangup()
        raise _Ended("hangup")

    def _k_schedule(self, node: Node, frame: _Frame):
        a = node.args
        calendar = self.s.need("calendars", node.name).get(a["calendar"])
        if calendar is None:
            raise FlowRuntimeError(f"node {node.name!r}: calendar {a['calendar']!r} is not loaded")
        now = self.s.clock()   # not wall_time: a naive host time is not the calendar's local time
        mode = calendar.mode(now)
        if node.target(mode_label(mode)):
            return mode_label(mode)
        return "open" if calendar.is_open(now) else "closed"

    def _k_hangup(self, node: Node, frame: _Frame):
        if node.args["prompt"]:
            # not waited for: the switch hangs up when the goodbye has played (Call.hangup)
            self.play(node.args["prompt"], wait=self.in_on_hangup)
        self.call.hangup(node.args["cause"])
        raise _Ended("hangup", node.args["cause"])

    def _flow_named(self, name: str) -> Flow:
        try:
            return self.flows[name]
        except KeyError:
            raise FlowRuntimeError(f"flow {name!r} is not loaded") from None

    # ---- on_hangup ------------------------------------------------------------------------
    def _on_hangup(self) -> None:
        """Run every on_hangup step; a failing step is logged and the next still runs."""
        self.frame = _Frame(self.flow, self.main_vars)
        self.in_on_hangup = True
        for step in self.flow.on_hangup:
            self.node = step
            try:
                when = step.args.get("when")
                if when is not None and not self.evaluate(when):
                    continue
                getattr(self, f"_k_{step.kind}")(step, self.frame)
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                log.warning("on_hangup step failed", extra={"step": step.name, "error": message})
                self._trace("error", error=message, stage="on_hangup")


# Node kinds that run without waiting for the prompts before them (Session._wait_for_prompts).
_NEEDS_NO_WAIT = frozenset({"play", "say", "hangup", "goto", "branch"})


def _is_template(value) -> bool:
    return isinstance(value, str) and expr.is_template(value)


def _input_fields(got, valid: bool, problem: str) -> dict:
    """The trace of one answer, as FreeSWITCH reported it: digits = what the caller
    entered (also when refused), outcome = accepted, no_input or invalid."""
    outcome = "accepted" if valid else "no_input" if got.no_input else "invalid"
    fields = {"digits": got.digits if valid else (got.entered or got.keys), "valid": valid, "outcome": outcome}
    if problem:
        fields["problem"] = problem
    if got.invalid:
        fields["refused"] = got.invalid
    return fields


def _digits_problem(digits: str, a: Mapping) -> str | None:
    if not digits:
        return "no input"
    if len(digits) < a["min"] or len(digits) > a["max"]:
        return f"{len(digits)} digits, expected {a['min']}-{a['max']}"
    if a["validate"] and not re.fullmatch(a["validate"], digits):
        return "does not match validate"
    if a["check"] and not CHECKS[a["check"]](digits):
        return f"fails {a['check']} check"
    return None


def luhn(digits: str) -> bool:
    """Luhn mod-10: the check digit of bank cards and many account numbers."""
    if not digits.isdigit() or len(digits) < 2:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mod11(digits: str) -> bool:
    """ISO 7064 MOD 11-2 as in China's 18-digit resident ID; X (10) is keyed as *."""
    if len(digits) != 18 or not digits[:17].isdigit():
        return False
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    check = (12 - sum(int(d) * w for d, w in zip(digits, weights)) % 11) % 11
    return digits[17] == ("*" if check == 10 else str(check))


def mobile_cn(digits: str) -> bool:
    return re.fullmatch(r"1[3-9]\d{9}", digits) is not None


CHECKS = {"luhn": luhn, "mod11": mod11, "mobile_cn": mobile_cn}


def _count(result) -> int:
    if result is None:
        return 0
    return len(result) if isinstance(result, list) else 1


def _remove_quietly(path: Path) -> None:
    try:
        os.remove(path)
    except OSError:  # written by FreeSWITCH on another host, or never written: nothing to undo
        pass


def run_call(call, flow: Flow, services: Services, flows: Mapping[str, Flow] | None = None,
             answer: bool = True, initial: Mapping | None = None) -> Outcome:
    """Run `flow` on `call`; `initial` gives values to variables the flow declares."""
    return Session(call, flow, services, flows, initial).run(answer=answer)

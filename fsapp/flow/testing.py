"""Flow tests without a switch: a scripted in-process call and fake services.

ScriptedCall implements the parts of the Call API (fsapp.esl.call.Call) the interpreter
uses. Each question the flow asks (play_and_get_digits) takes the next entry of the
caller's script: digits such as "1" or "12345678#", "" for silence (no input), or
"hangup" to hang up at that point. When the script runs out the caller hangs up, so
every test ends.

The fakes (FakeStore, FakeRouter, FakeCalendar) answer from fixtures written in the flow
test YAML (see fsapp.flow.flowtests) or built by unit tests.
"""
from __future__ import annotations

import datetime as dt
import re
import uuid as uuid_mod
from dataclasses import dataclass, field
from typing import Any

from fsapp.esl.call import DigitsResult
from fsapp.esl.errors import CallHangup
from fsapp.flow.interpreter import luhn as luhn_ok


@dataclass
class Recorded:
    path: str
    duration_s: float
    silence_hits_exhausted: bool = True
    response: str = "FILE RECORDED"


@dataclass
class Bridged:
    ok: bool
    cause: str | None
    disposition: str | None
    response: str = ""


class ScriptedCall:
    def __init__(self, presses=(), caller_id: str = "13800138000", destination: str = "12345",
                 uuid: str | None = None, record_seconds: float | list = 5.0, bridge_ok: bool = True,
                 variables: dict | None = None):
        self.uuid = uuid or str(uuid_mod.uuid4())
        self.caller_id = caller_id
        self.destination = destination
        self.variables = dict(variables or {})
        self.script = [p if p is not None else "" for p in presses]
        # seconds each recording lasts: one value, or one per recording (the last repeats)
        self.record_seconds = [float(v) for v in record_seconds] if isinstance(record_seconds, (list, tuple)) \
            else [float(record_seconds)]
        self.bridge_ok = bridge_ok
        self.heard: list[str] = []      # every file played, in order (questions' prompts included)
        self.pressed: list[str] = []
        self.actions: list[tuple] = []  # (what, detail) in order: answer, play, ask, record, ...
        self.ended: str | None = None   # why the call ended
        self.hangup_cause: str | None = None
        self.channel: dict[str, str] = {}

    # ---- helpers --------------------------------------------------------------------------
    def _check(self) -> None:
        if self.ended:
            raise CallHangup(self.uuid, self.hangup_cause, self.ended)

    def _hear(self, path: str) -> None:
        if path.startswith("file_string://"):
            self.heard.extend(p for p in path[len("file_string://"):].split("!") if p)
        else:
            self.heard.append(path)

    def _caller_hangs_up(self, why: str) -> None:
        self.ended, self.hangup_cause = why, "NORMAL_CLEARING"
        self.actions.append(("caller_hangup", why))
        raise CallHangup(self.uuid, "NORMAL_CLEARING", why)

    # ---- Call API -------------------------------------------------------------------------
    def answer(self, timeout=None, wait=True) -> None:
        self._check()
        self.actions.append(("answer", ""))

    def pre_answer(self, timeout=None) -> None:
        self._check()

    queued = False   # every prompt "ends" at once here: nothing is ever left to wait for

    def drain(self, timeout=None) -> None:
        return None

    def playback(self, path_or_list, timeout=None, wait=True) -> str:
        self._check()
        for path in [path_or_list] if isinstance(path_or_list, str) else list(path_or_list):
            self._hear(path)
            self.actions.append(("play", path))
        return "FILE PLAYED"

    def get_digits(self, min_digits, max_digits, tries, timeout_ms, terminators, prompt,
                   invalid_prompt=None, regex=None, digit_timeout_ms=None, var="fsapp_digits",
                   timeout=None) -> DigitsResult:
        """One try, by FreeSWITCH's rules (see docs/flows.md, "Input rules"): the entry ends
        at a terminator or at max digits (keys after that are dropped, as the switch drops
        a terminator after a full entry); what is left when the entry ends counts if it
        has min digits (a timeout after digits is an answer)."""
        self._check()
        self._hear(prompt)
        self.actions.append(("ask", prompt))
        if not self.script:
            self._caller_hangs_up("script ended")
        entry = str(self.script.pop(0))
        if entry == "hangup":
            self._caller_hangs_up("caller script: hangup")
        self.pressed.append(entry)
        keys, digits, terminator = "", "", ""
        for d in entry:
            keys += d
            if d in (terminators or ""):
                terminator = d
                break
            digits += d
            if len(digits) >= max_digits:
                break
        refused = bool(digits) and regex is not None and re.search(regex, digits) is None
        accepted = digits if digits and len(digits) >= min_digits and not refused else ""
        return DigitsResult(accepted, digits, keys, terminator, "success" if accepted else "failure",
                            digits if refused else None)

    def play_and_get_digits(self, min_digits, max_digits, tries, timeout_ms, terminators, prompt,
                            invalid_prompt=None, regex=None, digit_timeout_ms=None, var="fsapp_digits",
                            timeout=None) -> str:
        return self.get_digits(min_digits, max_digits, tries, timeout_ms, terminators, prompt, invalid_prompt,
                               regex).digits

    def read(self, min_digits, max_digits, prompt, timeout_ms, terminators="#", var="fsapp_digits",
             timeout=None) -> str:
        return self.play_and_get_digits(min_digits, max_digits, 1, timeout_ms, terminators, prompt)

    def use_terminators(self, terminators, timeout=None) -> None:
        self._check()
        self.record_terminators = terminators

    def record(self, path, limit_s, silence_threshold=200, silence_hits=3, timeout=None,
               terminators="#") -> Recorded:
        self._check()
        self.actions.append(("record", path))
        self.record_terminators = terminators
        seconds = self.record_seconds.pop(0) if len(self.record_seconds) > 1 else self.record_seconds[0]
        return Recorded(path, min(float(limit_s), seconds))

    def bridge(self, dial_string, timeout=None) -> Bridged:
        self._check()
        self.actions.append(("bridge", dial_string))
        if self.bridge_ok:
            return Bridged(True, "NORMAL_CLEARING", "SUCCESS")
        return Bridged(False, "USER_BUSY", "USER_BUSY")

    def transfer(self, extension, dialplan="XML", context="default", timeout=None) -> None:
        self._check()
        self.actions.append(("transfer", f"{extension} {dialplan} {context}"))
        self.ended = f"transferred to {extension}"

    def hangup(self, cause="NORMAL_CLEARING", timeout=None) -> None:
        if self.ended:
            return
        self.actions.append(("hangup", cause))
        self.ended, self.hangup_cause = "hung up by the application", cause

    def set(self, name, value, timeout=None) -> None:
        self._check()
        self.channel[name] = str(value)

    export = set

    def unset(self, name, timeout=None) -> None:
        self.channel.pop(name, None)

    def get(self, name) -> str | None:
        return self.channel.get(name)

    def sleep(self, ms, timeout=None) -> None:
        self._check()

    def take_typeahead(self) -> str:
        return ""

    flush_typeahead = take_typeahead


# ---- fake services ----------------------------------------------------------------------

class FakeStoreError(RuntimeError):
    """What a fixture `error:` raises: the flow's on_error path is exercised."""


class FakeStore:
    """Named queries answered from fixtures; writes kept in order.

    fixtures: {query name: [ {params: {...}, rows: [...]} | {params: ..., error: "msg"} ]}
    The first entry whose params are a subset of the call's params answers (no params:
    any call). A query without fixtures returns no rows.
    """

    def __init__(self, queries: dict | None = None):
        self.queries = queries or {}
        self.calls: list[tuple[str, dict]] = []
        self.writes: list[dict] = []
        self.serials = 0
        self.clock = dt.datetime.now   # as Store.clock: what row stamps and node visits use

    def query(self, name: str, params: dict, connection=None, timeout=None) -> list[dict]:
        self.calls.append((name, dict(params)))
        for entry in self.queries.get(name, ()):
            wanted = entry.get("params") or {}
            if all(str(params.get(k)) == str(v) for k, v in wanted.items()):
                if "error" in entry:
                    raise FakeStoreError(str(entry["error"]))
                return [dict(r) for r in entry.get("rows") or ()]
        return []

    def query_one(self, name: str, params: dict, connection=None, timeout=None) -> dict | None:
        rows = self.query(name, params, connection, timeout)
        return rows[0] if rows else None

    def write(self, kind: str, row: dict, key: str | None = None) -> str:
        duplicate = any(w["key"] == key for w in self.writes) if key else False
        if not duplicate:
            self.writes.append({"kind": kind, "row": dict(row), "key": key})
        return "duplicate" if duplicate else "written"

    def write_many(self, rows: list[tuple[str, dict, str]]) -> list[str]:
        """As Store.write_many: each (kind, row, key), in order."""
        return [self.write(kind, row, key) for kind, row, key in rows]

    def next_ticket_serial(self) -> str:
        """Serials 1000000x plus a Luhn check digit: deterministic for tests."""
        self.serials += 1
        body = f"{10000000 + self.serials:07d}"[-7:]
        for check in "0123456789":
            if luhn_ok(body + check):
                return body + check
        raise AssertionError("unreachable: one check digit always fits")


@dataclass
class FakeOutcome:
    kind: str
    target: str | None = None


class FakeRouter:
    """enqueue answers from fixtures: {queue: answered | overflow | timeout | callback |
    abandoned | {kind: ..., target: agent}}; unknown queues are answered by agent 1001."""

    def __init__(self, outcomes: dict | None = None):
        self.outcomes = outcomes or {}
        self.enqueued: list[dict] = []

    def enqueue(self, call, queue, priority=0, skills=None, announce=None, timeout=None,
                lang=None) -> FakeOutcome:
        self.enqueued.append({"queue": queue, "priority": priority, "skills": skills, "timeout": timeout,
                              "lang": lang})
        spec = self.outcomes.get(queue, "answered")
        if isinstance(spec, dict):
            return FakeOutcome(str(spec.get("kind", "answered")), spec.get("target"))
        return FakeOutcome(str(spec), "1001" if spec == "answered" else None)


@dataclass
class FakeCalendar:
    """A calendar frozen in one state: open, closed, or a mode name (day, night, holiday...).
    A mode counts as open unless it is closed, night or holiday."""
    state: str = "open"
    modes_seen: list = field(default_factory=list)

    def mode(self, moment) -> str:
        self.modes_seen.append(moment)
        return self.state

    def is_open(self, moment) -> bool:
        return self.state not in ("closed", "night", "holiday")


def fake_calendars(spec: dict | None) -> dict[str, Any]:
    return {name: FakeCalendar(str(state)) for name, state in (spec or {}).items()}

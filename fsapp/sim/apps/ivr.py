"""The `ivr` application: FreeSWITCH's own menu engine (mod_dptools ivr_application_function,
src/switch_ivr_menu.c of 1.10.12), so a dialplan that falls back to native XML menus
(fsapp deploy, fsapp.flow.native_xml) runs on the emulator as on the switch.

Menus come from the switch's conf directory (fsapp/sim/ivrconf.py), `ivr_menus/*.xml` (what the vanilla
autoload_configs/ivr.conf.xml includes inside <menus>), read when the switch starts and
again on `reloadxml`, like FreeSWITCH's XML registry. What the engine does, step by step
as in switch_ivr_menu_execute():

* The named menu and every menu its `menu-sub` entries reach are built first; an entry
  with an unknown action or no digits fails the whole build ("Unable to create menu") and
  the application returns at once, as does a name that is not found.
* Each pass plays greet-long (greet-short from the second pass on, when set; greet-long
  again after a sub-menu returned) with barge-in: the first key stops the prompt and
  starts the entry. Up to digit-len digits (at least the longest entry) are collected,
  ending on `#` (channel variable ivr_menu_terminator), after `timeout` ms without a first
  key or inter-digit-timeout ms between keys, and never later than `timeout` ms after the
  prompt ended.
* No key before the timeout counts a timeout; a key that matches no entry plays
  invalid-sound (any key stops it) and counts a failure; a lone `#` counts a failure
  without invalid-sound. A matching entry clears the failures. After max-failures
  failures (or max-timeouts timeouts) the channel variable ivr_menu_status becomes
  `failure` (`timeout`) and exec-on-max-failures (-timeouts) runs, then the menu returns.
* Entries: menu-play-sound plays its file (keys do not stop it; they stay queued for the
  next pass), menu-sub runs another menu (nested at most 12 deep) and replays greet-long
  when it returns, menu-back returns to the menu that ran menu-sub, menu-top unwinds to
  the first menu, menu-exit leaves every menu, menu-exec-app runs one application
  (transfer-sound first for `transfer`); a transfer or hang-up ends the menus.
* CUSTOM menu::enter and menu::exit events (Menu-Name, then the channel's data) mark each
  menu entered and left.

Not emulated (fsapp does not generate them): pin, confirm-macro/-key, tts-engine/-voice,
regular-expression digits ("/.../"), and `$${...}` pre-processor variables in the XML.
"""
from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from ..registry import application
from .dptools import _files, play_one

log = logging.getLogger("fsapp.sim")

MAX_DEPTH = 12                 # switch_ivr_menu_execute: ++stack_count > 12
DEFAULT_TIMEOUT_MS = 10000     # switch_ivr_menu_init: timeout <= 0
DEFAULT_TRIES = 3              # max-failures / max-timeouts unset or 0
ACTIONS = ("menu-exit", "menu-sub", "menu-exec-app", "menu-play-sound", "menu-back", "menu-top")
EVENT_CALLING = ("switch_ivr_menu.c", "ivr_send_event", "85")

SUCCESS, FALSE, BREAK, TIMEOUT = "success", "false", "break", "timeout"


@dataclass(frozen=True)
class Entry:
    action: str
    digits: str
    param: str


@dataclass(frozen=True)
class Menu:
    name: str
    greet_long: str
    greet_short: str
    invalid_sound: str
    exit_sound: str
    transfer_sound: str
    timeout_ms: int
    inter_timeout_ms: int
    digit_len: int
    max_failures: int
    max_timeouts: int
    exec_on_max_failures: str
    exec_on_max_timeouts: str
    entries: tuple[Entry, ...]


class MenuBuildError(ValueError):
    """switch_ivr_menu_stack_xml_build failed: FreeSWITCH logs "Unable to create menu"."""


# ---- the XML registry ---------------------------------------------------------------------
# ---- switch_ivr_menu_stack_xml_build ------------------------------------------------------
def _int(text: str | None) -> int:
    """C atoi(): leading digits, 0 when there are none."""
    m = re.match(r"\s*([+-]?\d+)", text or "")
    return int(m.group(1)) if m else 0


def _menu(el: ET.Element) -> Menu:
    max_failures = el.get("max-failures") or ""
    max_timeouts = el.get("max-timeouts") or max_failures
    timeout = _int(el.get("timeout"))
    inter = _int(el.get("inter-digit-timeout")) or timeout // 2
    entries, digit_len = [], _int(el.get("digit-len"))
    for e in el.findall("entry"):
        action, digits = e.get("action"), e.get("digits")
        if action not in ACTIONS or not digits:
            log.info("sim: ivr menu %r: invalid entry action=%r digits=%r", el.get("name"), action, digits)
            raise MenuBuildError(f"menu {el.get('name')!r}: invalid entry {action!r}")
        if digits.startswith("/"):
            raise MenuBuildError(f"menu {el.get('name')!r}: regular-expression digits are not emulated")
        digit_len = max(digit_len, len(digits))
        entries.append(Entry(action, digits, e.get("param", "")))
    return Menu(
        name=el.get("name", ""), greet_long=el.get("greet-long", ""), greet_short=el.get("greet-short", ""),
        invalid_sound=el.get("invalid-sound", ""), exit_sound=el.get("exit-sound", ""),
        transfer_sound=el.get("transfer-sound", ""),
        # switch_ivr_menu_init: inter-digit-timeout defaults to half the timeout as given
        # (0 when the timeout is unset), and only then does an unset timeout become 10 s
        timeout_ms=timeout if timeout > 0 else DEFAULT_TIMEOUT_MS,
        inter_timeout_ms=inter,
        digit_len=digit_len,
        max_failures=(_int(max_failures) if max_failures else 0) or DEFAULT_TRIES,
        max_timeouts=(_int(max_timeouts) if max_timeouts else 0) or DEFAULT_TRIES,
        exec_on_max_failures=el.get("exec-on-max-failures", ""),
        exec_on_max_timeouts=el.get("exec-on-max-timeouts", ""), entries=tuple(entries))


def build_stack(menus: dict[str, ET.Element], name: str) -> dict[str, Menu]:
    """The named menu and every menu its menu-sub entries reach (missing ones are left out:
    entering one later fails with "Invalid Menu!")."""
    if name not in menus:
        raise MenuBuildError(f"no menu named {name!r}")
    stack: dict[str, Menu] = {}

    def build(el: ET.Element) -> None:
        menu = _menu(el)
        stack.setdefault(menu.name, menu)
        for entry in menu.entries:
            if entry.action == "menu-sub" and entry.param not in stack and entry.param in menus:
                build(menus[entry.param])
    build(menus[name])
    return stack


# ---- switch_ivr_menu_execute --------------------------------------------------------------
class _Run:
    def __init__(self, ch, stack: dict[str, Menu], top: str):
        self.ch, self.stack, self.top = ch, stack, top
        self.depth = 0
        self.fall_to_main = False

    def ready(self) -> bool:
        return not (self.ch.status.hungup or self.ch.run.transfer_to)

    def event(self, subclass: str, menu: Menu) -> None:
        ch = self.ch
        ev = ch.services.events.new("CUSTOM", subclass=subclass, uuid=ch.uuid, calling=EVENT_CALLING)
        # switch_event_create_subclass puts the subclass before the event name
        ev.headers[0], ev.headers[1] = ev.headers[1], ev.headers[0]
        ev.headers.append(("Menu-Name", menu.name))
        ev.headers += ch.channel_headers()
        ch.services.fire(ev)

    def play(self, sound: str, need: int, menu: Menu) -> tuple[str, str]:
        """play_and_collect: (status, digits)."""
        if not sound:
            return FALSE, ""
        ch = self.ch
        terminators = ch.get_var("ivr_menu_terminator") or "#"
        buf, status = "", SUCCESS
        for path in _files(ch.expand(sound)):
            st, digit = play_one(ch, path, dtmf="first", terminators="")
            if st in ("hangup", "break"):
                status = FALSE
                break
            if digit:
                buf = digit
                break
        if not need:
            return status, ""
        if status == SUCCESS and len(buf) < need:
            return self.collect(buf, need, terminators, menu)
        return status, buf

    def collect(self, buf: str, need: int, terminators: str, menu: Menu) -> tuple[str, str]:
        """switch_ivr_collect_digits_count(buf, need, terminators, first timeout, inter-digit
        timeout, absolute timeout = the menu's timeout)."""
        ch, clock = self.ch, self.ch.clock
        for i, d in enumerate(buf):
            if d in terminators:
                return SUCCESS, buf[:i]
        started = clock.now()
        first = (menu.inter_timeout_ms if buf else menu.timeout_ms) / 1000.0
        digit = menu.inter_timeout_ms / 1000.0
        if digit and first:
            eff = first
        elif digit:
            eff = digit
        else:
            digit = eff = first          # 0: no per-digit timeout, only the absolute one
        digit_started = started
        absolute = menu.timeout_ms / 1000.0
        while self.ready():
            now = clock.now()
            if now - started >= absolute or (eff and now - digit_started >= eff):
                return TIMEOUT, buf
            if ch.queue.dtmf:
                if eff:
                    eff, digit_started = digit, now
                while ch.queue.dtmf:
                    d = ch.take_dtmf()
                    if d in terminators:
                        return SUCCESS, buf
                    buf += d
                    if len(buf) >= need:
                        return SUCCESS, buf
                continue
            wait = min(started + absolute, digit_started + eff if eff else started + absolute) - now
            reason, _ = ch.wait_media(wait, dtmf="collect")
            if reason in ("hangup", "break"):
                break
        return FALSE, buf

    def exec_app(self, text: str) -> None:
        app, _, data = text.partition(" ")
        self.ch.execute(app, data)

    def run(self, name: str) -> str:
        self.depth += 1
        menu = None
        try:
            if self.depth > MAX_DEPTH:
                log.info("sim: ivr: too many levels of recursion on %s", self.ch.uuid)
                return FALSE
            menu = self.stack.get(name)
            if menu is None:
                log.info("sim: ivr: invalid menu %r on %s", name, self.ch.uuid)
                return FALSE
            return self._loop(menu)
        finally:
            self.depth -= 1
            if menu is not None:
                self.event("menu::exit", menu)

    def _loop(self, menu: Menu) -> str:
        ch = self.ch
        ch.set_var("ivr_menu_status", "success")
        self.event("menu::enter", menu)
        reps = errs = timeouts = 0
        running, status = True, SUCCESS
        while running and status == SUCCESS:
            if not self.ready():
                break
            if errs == menu.max_failures:
                ch.set_var("ivr_menu_status", "failure")
                if menu.exec_on_max_failures:
                    self.exec_app(menu.exec_on_max_failures)
                break
            if timeouts == menu.max_timeouts:
                ch.set_var("ivr_menu_status", "timeout")
                if menu.exec_on_max_timeouts:
                    self.exec_app(menu.exec_on_max_timeouts)
                break
            greeting = menu.greet_short if reps > 0 and menu.greet_short else menu.greet_long
            match = 0
            played, buf = self.play(greeting, menu.digit_len, menu)
            if played == TIMEOUT and not buf:
                timeouts += 1
                reps += 1
                continue
            if buf:
                for entry in menu.entries:
                    if buf != entry.digits:
                        continue
                    match += 1
                    errs = 0
                    status, reps = self.action(menu, entry, reps)
                # the entry menu (SWITCH_IVR_MENU_FLAG_STACK), at whatever depth it runs
                if menu.name == self.top and self.fall_to_main:
                    self.fall_to_main = False
                    status, running = SUCCESS, True
                    reps += 1
                    continue
                if status == "back":
                    running, status = False, SUCCESS
            if not match:
                if buf and menu.invalid_sound:
                    self.play(menu.invalid_sound, 0, menu)
                errs += 1
                if status == BREAK:
                    status = SUCCESS
            reps += 1
        if self.depth == 1 and menu.exit_sound:
            status, _ = self.play(menu.exit_sound, 0, menu)
        return status

    def action(self, menu: Menu, entry: Entry, reps: int) -> tuple[str, int]:
        ch = self.ch
        if entry.action == "menu-exit":
            return FALSE, reps
        if entry.action == "menu-play-sound":
            # switch_ivr_play_file without input args: keys neither stop it nor are taken
            for path in _files(entry.param):
                st, _ = play_one(ch, path, dtmf="keep", terminators="")
                if st in ("hangup", "break"):
                    return FALSE, reps
            return SUCCESS, reps
        if entry.action == "menu-sub":
            if entry.param == menu.name:
                return SUCCESS, reps
            self.event("menu::exit", menu)
            status = self.run(entry.param)
            self.event("menu::enter", menu)
            return status, -1
        if entry.action == "menu-exec-app":
            app, _, data = entry.param.partition(" ")
            if not app or app not in ch.services.applications:
                return FALSE, reps
            if menu.transfer_sound and app == "transfer":
                self.play(menu.transfer_sound, 0, menu)
            ch.execute(app, data)
            return SUCCESS, reps
        if entry.action == "menu-back":
            return "back", reps
        # menu-top
        self.fall_to_main = True
        return BREAK, reps


@application("ivr")
def app_ivr(ch, arg: str) -> None:
    """ivr <menu name>"""
    name = arg.strip()
    try:
        stack = build_stack(ch.services.ivr_menus, name)
    except MenuBuildError as exc:
        log.info("sim: ivr on %s: unable to create menu: %s", ch.uuid, exc)
        return
    _Run(ch, stack, name).run(name)

"""Flows for the native-XML and graph tests, compiled by the real flow compiler."""
from __future__ import annotations

import textwrap

import pytest

from fsapp.flow.compiler import compile_text

# A hotline tree: a welcome, a main menu with a static information sub-tree, an agent
# transfer, and a ticket lookup that needs fsapp (collect -> sql -> branch -> say).
HOTLINE = """\
flow: hotline
numbers: ["12345"]
languages: [zh-CN, en-US]
start: welcome
nodes:
  welcome:
    play: hotline/welcome
    next: main
  main:
    menu:
      prompt: hotline/main_menu
      options: {"1": info, "2": to_lookup, "3": hours, "0": agent, "9": bye}
      invalid: common/invalid
      tries: 3
      timeout: 8s
      digit_timeout: 1500ms
      on_fail: bye
  info:
    menu:
      prompt: [hotline/info_menu, {silence: 300ms}, {tone: "%(200,0,800)"}]
      options: {"1": policy, "2": guides, "*": back_main}
      on_fail: main
  guides:
    menu:
      prompt: hotline/guides_menu
      options: {"1": guide_water, "*": info, "0": main}
      on_fail: info
  guide_water:
    play: hotline/guide_water
    next: guides
  back_main:
    goto: main
  policy:
    play: hotline/policy
    next: info
  hours:
    play: hotline/hours
    next: main
  to_lookup:
    goto: lookup
  lookup:
    collect: {prompt: hotline/enter_ticket, max: 8, into: ticket}
    next: find
    on_fail: main
  find:
    sql: {query: hotline.ticket_status, params: {serial: "{{ ticket }}"}, into: row}
    next: known
  known:
    branch:
      cases:
        - {when: "row is none", goto: not_found}
      else: read_status
  not_found:
    play: hotline/ticket_not_found
    next: main
  read_status:
    say: {type: digits, value: "{{ ticket }}"}
    next: main
  agent:
    transfer: {extension: "1000", context: agents}
  bye:
    hangup: NORMAL_CLEARING
"""


def compile_flow(text: str):
    flow, problems = compile_text(textwrap.dedent(text), "test.yaml")
    assert not problems, "\n".join(map(str, problems))
    return flow


@pytest.fixture
def flow_from():
    """Compile flow YAML text (dedented); fails the test on any compile problem."""
    return compile_flow


@pytest.fixture
def hotline():
    return compile_flow(HOTLINE)


class FreeswitchMenus:
    """What switch_ivr_menu_execute() (src/switch_ivr_menu.c, 1.10) does with our XML, reduced
    to the decisions: which sound plays, which entry runs, where the menu stack goes.

    Kept to the C code's structure (reps, errs, timeouts, the FALLTOMAIN flag, reps = -1
    before a sub-menu, greet-short when reps > 0, the 12-level stack limit) so the tests
    check our XML against FreeSWITCH's behaviour, not against our own compiler.
    """

    def __init__(self, xml_text: str):
        import xml.etree.ElementTree as ET
        root = ET.fromstring(xml_text)
        self.menus = {m.get("name"): m for m in root.findall("menu")}

    def run(self, entry: str, keys):
        self.keys, self.heard, self.apps = list(keys), [], []
        self.stack_count, self.fall_to_main, self.ready = 0, False, True
        self._execute(entry)
        return self.heard, self.apps

    def _app(self, app: str) -> None:
        self.apps.append(app)
        if app.split()[0] in ("hangup", "transfer"):
            self.ready = False  # the channel leaves the menu

    def _execute(self, name: str) -> str:
        self.stack_count += 1
        status = "success"
        try:
            if self.stack_count > 12:
                return "false"
            menu = self.menus[name]
            max_failures = int(menu.get("max-failures", 3))
            max_timeouts = int(menu.get("max-timeouts", max_failures))
            reps = errs = timeouts = 0
            running = True
            while running and status == "success":
                if not self.ready:
                    break
                if errs == max_failures:
                    if menu.get("exec-on-max-failures"):
                        self._app(menu.get("exec-on-max-failures"))
                    break
                if timeouts == max_timeouts:
                    if menu.get("exec-on-max-timeouts"):
                        self._app(menu.get("exec-on-max-timeouts"))
                    break
                greeting = menu.get("greet-short") if reps > 0 and menu.get("greet-short") \
                    else menu.get("greet-long")
                self.heard.append(greeting)
                key = self.keys.pop(0) if self.keys else None
                if key is None:
                    timeouts += 1
                    reps += 1
                    continue
                match = 0
                for entry in menu.findall("entry"):
                    if entry.get("digits") != key:
                        continue
                    match += 1
                    errs = 0
                    action, param = entry.get("action"), entry.get("param")
                    if action == "menu-exit":
                        status = "false"
                    elif action == "menu-play-sound":
                        self.heard.append(param)
                    elif action == "menu-sub":
                        if param != name:
                            reps = -1
                            status = self._execute(param)
                    elif action == "menu-exec-app":
                        self._app(param)
                    elif action == "menu-back":
                        running = False
                    elif action == "menu-top":
                        self.fall_to_main = True
                        status = "break"
                if self.stack_count == 1 and self.fall_to_main:
                    self.fall_to_main = False
                    status, running = "success", True
                    reps += 1
                    continue
                if not match:
                    if menu.get("invalid-sound"):
                        self.heard.append(menu.get("invalid-sound"))
                    errs += 1
                    if status == "break":
                        status = "success"
                reps += 1
            return status
        finally:
            self.stack_count -= 1


@pytest.fixture
def freeswitch_menus():
    return FreeswitchMenus

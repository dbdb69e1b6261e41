"""A flow FreeSWITCH's own IVR engine can run whole falls back to itself, as native XML
menus; a flow that needs fsapp falls back to the apology."""
import xml.etree.ElementTree as ET

import pytest

from fsapp.deploy.nodes import Node, render_for

MENU_ONLY = b"""flow: info
numbers: ["30000"]
languages: [zh-CN]
start: main
nodes:
  main:
    menu: {prompt: common/welcome, options: {"1": bye}, tries: 2, on_fail: bye}
  bye: {hangup: {}}
"""
NEEDS_FSAPP = b"""flow: live
numbers: ["20000"]
languages: [zh-CN]
start: bye
nodes:
  bye: {hangup: {prompt: common/goodbye}}
"""


def test_native_ivr_where_it_can_apology_elsewhere(project, tmp_path):
    node = Node("a", tmp_path / "conf", "127.0.0.1", 8021, "pw", ("127.0.0.1:8084", "127.0.0.1:8085"))
    files = render_for(project, node, {"flows/info.yaml": MENU_ONLY, "flows/live.yaml": NEEDS_FSAPP})
    assert "ivr_menus/fsapp_info.xml" in files and "ivr_menus/fsapp_live.xml" not in files
    menus = ET.fromstring(files["ivr_menus/fsapp_info.xml"])
    assert menus.tag == "include" and menus.find("menu") is not None
    dialplan = ET.fromstring(files["dialplan/default/50_fsapp.xml"])
    by_name = {e.get("name"): [(a.get("application"), a.get("data")) for a in e.iter("action")]
               for e in dialplan.findall("extension")}
    assert set(by_name) == {"fsapp_info_w1", "fsapp_info_w2", "fsapp_live_w1", "fsapp_live_w2"}
    info = by_name["fsapp_info_w2"]
    assert info[1:3] == [("socket", "127.0.0.1:8085 async full"), ("socket", "127.0.0.1:8084 async full")]
    assert [app for app, _ in info[3:]] == ["answer", "ivr", "hangup"]
    assert info[4][1] == menus.find("menu").get("name")
    # the comments name the flows' files in the line, not render_for's temporary copy
    text = files["dialplan/default/50_fsapp.xml"]
    assert "fsapp-render-" not in text
    assert f"<!-- flow info from {project.get('flows', 'dir')}/info.yaml -->" in text
    live = by_name["fsapp_live_w1"]
    assert [app for app, _ in live[3:]] == ["answer", "playback", "hangup"]
    assert live[4][1].endswith("zh-CN/common/db_unavailable.wav")
    # the two orders split the uuid's last hex digit between them
    conds = [e.findall("condition")[1].get("expression") for e in dialplan.findall("extension")][:2]
    assert conds == ["[02468ace]$", "[13579bdf]$"]


# The line of the captures fallback_native_ivr_keys / _failures (tests/data/esl-captures,
# "Recorded by fsapp"): recorded on FreeSWITCH 1.10.12 with what render_for gave for it.
INFO = b"""flow: info
numbers: ["30000"]
languages: [zh-CN]
start: main
nodes:
  main:
    menu: {prompt: common/welcome, options: {"1": thanks, "0": operator}, invalid: common/invalid_choice,
           timeout: 2s, tries: 2, on_fail: bye}
  thanks:
    play: common/thanks
    next: main
  operator: {transfer: {extension: "7999"}}
  bye: {hangup: {}}
"""


def _b_leg_steps(messages):
    """What the channel running the dialplan did, in order: apps (start/complete),
    menu events, prompts (file name), keys, the hangup cause."""
    import os.path
    steps, b = [], None
    for ev in messages:
        if b is None and ev.get("Channel-Name", "").endswith("-b"):
            b = ev["Unique-ID"]
        if ev.get("Unique-ID") != b:
            continue
        name = ev.get("Event-Name")
        if name == "CUSTOM":
            steps.append((ev["Event-Subclass"], ev["Menu-Name"]))
        elif name in ("CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE"):
            data = ev.get("Application-Data", "").split(" ")[0]
            # the workers' ports differ, and which is tried first depends on the uuid
            steps.append((name, ev["Application"], "" if ev["Application"] == "socket" else data))
        elif name in ("PLAYBACK_START", "PLAYBACK_STOP"):
            steps.append((name, os.path.basename(ev["Playback-File-Path"]), ev.get("Playback-Status", "")))
        elif name == "DTMF":
            steps.append((name, ev["DTMF-Digit"]))
        elif name == "CHANNEL_HANGUP_COMPLETE":
            steps.append((name, ev["Hangup-Cause"], ev.get("variable_ivr_menu_status")))
    return steps


def _captured(captures_dir, name):
    import json
    from urllib.parse import unquote
    out = []
    for line in (captures_dir / f"{name}.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if rec["dir"] != "fs->app" or "Content-Type: text/event-plain" not in rec["raw"]:
            continue
        head = rec["raw"].split("\n\n", 1)[1].split("\n\n", 1)[0]
        ev = {}
        for h in head.split("\n"):
            k, _, v = h.partition(": ")
            ev.setdefault(k, unquote(v))
        out.append((ev, [h.split(": ", 1)[0] for h in head.split("\n")]))
    return out


@pytest.mark.parametrize("capture, keys", [("fallback_native_ivr_keys", [("welcome", "1"), ("welcome", "0")]),
                                           ("fallback_native_ivr_failures", [("welcome", "7"), ("welcome", "8")])])
def test_emulated_fallback_does_what_freeswitch_did(project, tmp_path, captures_dir, capture, keys):
    """The rendered dialplan and menus on the emulator, both workers down, the same keys
    pressed as in the capture: the dialplan channel runs the same applications, fires the
    same menu events (with FreeSWITCH's header order), plays the same prompts."""
    import socket as pysocket

    import gevent

    from fsapp.sim import Apps, RealClock, Switch
    from tests.sim.eslclient import Conn

    down = []
    for _ in range(2):   # two ports nothing listens on
        s = pysocket.socket()
        s.bind(("127.0.0.1", 0))
        down.append(f"127.0.0.1:{s.getsockname()[1]}")
        s.close()
    conf = tmp_path / "conf"
    node = Node("a", conf, "127.0.0.1", 8021, "pw", tuple(down))
    for path, text in render_for(project, node, {"flows/info.yaml": INFO}).items():
        (conf / path).parent.mkdir(parents=True, exist_ok=True)
        (conf / path).write_text(text, encoding="utf-8")
    switch = Switch(esl=("127.0.0.1", 0), clock=RealClock(scale=4), conf_dir=conf).start()
    switch.dialplan.add(r"^7999$", Apps([("answer", ""), ("playback", "tone_stream://%(300,0,700)"), ("hangup", "")]))
    c = Conn.connect(switch.esl_port)
    try:
        c.next()
        c.cmd("auth ClueCon")
        c.cmd("event plain CHANNEL_EXECUTE CHANNEL_EXECUTE_COMPLETE PLAYBACK_START PLAYBACK_STOP DTMF "
              "CHANNEL_PARK CHANNEL_HANGUP_COMPLETE CUSTOM menu::enter menu::exit")
        c.cmd("bgapi originate {origination_caller_id_number=13800138000}loopback/30000/default &park")
        events, headers, pending = [], {}, list(keys)
        while True:
            m = c.until(lambda m: m.event is not None, 30)
            ev = m.event
            events.append(ev)
            headers.setdefault(ev.get("Event-Subclass"), m.event_header_names)
            if ev["Event-Name"] == "PLAYBACK_START" and pending and ev["Playback-File-Path"].endswith(
                    f"/{pending[0][0]}.wav") and ev["Channel-Name"].endswith("-b"):
                gevent.sleep(0.1)
                c.cmd(f"api uuid_recv_dtmf {ev['Unique-ID']} {pending.pop(0)[1]}")
            if ev["Event-Name"] == "CHANNEL_HANGUP_COMPLETE" and ev["Channel-Name"].endswith("-b"):
                break
    finally:
        c.close()
        switch.stop()
    captured = _captured(captures_dir, capture)
    assert _b_leg_steps(events) == _b_leg_steps([ev for ev, _ in captured])
    real_enter = next(names for ev, names in captured if ev.get("Event-Subclass") == "menu::enter")
    cut = real_enter.index("Channel-State")   # core headers, Menu-Name; then the channel's data
    assert headers["menu::enter"][:cut + 1] == real_enter[:cut + 1]

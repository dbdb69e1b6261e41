"""A flow FreeSWITCH's own IVR engine can run whole falls back to itself, as native XML
menus; a flow that needs fsapp falls back to the apology."""
import xml.etree.ElementTree as ET

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
    live = by_name["fsapp_live_w1"]
    assert [app for app, _ in live[3:]] == ["answer", "playback", "hangup"]
    assert live[4][1].endswith("zh-CN/common/db_unavailable.wav")
    # the two orders split the uuid's last hex digit between them
    conds = [e.findall("condition")[1].get("expression") for e in dialplan.findall("extension")][:2]
    assert conds == ["[02468ace]$", "[13579bdf]$"]

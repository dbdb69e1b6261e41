"""FreeSWITCH XML IVR menus from a compiled flow: well-formed, named as FreeSWITCH reads
them, and honest about the nodes that need fsapp."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from fsapp.flow.native_xml import NativeCompileError, compile_to_xml, render

# What switch_ivr_menu_stack_xml_build() (src/switch_ivr_menu.c, FreeSWITCH 1.10) reads from
# a <menu>, and the action names of its iam[] table; is_valid_action() compares with
# strcmp, and an unknown action or empty digits makes the whole menu fail to build.
MENU_ATTRIBUTES = {
    "name", "greet-long", "greet-short", "invalid-sound", "exit-sound", "timeout",
    "max-failures", "max-timeouts", "exec-on-max-failures", "exec-on-max-timeouts",
    "confirm-macro", "confirm-key", "tts-engine", "tts-voice", "confirm-attempts",
    "digit-len", "inter-digit-timeout", "pin", "pin-file", "bad-pin-file",
}
INTEGER_ATTRIBUTES = {"timeout", "max-failures", "max-timeouts", "confirm-attempts", "digit-len",
                      "inter-digit-timeout"}
ENTRY_ATTRIBUTES = {"action", "digits", "param"}
ACTIONS = {"menu-exit", "menu-sub", "menu-exec-app", "menu-play-sound", "menu-back", "menu-top"}


def menus(xml_text):
    root = ET.fromstring(xml_text)
    assert root.tag == "include"  # an ivr_menus/*.xml file, like vanilla demo_ivr.xml
    return root, {m.get("name"): m for m in root.findall("menu")}


def entries(menu):
    return {e.get("digits"): (e.get("action"), e.get("param")) for e in menu.findall("entry")}


def assert_freeswitch_reads(xml_text):
    root, by_name = menus(xml_text)
    assert len({n.lower() for n in by_name}) == len(by_name)  # found by strcasecmp
    for menu in root.findall("menu"):
        assert set(menu.attrib) <= MENU_ATTRIBUTES, set(menu.attrib) - MENU_ATTRIBUTES
        assert menu.get("name") and menu.get("greet-long")
        for name in INTEGER_ATTRIBUTES & set(menu.attrib):
            assert int(menu.get(name)) > 0, name
        for entry in menu.findall("entry"):
            assert set(entry.attrib) <= ENTRY_ATTRIBUTES
            assert entry.get("action") in ACTIONS and entry.get("digits")
            if entry.get("action") == "menu-sub":
                assert entry.get("param") in by_name  # switch_xml_find_child in the same <menus>
            if entry.get("action") in ("menu-exec-app", "menu-play-sound"):
                assert entry.get("param")


def test_hotline_menus_are_well_formed_and_use_freeswitch_names(hotline):
    xml_text, report = compile_to_xml(hotline, sounds_dir="/srv/fsapp/sounds")
    assert_freeswitch_reads(xml_text)
    _, by_name = menus(xml_text)
    assert report.menus == list(by_name)
    assert report.entry_menu == "hotline.main"
    zh = "/srv/fsapp/sounds/zh-CN"
    assert report.dialplan_actions == [("answer", None), ("playback", f"{zh}/hotline/welcome.wav"),
                                       ("ivr", "hotline.main"), ("hangup", None)]
    assert '<action application="playback" data="/srv/fsapp/sounds/zh-CN/hotline/welcome.wav" />' in xml_text


def test_main_menu_attributes_and_entries(hotline):
    xml_text, _ = compile_to_xml(hotline, sounds_dir="/srv/fsapp/sounds")
    main = menus(xml_text)[1]["hotline.main"]
    zh = "/srv/fsapp/sounds/zh-CN"
    # The welcome plays from the dialplan: FreeSWITCH replays greet-long after a sub-menu.
    assert main.get("greet-long") == f"{zh}/hotline/main_menu.wav"
    assert "greet-short" not in main.attrib
    assert main.get("invalid-sound") == f"{zh}/common/invalid.wav"
    assert (main.get("timeout"), main.get("inter-digit-timeout")) == ("8000", "1500")
    assert (main.get("max-failures"), main.get("max-timeouts"), main.get("digit-len")) == ("3", "3", "1")
    assert main.get("exec-on-max-failures") == main.get("exec-on-max-timeouts") == "hangup NORMAL_CLEARING"
    assert entries(main) == {
        "1": ("menu-sub", "hotline.info"),
        "3": ("menu-play-sound", f"{zh}/hotline/hours.wav"),
        "0": ("menu-exec-app", "transfer 1000 XML agents"),
        "9": ("menu-exec-app", "hangup NORMAL_CLEARING"),
    }


def test_sub_menus_go_back_up_the_way_freeswitch_does(hotline):
    _, by_name = menus(compile_to_xml(hotline, sounds_dir="/s")[0])
    info, guides = by_name["hotline.info"], by_name["hotline.guides"]
    assert info.get("greet-long") == ("file_string:///s/zh-CN/hotline/info_menu.wav!"
                                      "silence_stream://300!tone_stream://%(200,0,800)")
    # "*" -> goto main: main is the first menu, so menu-top (FreeSWITCH unwinds the stack).
    assert entries(info) == {"1": ("menu-play-sound", "/s/zh-CN/hotline/policy.wav"),
                             "2": ("menu-sub", "hotline.guides"), "*": ("menu-top", None)}
    # guides is entered only from info: "*" -> info is menu-back, "0" -> main is menu-top.
    assert entries(guides) == {"1": ("menu-play-sound", "/s/zh-CN/hotline/guide_water.wav"),
                               "*": ("menu-back", None), "0": ("menu-top", None)}
    # on_fail -> the menu that entered it: FreeSWITCH returns there by itself.
    assert "exec-on-max-failures" not in info.attrib and "exec-on-max-failures" not in guides.attrib


def test_nodes_that_need_fsapp_are_reported_and_left_out(hotline):
    xml_text, report = compile_to_xml(hotline, sounds_dir="/s")
    assert not report.complete
    assert [(n.node, n.kind, n.via) for n in report.runtime] == [("lookup", "collect", "menu main, key 2")]
    assert "collects digits" in report.runtime[0].reason
    assert "2" not in entries(menus(xml_text)[1]["hotline.main"])
    assert "key 2: node lookup (collect) needs fsapp" in xml_text
    assert "needs fsapp: menu main, key 2: node 'lookup' (collect, line" in str(report)


def test_a_static_tree_is_complete(flow_from):
    flow = flow_from("""\
        flow: info_line
        languages: [en-US]
        start: top
        nodes:
          top:
            menu: {prompt: info/top, options: {"1": a, "2": sub}, on_fail: bye}
          a: {play: info/a, next: top}
          sub:
            menu: {prompt: info/sub, options: {"9": top}, on_fail: top}
          bye: {hangup: NORMAL_CLEARING}
        """)
    xml_text, report = compile_to_xml(flow, sounds_dir="/s")
    assert report.complete and report.runtime == []
    assert "every path runs inside FreeSWITCH" in str(report)
    assert entries(menus(xml_text)[1]["info_line.sub"]) == {"9": ("menu-top", None)}
    assert "Left out" not in xml_text


@pytest.mark.parametrize("node, reason", [
    ("goodbye", "two applications"),
    ("out", "bridge to a number"),
    ("pick", "evaluates conditions"),
    ("hello", "say item"),
])
def test_runtime_reasons(flow_from, node, reason):
    flow = flow_from("""\
        flow: r
        languages: [en-US]
        start: top
        nodes:
          top:
            menu:
              prompt: p/top
              options: {"1": goodbye, "2": out, "3": pick, "4": hello}
              on_fail: goodbye
          goodbye: {hangup: {cause: NORMAL_CLEARING, prompt: p/bye}}
          out: {transfer: {number: "13800138000"}}
          pick:
            branch: {cases: [{when: "call.caller_id == '1'", goto: top}], else: top}
          hello: {play: [{say: digits, value: "{{ call.caller_id }}"}], next: top}
        """)
    _, report = compile_to_xml(flow, sounds_dir="/s")
    found = {n.node: n.reason for n in report.runtime}
    assert reason in found[node]


def test_pound_key_cannot_be_a_native_option(flow_from):
    flow = flow_from("""\
        flow: p
        languages: [en-US]
        start: top
        nodes:
          top: {menu: {prompt: p/top, options: {"#": top, "1": bye}, on_fail: bye}}
          bye: {hangup: NORMAL_CLEARING}
        """)
    xml_text, report = compile_to_xml(flow, sounds_dir="/s")
    assert "ivr_menu_terminator" in report.runtime[0].reason
    assert list(entries(menus(xml_text)[1]["p.top"])) == ["1"]


def test_templated_prompt_makes_the_option_need_fsapp(flow_from):
    flow = flow_from("""\
        flow: t
        languages: [en-US]
        start: top
        nodes:
          top: {menu: {prompt: p/top, options: {"1": news}, on_fail: bye}}
          news: {play: "news/{{ flow.name }}", next: top}
          bye: {hangup: NORMAL_CLEARING}
        """)
    _, report = compile_to_xml(flow, sounds_dir="/s")
    assert "chosen per call" in report.runtime[0].reason


def test_entry_that_needs_fsapp_is_an_error_naming_the_node(flow_from, hotline):
    flow = flow_from("""\
        flow: e
        languages: [en-US]
        start: hours
        nodes:
          hours: {schedule: {calendar: office, open: top, closed: bye}}
          top: {menu: {prompt: p/top, options: {"1": bye}, on_fail: bye}}
          bye: {hangup: NORMAL_CLEARING}
        """)
    with pytest.raises(NativeCompileError, match=r"test\.yaml:5: node 'hours' \(schedule\).*business calendar"):
        compile_to_xml(flow)
    xml_text, report = compile_to_xml(flow, entry="top", sounds_dir="/s")
    assert report.entry_menu == "e.top" and report.complete
    with pytest.raises(NativeCompileError, match="no node named 'nope'"):
        compile_to_xml(hotline, entry="nope")


def test_language_selects_the_prompt_set(hotline):
    xml_text, report = compile_to_xml(hotline, language="en-US", sounds_dir="/s")
    assert report.language == "en-US" and "/s/en-US/hotline/main_menu.wav" in xml_text
    with pytest.raises(NativeCompileError, match="not one of the flow's languages: zh-CN, en-US"):
        compile_to_xml(hotline, language="fr-FR")


def test_going_back_to_an_ancestor_by_nesting_is_noted(flow_from):
    flow = flow_from("""\
        flow: n
        languages: [en-US]
        start: top
        nodes:
          top: {menu: {prompt: p/top, options: {"1": a}, on_fail: bye}}
          a: {menu: {prompt: p/a, options: {"1": b}, on_fail: bye}}
          b: {menu: {prompt: p/b, options: {"1": a, "2": c}, on_fail: bye}}
          c: {menu: {prompt: p/c, options: {"1": a}, on_fail: bye}}
          bye: {hangup: NORMAL_CLEARING}
        """)
    xml_text, report = compile_to_xml(flow, sounds_dir="/s")
    assert_freeswitch_reads(xml_text)
    by_name = menus(xml_text)[1]
    assert entries(by_name["n.b"])["1"] == ("menu-back", None)   # only a enters b
    assert entries(by_name["n.c"])["1"] == ("menu-sub", "n.a")    # a is c's grandparent
    assert any("nested menus" in note for note in report.notes)


def test_xml_special_characters_are_escaped(flow_from):
    flow = flow_from("""\
        flow: x
        languages: [en-US]
        start: top
        nodes:
          top: {menu: {prompt: [{file: "/srv/a&b/<x>.wav"}], options: {"1": bye}, on_fail: bye}}
          bye: {hangup: NORMAL_CLEARING}
        """)
    xml_text, _ = compile_to_xml(flow)
    assert menus(xml_text)[1]["x.top"].get("greet-long") == "/srv/a&b/<x>.wav"


def test_render_is_the_xml_alone(hotline):
    assert render(hotline, sounds_dir="/s") == compile_to_xml(hotline, sounds_dir="/s")[0]


def test_pound_key_leading_to_a_prompt_is_still_refused(flow_from):
    flow = flow_from("""\
        flow: p2
        languages: [en-US]
        start: top
        nodes:
          top: {menu: {prompt: [p/top, {silence: 0s}], options: {"#": info, "1": bye}, on_fail: bye}}
          info: {play: p/info, next: top}
          bye: {hangup: NORMAL_CLEARING}
        """)
    xml_text, report = compile_to_xml(flow, sounds_dir="/s")
    assert [n.node for n in report.runtime] == ["info"]
    top = menus(xml_text)[1]["p2.top"]
    assert list(entries(top)) == ["1"]
    assert top.get("greet-long") == "/s/en-US/p/top.wav"  # a 0 s silence is left out


def short(paths):
    """The last recorded prompt of each sound played (tones and silences dropped)."""
    return [re.findall(r"/([\w-]+)\.wav", p)[-1] for p in paths]


def test_callers_walk_the_tree_as_the_flow_says(hotline, freeswitch_menus):
    xml_text, report = compile_to_xml(hotline, sounds_dir="/s")
    fs = freeswitch_menus(xml_text)
    # 1 info, 2 guides, 1 water guide (stays), 0 top, 0 agent.
    heard, apps = fs.run(report.entry_menu, ["1", "2", "1", "0", "0"])
    assert short(heard) == ["main_menu", "info_menu", "guides_menu", "guide_water", "guides_menu",
                            "main_menu"]
    assert not any("welcome" in sound for sound in heard)  # played once, by the dialplan
    assert apps == ["transfer 1000 XML agents"]


def test_back_keys_and_failures_land_where_the_flow_says(hotline, freeswitch_menus):
    xml_text, report = compile_to_xml(hotline, sounds_dir="/s")
    fs = freeswitch_menus(xml_text)
    # guides "*" -> info (menu-back), info "*" -> main (menu-top), then 9: hang up.
    heard, apps = fs.run(report.entry_menu, ["1", "2", "*", "*", "9"])
    assert short(heard) == ["main_menu", "info_menu", "guides_menu", "info_menu", "main_menu"]
    assert apps == ["hangup NORMAL_CLEARING"]
    # Three wrong keys in guides: it gives up and returns to info (its on_fail), which plays again.
    heard, apps = fs.run(report.entry_menu, ["1", "2", "7", "7", "7", "9", "9", "9"])
    assert short(heard)[:6] == ["main_menu", "info_menu", "guides_menu", "guides_menu", "guides_menu",
                                "info_menu"]
    # Silence in the first menu: tries exhausted -> on_fail bye -> hang up.
    heard, apps = fs.run(report.entry_menu, [None, None, None])
    assert apps == ["hangup NORMAL_CLEARING"] and len(heard) == 3


def test_menu_nesting_stays_within_freeswitchs_limit_for_back_and_top(hotline, freeswitch_menus):
    xml_text, report = compile_to_xml(hotline, sounds_dir="/s")
    fs = freeswitch_menus(xml_text)
    keys = ["1", "2", "*", "2", "*", "*"] * 10 + ["0"]  # down and back up, many times
    heard, apps = fs.run(report.entry_menu, keys)
    assert apps == ["transfer 1000 XML agents"]


def test_a_prompt_leading_into_a_sub_menu_plays_once_on_the_way_in(flow_from, freeswitch_menus):
    flow = flow_from("""\
        flow: i
        languages: [en-US]
        start: top
        nodes:
          top: {menu: {prompt: p/top, options: {"1": news_intro, "9": bye}, on_fail: bye}}
          news_intro: {play: p/news_intro, next: news}
          news: {menu: {prompt: p/news, options: {"1": detail, "*": top}, on_fail: top}}
          detail: {menu: {prompt: p/detail, options: {"*": news}, on_fail: news}}
          bye: {hangup: NORMAL_CLEARING}
        """)
    xml_text, report = compile_to_xml(flow, sounds_dir="/s")
    by_name = menus(xml_text)[1]
    assert entries(by_name["i.top"])["1"] == ("menu-sub", "i.news+news_intro")
    assert by_name["i.news+news_intro"].get("greet-long") == "file_string:///s/en-US/p/news_intro.wav!/s/en-US/p/news.wav"
    assert by_name["i.news+news_intro"].get("greet-short") == "/s/en-US/p/news.wav"
    heard, apps = freeswitch_menus(xml_text).run(report.entry_menu, ["1", "7", "*", "9"])
    assert short(heard) == ["top", "news", "news", "top"] and apps == ["hangup NORMAL_CLEARING"]
    assert "news_intro" in heard[1] and "news_intro" not in heard[2]
    # detail returns to the intro'd menu, which replays greet-long: said in the notes.
    assert any("replays greet-long" in note for note in report.notes)


def test_wrong_keys_and_silence_are_counted_apart_natively_and_in_fsapp(flow_from, freeswitch_menus):
    """max_failures / max_timeouts become max-failures / max-timeouts, and fsapp's own
    interpreter gives up on the same key sequences as FreeSWITCH's menu engine."""
    from fsapp.flow.interpreter import Services, run_call
    from fsapp.flow.testing import ScriptedCall

    flow = flow_from("""\
        flow: c
        languages: [en-US]
        start: top
        nodes:
          top: {menu: {prompt: p/top, options: {"1": ok}, max_failures: 2, max_timeouts: 3,
                       invalid: p/invalid, on_fail: bye}}
          ok: {hangup: NORMAL_CLEARING}
          bye: {hangup: USER_BUSY}
        """)
    xml_text, report = compile_to_xml(flow, sounds_dir="/s")
    top = menus(xml_text)[1]["c.top"]
    assert (top.get("max-failures"), top.get("max-timeouts")) == ("2", "3")
    for keys, ends in [(["7", None, None, "7"], "USER_BUSY"), ([None, "7", None, None], "USER_BUSY"),
                       ([None, None, "7", "1"], "NORMAL_CLEARING")]:
        heard, apps = freeswitch_menus(xml_text).run(report.entry_menu, keys)
        assert apps == [f"hangup {ends}"], (keys, apps)
        call = ScriptedCall(["" if k is None else k for k in keys])
        run_call(call, flow, Services())
        assert call.hangup_cause == ends, (keys, call.actions)
        # as many passes (greetings) before giving up; fsapp also plays `invalid` after a
        # silence when no_input is not set, FreeSWITCH plays nothing there
        assert call.heard.count("p/top") == sum(1 for h in heard if h.endswith("/p/top.wav")), keys

"""Rendering the stock templates: well-formed XML in the shape FreeSWITCH reads."""
from __future__ import annotations

import re
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fsapp.conf import ConfError, build_context, render_tree

TEMPLATES = Path(__file__).resolve().parents[2] / "freeswitch-conf"


def render(cfg, flows_dir, **overrides):
    context, notes = build_context(cfg, flows_dir=flows_dir, overrides=overrides)
    return render_tree(TEMPLATES, context), notes


def test_every_rendered_file_is_well_formed_xml(make_cfg, flows_dir):
    result, _ = render(make_cfg(), flows_dir)
    assert set(result.files) == {"autoload_configs/event_socket.conf.xml",
                                 "dialplan/default/50_fsapp.xml", "fsapp/modules.xml"}
    for text in result.files.values():
        ET.fromstring(text)


def test_event_socket_uses_the_parameter_names_mod_event_socket_reads(make_cfg, flows_dir):
    cfg = make_cfg('[esl]\nhost = "10.0.0.7"\nport = 8022\n')
    result, _ = render(cfg, flows_dir)
    root = ET.fromstring(result.files["autoload_configs/event_socket.conf.xml"])
    assert root.tag == "configuration" and root.get("name") == "event_socket.conf"
    params = {p.get("name"): p.get("value") for p in root.find("settings").findall("param")}
    # The names mod_event_socket.c config() compares against (and vanilla's nat-map).
    assert params == {"nat-map": "false", "listen-ip": "10.0.0.7", "listen-port": "8022",
                      "password": "Str0ng-Secret", "apply-inbound-acl": "loopback.auto"}


def test_password_is_xml_escaped_not_injected(make_cfg, flows_dir):
    result, _ = render(make_cfg(FSAPP_ESL_PASSWORD='a"b<c&d'), flows_dir)
    root = ET.fromstring(result.files["autoload_configs/event_socket.conf.xml"])
    params = {p.get("name"): p.get("value") for p in root.iter("param")}
    assert params["password"] == 'a"b<c&d'


def test_empty_acl_override_drops_the_parameter(make_cfg, flows_dir):
    result, _ = render(make_cfg(), flows_dir, esl_inbound_acl="")
    root = ET.fromstring(result.files["autoload_configs/event_socket.conf.xml"])
    assert "apply-inbound-acl" not in {p.get("name") for p in root.iter("param")}


def test_dialplan_matches_each_flows_numbers_and_nothing_else(make_cfg, flows_dir):
    result, _ = render(make_cfg(), flows_dir)
    root = ET.fromstring(result.files["dialplan/default/50_fsapp.xml"])
    assert root.tag == "include"
    extensions = {ext.get("name"): ext for ext in root.findall("extension")}
    assert set(extensions) == {"fsapp_hotline", "fsapp_water"}
    cond = extensions["fsapp_hotline"].find("condition")
    assert cond.get("field") == "destination_number"
    pattern = re.compile(cond.get("expression"))
    assert pattern.search("12345") and pattern.search("+8657112345")
    for other in ("123456", "012345", "8657112345", "96116", "1234"):
        assert not pattern.search(other), other
    assert re.search(extensions["fsapp_water"].find("condition").get("expression"), "96116")


def test_socket_action_is_the_form_captured_on_freeswitch_1_10_12(make_cfg, flows_dir, captures_dir):
    readme = (captures_dir / "README.md").read_text(encoding="utf-8")
    captured = re.search(r'<extension name="esl_outbound_full">.*?</extension>', readme, re.S).group(0)
    captured_action = ET.fromstring(captured).find("condition/action")
    result, _ = render(make_cfg(), flows_dir)
    root = ET.fromstring(result.files["dialplan/default/50_fsapp.xml"])
    actions = root.find("extension/condition").findall("action")
    # after the socket: the fallback when no worker answers (fsapp.conf.failover)
    assert [a.get("application") for a in actions][:2] == ["set", "socket"]
    assert actions[0].get("data") == "fsapp_flow=hotline"
    assert actions[1].attrib == captured_action.attrib  # socket 127.0.0.1:8084 async full


def test_socket_address_follows_serve_listen(make_cfg, flows_dir):
    result, _ = render(make_cfg('[serve]\nlisten = "127.0.0.1:9090"\n'), flows_dir)
    assert 'data="127.0.0.1:9090 async full"' in result.files["dialplan/default/50_fsapp.xml"]


def test_wildcard_listen_needs_an_explicit_socket_address(make_cfg, flows_dir):
    cfg = make_cfg('[serve]\nlisten = "0.0.0.0:8084"\n')
    with pytest.raises(ConfError, match="socket_address=IP:8084"):
        render(cfg, flows_dir)
    result, _ = render(cfg, flows_dir, socket_address="10.0.0.9:8084")
    assert 'data="10.0.0.9:8084 async full"' in result.files["dialplan/default/50_fsapp.xml"]


def test_modules_are_ones_the_captured_freeswitch_loaded(make_cfg, flows_dir, captures_dir):
    readme = (captures_dir / "README.md").read_text(encoding="utf-8")
    loaded = set(re.findall(r"\bmod_[a-z0-9_]+", readme.split("**Modules loaded**", 1)[1].split("\n*", 1)[0]))
    result, _ = render(make_cfg(), flows_dir)
    root = ET.fromstring(result.files["fsapp/modules.xml"])
    modules = [el.get("module") for el in root.findall("load")]
    assert {"mod_event_socket", "mod_dptools", "mod_sndfile", "mod_tone_stream"} <= set(modules)
    assert set(modules) <= loaded, set(modules) - loaded
    assert "mod_callcenter" not in modules  # fsapp.routing does the queueing


def test_missing_password_is_a_clear_error(make_cfg, flows_dir):
    with pytest.raises(ConfError, match="FSAPP_ESL_PASSWORD"):
        render(make_cfg(FSAPP_ESL_PASSWORD=None), flows_dir)


def test_files_holding_the_password_are_written_owner_only(make_cfg, flows_dir, tmp_path):
    result, _ = render(make_cfg(), flows_dir)
    written = {p.relative_to(tmp_path / "out").as_posix(): p for p in result.write(tmp_path / "out")}
    mode = lambda p: stat.S_IMODE(p.stat().st_mode)  # noqa: E731
    assert mode(written["autoload_configs/event_socket.conf.xml"]) == 0o600
    assert mode(written["dialplan/default/50_fsapp.xml"]) == 0o644
    assert written["fsapp/modules.xml"].read_text() == result.files["fsapp/modules.xml"]
    assert not list((tmp_path / "out").rglob("*.tmp"))


def test_flows_without_numbers_get_no_extension_and_a_note(make_cfg, flows_dir):
    (flows_dir / "sub.yaml").write_text("flow: survey\nstart: q1\n")
    result, notes = render(make_cfg(), flows_dir)
    assert "fsapp_survey" not in result.files["dialplan/default/50_fsapp.xml"]
    assert any("survey" in n and "no numbers" in n for n in notes)


def test_no_routable_flows_still_renders_an_empty_fragment(make_cfg, tmp_path):
    empty = tmp_path / "none"
    empty.mkdir()
    result, notes = render(make_cfg(), empty)
    assert ET.fromstring(result.files["dialplan/default/50_fsapp.xml"]).findall("extension") == []
    assert any("no extensions" in n for n in notes)


@pytest.mark.parametrize("overrides, message", [
    ({"esl_listen_port": "80a"}, "esl_listen_port '80a': expected a TCP port"),
    ({"socket_address": "127.0.0.1"}, "socket_address '127.0.0.1': expected HOST:PORT"),
    ({"esl_password": "pa$${x}ss"}, "esl_password: the value contains"),
])
def test_values_freeswitch_would_misread_are_refused(make_cfg, flows_dir, overrides, message):
    with pytest.raises(ConfError, match=re.escape(message)):
        render(make_cfg(), flows_dir, **overrides)

"""`fsapp sounds build|check|list|say` through the real CLI entry point."""
import json

import pytest
from click.testing import CliRunner

from fsapp.cli import main
from fsapp.sounds.flowrefs import prompt_refs
from fsapp.yamlsrc import SourceError
from tests.fsapp_toml import write_fsapp_toml

CATALOG = """\
languages: [zh-CN, en-US]
scoped:
  say/zh/: zh-CN
  say/en/: en-US
prompts:
  hotline/main_menu:
    zh-CN: 自助服务请按一，人工服务请按零。
    en-US: For self service press one. For an agent press zero.
  common/goodbye: {zh-CN: 再见。, en-US: Goodbye.}
  say/zh/1: {zh-CN: 一}
  say/zh/bai: {zh-CN: 百}
  say/zh/yuan: {zh-CN: 元}
  say/zh/0: {zh-CN: 零}
  say/zh/5: {zh-CN: 五}
  say/zh/fen: {zh-CN: 分}
"""

FLOW = """\
flow: hotline
languages: [zh-CN, en-US]
nodes:
  main:
    menu:
      prompt: hotline/main_menu
      invalid: hotline/invalid
      options: {"1": bye}
  bye:
    play: [common/goodbye, "{{ custom }}", /var/lib/x.wav, "tone_stream://%(500,0,800)"]
    say: {kind: money, value: "{{ balance }}"}
    set: {prompt_count: 3}
    hangup: {}
"""


@pytest.fixture
def project(tmp_path):
    (tmp_path / "sounds").mkdir()
    (tmp_path / "sounds" / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "hotline.yaml").write_text(FLOW, encoding="utf-8")
    write_fsapp_toml(tmp_path, {"sounds": {"dir": tmp_path / "sounds"}, "flows": {"dir": tmp_path / "flows"}})
    return tmp_path


def run(project, *args):
    return CliRunner().invoke(main, ["--config", str(project / "fsapp.toml"), "sounds", *args],
                              catch_exceptions=False)


def test_flow_refs_with_lines(project):
    refs, langs = prompt_refs(project / "flows" / "hotline.yaml")
    assert [(r.name, r.line) for r in refs] == [("hotline/main_menu", 6), ("hotline/invalid", 7),
                                                ("common/goodbye", 10)]
    assert langs == ["zh-CN", "en-US"]


def test_flow_refs_bad_yaml(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [\n", encoding="utf-8")
    with pytest.raises(SourceError, match=r"bad\.yaml:2:1: YAML syntax: .*did not find expected node") as caught:
        prompt_refs(bad)
    assert "hint: check indentation" in caught.value.report()


def test_check_shows_a_broken_flow_with_line_column_and_hint(project):
    bad = project / "flows" / "broken.yaml"
    bad.write_text("a: [\n", encoding="utf-8")
    result = run(project, "check", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:2:1: YAML syntax: " in result.output
    assert "\n    hint: check indentation, quoting" in result.output


def test_check_lists_missing_prompts_with_file_line(project):
    result = run(project, "check")
    assert result.exit_code == 1
    flow = project / "flows" / "hotline.yaml"
    assert f"{flow}:7: prompt hotline/invalid has no zh-CN entry in" in result.output
    assert f"{flow}:7: prompt hotline/invalid has no en-US entry in" in result.output
    assert "1 flow file(s), 3 prompt reference(s), 2 problem(s)" in result.output


def test_check_json_and_language_filter(project):
    result = run(project, "check", "--lang", "en-US", "--json", str(project / "flows" / "hotline.yaml"))
    data = json.loads(result.output)
    assert result.exit_code == 1
    assert [(p["name"], p["lang"], p["line"]) for p in data["problems"]] == [("hotline/invalid", "en-US", 7)]


def test_check_passes_when_complete(project):
    (project / "flows" / "hotline.yaml").write_text(FLOW.replace("hotline/invalid", "common/goodbye"))
    result = run(project, "check")
    assert result.exit_code == 0, result.output
    assert "0 problem(s)" in result.output


def test_unknown_language_is_a_usage_error(project):
    result = run(project, "list", "--lang", "fr-FR")
    assert result.exit_code == 2 and "fr-FR not in" in result.output


def test_broken_catalog_is_reported_with_lines(project):
    (project / "sounds" / "catalog.yaml").write_text(CATALOG + "  common/goodbye: {zh-CN: 再见}\n")
    result = run(project, "list")
    assert result.exit_code == 1
    assert "1 problem(s) in the catalog" in result.output
    assert "catalog.yaml:16: prompts: duplicate key 'common/goodbye' (first at line 9)" in result.output


def test_list(project):
    result = run(project, "list", "--json", "say/zh/")
    rows = json.loads(result.output)
    assert [(r["name"], r["text"], r["built"]) for r in rows][:2] == [("say/zh/0", "零", False), ("say/zh/1", "一", False)]
    assert {r["lang"] for r in rows} == {"zh-CN"}


def test_say_shows_names_and_text(project):
    result = run(project, "say", "zh-CN", "money", "100.05")
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "say/zh/1 say/zh/bai say/zh/yuan say/zh/0 say/zh/5 say/zh/fen", "一百元零五分"]
    bad = run(project, "say", "zh-CN", "money", "abc")
    assert bad.exit_code == 1 and "'abc' is not a number" in bad.output


@pytest.mark.usefixtures("tts_tools")
def test_build_then_nothing_to_do_then_check_built(project):
    first = run(project, "build", "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.output)
    assert (data["rendered"], data["unchanged"], data["failed"], data["files"]) == (10, 0, [], 10)
    second = run(project, "build")
    assert second.exit_code == 0 and "rendered 0, unchanged 10" in second.output
    assert (project / "sounds" / "zh-CN" / "hotline" / "main_menu.wav").exists()
    (project / "sounds" / "en-US" / "common" / "goodbye.wav").unlink()
    result = run(project, "check", "--built", "--lang", "en-US")
    assert "prompt common/goodbye (en-US) is not built: run fsapp sounds build" in result.output


SPEC_STYLE_FLOW = """\
flow: water
nodes:
  menu:
    menu:
      prompt: [water/menu, {say: money, value: "{{ due }}"}, {file: /opt/x.wav}, {tone: "%(500,0,800)"}]
      repeat_prompt: water/menu_short
      invalid: common/invalid_choice
      no_input: {text: "hello"}
      options: {"1": bye}
  bye: {play: common/goodbye, next: end}
  end: {hangup: {prompt: water/bye}}
"""


def test_flow_language_fields_are_followed(tmp_path):
    from fsapp.sounds.flowrefs import PROMPT_KEYS
    path = tmp_path / "water.yaml"
    path.write_text(SPEC_STYLE_FLOW, encoding="utf-8")
    refs, langs = prompt_refs(path, PROMPT_KEYS)
    assert [(r.name, r.line) for r in refs] == [
        ("water/menu", 5), ("water/menu_short", 6), ("common/invalid_choice", 7),
        ("common/goodbye", 10), ("water/bye", 11)]
    assert langs is None


def test_prompt_keys_are_the_specs_prompt_fields():
    """sounds check reads exactly the keys the flow language declares as prompts (nested
    struct fields and prompt shorthands included), not a list of its own."""
    from fsapp.flowspec import KINDS, PROMPT_KEYS
    from fsapp.sounds.flowrefs import PROMPT_KEYS as used
    assert used == PROMPT_KEYS
    declared = {f.name for k in KINDS.values() for f in k.fields if f.type == "prompts"}
    assert declared <= PROMPT_KEYS
    assert {"prompt", "repeat_prompt", "invalid", "no_input", "too_short", "play"} <= PROMPT_KEYS
    assert "confirm" not in PROMPT_KEYS and "greeting" not in PROMPT_KEYS  # not flow language


def test_keys_the_spec_does_not_define_are_not_read_but_validation_names_the_field(tmp_path):
    """A half-converted flow's `greeting:` is no prompt reference for sounds check; the
    validator rejects it at file:line:col and names the spec's prompt field to use."""
    path = tmp_path / "half.yaml"
    path.write_text("flow: half\nlanguages: [en-US]\nstart: hi\nnodes:\n"
                    "  hi: {play: common/goodbye, greeting: hotline/hi, next: end}\n"
                    "  end: {hangup: {}}\n", encoding="utf-8")
    refs, _ = prompt_refs(path)
    assert [r.name for r in refs] == ["common/goodbye"]
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:5:30: node 'hi' (play): unknown field 'greeting'" in result.output
    assert "hint: hotline/hi looks like a prompt; this node's prompt field(s): prompt " in result.output


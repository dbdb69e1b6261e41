"""Catalog loading: the committed catalog is valid; every mistake is reported with file:line."""
from pathlib import Path

import pytest

from fsapp.sounds import Catalog, CatalogError, Tone, UnknownPrompt

ROOT = Path(__file__).resolve().parents[2]

HEADER = """\
languages: [zh-CN, en-US]
scoped:
  say/zh/: zh-CN
prompts:
"""


def load(tmp_path, body, header=HEADER):
    path = tmp_path / "catalog.yaml"
    path.write_text(header + body, encoding="utf-8")
    return Catalog.load(path), path


def problems(tmp_path, body, header=HEADER):
    with pytest.raises(CatalogError) as info:
        load(tmp_path, body, header)
    return info.value.problems


def test_committed_catalog_loads_and_has_common_prompts():
    catalog = Catalog.load(ROOT / "sounds" / "catalog.yaml")
    assert catalog.languages == ["zh-CN", "en-US"]
    for name in ["common/invalid_choice", "common/no_input", "common/goodbye", "common/please_hold",
                 "common/beep", "common/db_unavailable"]:
        assert catalog.missing([name], catalog.languages) == []
    assert catalog.text("common/goodbye", "en-US") == "Thank you for calling. Goodbye."
    assert catalog.path("common/goodbye", "zh-CN") == ROOT / "sounds" / "zh-CN" / "common" / "goodbye.wav"


def test_played_is_path_as_a_string_and_refuses_what_path_refuses():
    """What playback gets, remembered per (name, lang); a name that is not a prompt name
    (a template built it from a caller's keys, say) is refused every time, never kept."""
    catalog = Catalog.load(ROOT / "sounds" / "catalog.yaml")
    for _ in range(2):
        assert catalog.played("common/goodbye", "zh-CN") == str(catalog.path("common/goodbye", "zh-CN"))
    for bad in ("../etc/passwd", "common/good bye"):
        with pytest.raises(ValueError, match="not a prompt name"):
            catalog.played(bad, "zh-CN")
    assert list(catalog._played) == [("common/goodbye", "zh-CN")]


def test_api(tmp_path):
    catalog, path = load(tmp_path, """\
  menu/main:
    zh-CN: 主菜单
    en-US: Main menu
  say/zh/1: {zh-CN: 一}
  tone/beep:
    tone: {hz: 1000, ms: 400}
""")
    assert catalog.names() == ["menu/main", "say/zh/1", "tone/beep"]
    assert catalog.has("menu/main", "en-US") and catalog.has("say/zh/1", "zh-CN")
    assert not catalog.has("say/zh/1", "en-US") and not catalog.has("nope", "zh-CN")
    assert catalog.text("say/zh/1", "zh-CN") == "一"
    assert catalog.get("tone/beep").tone == Tone(1000, 400)
    assert catalog.has("tone/beep", "en-US") and catalog.text("tone/beep", "zh-CN") == "[tone 1000 Hz 400 ms]"
    assert catalog.languages_of("say/zh/1") == ["zh-CN"]
    assert catalog.languages_of("menu/main") == ["zh-CN", "en-US"]
    assert catalog.path("menu/main", "en-US") == tmp_path / "en-US" / "menu" / "main.wav"
    assert catalog.path("menu/main", "en-US").is_absolute()
    assert catalog.missing(["menu/main", "say/zh/1", "x/y"], ["zh-CN", "en-US"]) == [
        ("say/zh/1", "en-US"), ("x/y", "zh-CN"), ("x/y", "en-US")]
    assert catalog.get("menu/main").line == 5
    with pytest.raises(UnknownPrompt, match=r"'x/y' is not in .*catalog.yaml; add it"):
        catalog.text("x/y", "zh-CN")
    with pytest.raises(UnknownPrompt, match=r"no en-US text in .*catalog.yaml:8"):
        catalog.text("say/zh/1", "en-US")


def test_relative_path_is_made_absolute(tmp_path, monkeypatch):
    load(tmp_path, "  a: {zh-CN: 甲, en-US: A}\n")
    monkeypatch.chdir(tmp_path)
    assert Catalog.load("catalog.yaml").path("a", "zh-CN") == tmp_path / "zh-CN" / "a.wav"


def test_duplicate_names_with_both_lines(tmp_path):
    found = problems(tmp_path, """\
  a/b: {zh-CN: 甲, en-US: A}
  c: {zh-CN: 丙, en-US: C}
  a/b: {zh-CN: 乙, en-US: B}
""")
    assert len(found) == 1
    assert found[0] == f"{tmp_path / 'catalog.yaml'}:7: prompts: duplicate key 'a/b' (first at line 5); remove or rename one"


def test_duplicate_language_inside_a_prompt(tmp_path):
    found = problems(tmp_path, "  a:\n    zh-CN: 甲\n    en-US: A\n    zh-CN: 乙\n")
    assert found == [f"{tmp_path / 'catalog.yaml'}:8: prompt 'a': duplicate key 'zh-CN' (first at line 6); remove or rename one"]


def test_every_problem_reported_at_once_with_lines(tmp_path):
    found = problems(tmp_path, """\
  ok: {zh-CN: 好, en-US: OK}
  only_zh: {zh-CN: 只有中文}
  Bad Name: {zh-CN: 坏, en-US: bad}
  fr: {zh-CN: 法, en-US: French, fr-FR: Français}
  empty: {zh-CN: "", en-US: x}
  say/zh/2: {zh-CN: 二, en-US: two}
  say/zh/3: {en-US: three}
  text_only: just a string
  beep: {tone: {hz: 1000}}
  loud: {tone: {hz: 99999, ms: 100}}
""")
    file = tmp_path / "catalog.yaml"
    assert found == [
        f"{file}:6: prompt 'only_zh' is missing en-US: add 'en-US: ...'",
        f"{file}:7: prompt name 'Bad Name': use lowercase a-z, 0-9, _ and - in parts separated by '/' (e.g. hotline/main_menu)",
        f"{file}:8: prompt 'fr': unexpected language 'fr-FR' (languages are zh-CN, en-US)",
        f"{file}:9: prompt 'empty' zh-CN must be non-empty text",
        f"{file}:10: prompt 'say/zh/2': unexpected language 'en-US' (prompts under this prefix are zh-CN only)",
        f"{file}:11: prompt 'say/zh/3': unexpected language 'en-US' (prompts under this prefix are zh-CN only)",
        f"{file}:11: prompt 'say/zh/3' is missing zh-CN: add 'zh-CN: ...'",
        f"{file}:12: prompt 'text_only' must be a mapping (key: value lines)",
        f"{file}:13: prompt 'beep': tone needs hz and ms, e.g. {{hz: 1000, ms: 400}}",
        f"{file}:14: beep tone ms".replace("beep tone ms", "loud tone hz must be a whole number from 50 to 4000, not '99999'"),
    ]


@pytest.mark.parametrize("text, message", [
    ("prompts: {}\n", ":1: missing 'languages: [zh-CN, en-US]'"),
    ("languages: [zh-CN]\n", ":1: missing 'prompts:' mapping"),
    ("languages: zh-CN\nprompts: {}\n", ":1: languages must be a non-empty list"),
    ("languages: [zh_CN]\nprompts: {}\n", ":1: language 'zh_CN' is not a tag"),
    ("languages: [zh-CN]\nprompt: {}\nprompts: {}\n", ":2: unknown top-level key 'prompt'"),
    ("languages: [zh-CN]\nscoped: {say/en/: en-US}\nprompts: {}\n", ":2: scoped 'say/en/': 'en-US' is not in languages"),
    ("languages: [zh-CN]\nprompts:\n  a: {zh-CN: [x\n", ":4:1: YAML syntax: "),
    ("", ":1: empty catalog"),
])
def test_structure_errors(tmp_path, text, message):
    found = problems(tmp_path, text, header="")
    assert any(message in p for p in found), found


def test_missing_file(tmp_path):
    with pytest.raises(CatalogError, match="catalog not found"):
        Catalog.load(tmp_path / "nope.yaml")


def test_spoken_joins_without_spaces_in_chinese(tmp_path):
    catalog, _ = load(tmp_path, "  a: {zh-CN: 你好, en-US: Hello}\n  b: {zh-CN: 再见, en-US: goodbye}\n")
    assert catalog.spoken(["a", "b"], "zh-CN") == "你好再见"
    assert catalog.spoken(["a", "b"], "en-US") == "Hello goodbye"

"""The reference flows validate cleanly, every prompt they use is in the catalog in
zh-CN and en-US, their YAML flow tests pass with full node and edge coverage, and their
prompts sit in one block of the catalog."""
from __future__ import annotations

import re

from click.testing import CliRunner

from fsapp.cli import main
from fsapp.flow.compiler import Environment, compile_paths
from fsapp.sounds import Catalog

from .harness import FLOWS, ROOT, SOUNDS

REFERENCE = ("hotline_12345", "utility_billing", "satisfaction_survey")
PREFIXES = ("hotline/", "water/", "survey/")
MARKER = "  # ---- reference flows ----"


def invoke(monkeypatch, *args, env=None):
    monkeypatch.chdir(ROOT)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_fsapp_validate_passes(monkeypatch):
    result = invoke(monkeypatch, "validate", "ivr_flows/")
    assert result.exit_code == 0, result.output
    for name in REFERENCE:
        assert re.search(rf"^ok ivr_flows/{name}\.yaml: flow {name} ", result.output, re.M), result.output
    assert "not checked" not in result.output, "validation must check prompts, queries, queues and calendars"


def test_every_prompt_exists_in_both_languages():
    catalog = Catalog.load(SOUNDS / "catalog.yaml")
    used: set[str] = set()

    def has(name, lang):
        used.add(name)
        return catalog.has(name, lang)
    result = compile_paths([FLOWS], Environment(has_prompt=has))
    assert not result.problems, result.problems
    mine = {n for n in used if n.startswith(PREFIXES)}
    assert mine == {n for n in catalog.names() if n.startswith(PREFIXES)}
    assert catalog.missing(sorted(used), ["zh-CN", "en-US"]) == []
    for name in mine:
        zh = catalog.text(name, "zh-CN")
        assert not re.search(r"[0-9]", zh), f"{name}: write numbers in Mandarin text as characters: {zh}"
        assert re.search(r"[\u4e00-\u9fff]", zh), f"{name}: the zh-CN text is not Mandarin: {zh}"
        assert not re.search(r"[\u4e00-\u9fff]", catalog.text(name, "en-US")), name


def test_a_prompt_missing_from_the_catalog_fails_validation(tmp_path, monkeypatch):
    text = (SOUNDS / "catalog.yaml").read_text(encoding="utf-8")
    entry = re.search(r"^  hotline/survey/thanks:\n(    .*\n)+", text, re.M).group(0)
    (tmp_path / "catalog.yaml").write_text(text.replace(entry, ""), encoding="utf-8")
    result = invoke(monkeypatch, "validate", "ivr_flows/", env={"FSAPP_SOUNDS_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "prompt 'hotline/survey/thanks' is missing for zh-CN, en-US" in result.output


def _catalog_without_english(tmp_path, name: str):
    text = (SOUNDS / "catalog.yaml").read_text(encoding="utf-8")
    entry = re.search(rf"^  {re.escape(name)}:\n    zh-CN: .*\n    en-US: .*\n", text, re.M).group(0)
    (tmp_path / "catalog.yaml").write_text(text.replace(entry, entry.split("    en-US")[0]), encoding="utf-8")
    return tmp_path


def test_a_prompt_missing_in_one_language_fails_the_prompt_check(tmp_path, monkeypatch):
    folder = _catalog_without_english(tmp_path, "water/bill/overdue")
    result = invoke(monkeypatch, "sounds", "check", "--catalog", str(folder / "catalog.yaml"), "ivr_flows/")
    assert result.exit_code == 1
    assert "prompt 'water/bill/overdue' is missing en-US" in result.output


def test_a_prompt_missing_in_one_language_fails_validation(tmp_path, monkeypatch):
    folder = _catalog_without_english(tmp_path, "water/bill/overdue")
    result = invoke(monkeypatch, "validate", "ivr_flows/", env={"FSAPP_SOUNDS_DIR": str(folder)})
    assert result.exit_code == 1
    assert "water/bill/overdue" in result.output, result.output


def test_flow_tests_pass_with_full_coverage(monkeypatch):
    result = invoke(monkeypatch, "test", "ivr_flows/")
    assert result.exit_code == 0, result.output
    assert re.search(r"^\d+ passed, 0 failed$", result.output, re.M), result.output
    for name in REFERENCE:
        line = re.search(rf"^  {name}: nodes (\d+)/(\d+) \(100%\), edges (\d+)/(\d+) \(100%\)$", result.output, re.M)
        assert line and line.group(1) == line.group(2) and line.group(3) == line.group(4), result.output
    assert "uncovered:" not in result.output


def test_reference_prompts_are_one_block_at_the_end_of_the_catalog():
    lines = (SOUNDS / "catalog.yaml").read_text(encoding="utf-8").splitlines()
    assert lines.count(MARKER) == 1
    start = lines.index(MARKER)
    names = [(i, m.group(1)) for i, line in enumerate(lines) if (m := re.match(r"^  ([a-z0-9_/-]+):", line))]
    ours = [i for i, name in names if name.startswith(PREFIXES)]
    others_after = [name for i, name in names if i > start and not name.startswith(PREFIXES)]
    assert ours and min(ours) > start, "a reference-flow prompt sits above the block"
    assert others_after == [], f"prompts of other areas inside the reference block: {others_after}"
    ordered = [name for i, name in names if i > start]
    assert ordered == sorted(ordered), "keep the block sorted by name"


def test_the_notices_table_scripts_exist_for_every_tested_dialect():
    for dialect in ("sqlite", "postgresql", "mysql"):
        text = (FLOWS / "sql" / f"notices.{dialect}.sql").read_text(encoding="utf-8")
        assert "CREATE TABLE ivr_notices" in text

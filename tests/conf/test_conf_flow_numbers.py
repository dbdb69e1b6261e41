"""Reading flow: and numbers: from ivr_flows/*.yaml, with file:line errors."""
from __future__ import annotations

import pytest

from fsapp.conf import ConfError, read_flow_numbers
from fsapp.yamlsrc import SourceError


def flows(tmp_path, **files):
    d = tmp_path / "flows"
    d.mkdir(exist_ok=True)
    for name, text in files.items():
        (d / f"{name}.yaml").write_text(text, encoding="utf-8")
    return d


def test_numbers_keep_their_spelling(tmp_path):
    d = flows(tmp_path, a="flow: a\nnumbers: [0755, 12345, '+86571']\n", b="flow: b\nnumbers: 95598\n")
    found, notes = read_flow_numbers(d)
    assert [(f.name, f.numbers) for f in found] == [("a", ("0755", "12345", "+86571")), ("b", ("95598",))]
    assert notes == []


def test_files_without_flow_key_are_skipped_with_a_note(tmp_path):
    d = flows(tmp_path, a="flow: a\nnumbers: [1]\n", a_test="calls:\n  - dial: 1\n", empty="")
    found, notes = read_flow_numbers(d)
    assert [f.name for f in found] == ["a"]
    assert any("a_test.yaml: skipped" in n for n in notes)


def test_bad_number_is_reported_with_its_line(tmp_path):
    d = flows(tmp_path, a="flow: a\nnumbers:\n  - 12345\n  - '123 45'\n")
    with pytest.raises(ConfError, match=r"a\.yaml:4: numbers: '123 45' is not a dialable number"):
        read_flow_numbers(d)


@pytest.mark.parametrize("text, line, what", [
    ("flow: a\nnumbers: {x: 1}\n", 2, "must be a number or a list"),
    ("flow: a\nnumbers: []\n", 2, "must be a number or a list"),
    ("flow: a\nnumbers: [[1]]\n", 2, "not a dialable number"),
    ("flow: 'has space'\n", 1, "flow: must be a name"),
    ("- a\n- b\n", 1, "must be a mapping"),
])
def test_malformed_files(tmp_path, text, line, what):
    d = flows(tmp_path, bad=text)
    with pytest.raises(ConfError, match=rf"bad\.yaml:{line}: .*{what}"):
        read_flow_numbers(d)


def test_a_file_that_is_not_yaml_is_yamlsrcs_error_with_column_and_hint(tmp_path):
    """The flow validator's error type and text: file:line:col, the reason, the hint."""
    d = flows(tmp_path, bad="flow: a\nnumbers: [1\n")
    with pytest.raises(SourceError, match=r"bad\.yaml:3:1: YAML syntax: .*expected ',' or ']'") as caught:
        read_flow_numbers(d)
    assert caught.value.line == 3 and caught.value.col == 1 and caught.value.file.endswith("bad.yaml")
    assert caught.value.report().endswith("\n    hint: " + caught.value.hint) and "quoted" in caught.value.hint


def test_a_number_claimed_twice_names_both_flows(tmp_path):
    d = flows(tmp_path, a="flow: a\nnumbers: [12345]\n", b="flow: b\nnumbers: ['12345']\n")
    with pytest.raises(ConfError, match=r"b\.yaml: number 12345 of flow 'b' is already claimed by flow 'a'"):
        read_flow_numbers(d)


def test_duplicate_flow_names(tmp_path):
    d = flows(tmp_path, a="flow: x\n", b="flow: x\n")
    with pytest.raises(ConfError, match="flow name 'x' is also used by"):
        read_flow_numbers(d)


def test_missing_directory(tmp_path):
    with pytest.raises(ConfError, match="flows directory not found"):
        read_flow_numbers(tmp_path / "nope")


def test_expression_escapes_regex_characters(tmp_path):
    d = flows(tmp_path, a="flow: a\nnumbers: ['+1*2#']\n")
    (flow,), _ = read_flow_numbers(d)
    assert flow.expression == r"^\+1\*2\#$"


def test_flow_tests_are_ignored_and_subdirectories_read(tmp_path):
    d = flows(tmp_path, a="flow: a\nnumbers: [1]\n", **{"a.test": "flow: a\ncalls: []\n"})
    (d / "utility").mkdir()
    (d / "utility" / "water.yml").write_text("flow: water\nnumbers: [96116]\n")
    found, _ = read_flow_numbers(d)
    assert sorted(f.name for f in found) == ["a", "water"]

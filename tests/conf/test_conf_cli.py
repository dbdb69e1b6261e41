"""`fsapp conf render` options that the doc examples do not cover."""
from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from fsapp.cli import main
from tests.fsapp_toml import write_fsapp_toml

TEMPLATES = Path(__file__).resolve().parents[2] / "freeswitch-conf"


def invoke(tmp_path, flows_dir, *args, password="pw"):
    toml = write_fsapp_toml(tmp_path, {"flows": {"dir": flows_dir}})
    env = {"FSAPP_ESL_PASSWORD": password, "FSAPP_CONFIG": None}
    return CliRunner().invoke(main, ["--config", str(toml), "conf", "render",
                                     "--templates", str(TEMPLATES), *args], env=env)


def test_dry_run_json_writes_nothing(tmp_path, flows_dir):
    out = tmp_path / "out"
    result = invoke(tmp_path, flows_dir, "--out", str(out), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["written"] is False and not out.exists()
    assert [f["name"] for f in report["flows"]] == ["hotline", "water"]
    assert str(out / "dialplan/default/50_fsapp.xml") in report["files"]


def test_error_is_one_line_and_nonzero(tmp_path, flows_dir):
    (flows_dir / "dup.yaml").write_text("flow: dup\nnumbers: [96116]\n")
    result = invoke(tmp_path, flows_dir, "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "already claimed by flow 'dup'" in result.output
    assert not (tmp_path / "out").exists()


def test_a_flow_that_is_not_yaml_shows_line_column_and_hint(tmp_path, flows_dir):
    (flows_dir / "broken.yaml").write_text("flow: broken\nnumbers: [1\n")
    result = invoke(tmp_path, flows_dir, "--out", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert f"Error: {flows_dir / 'broken.yaml'}:3:1: YAML syntax: " in result.output
    assert "\n    hint: check indentation, quoting" in result.output
    assert not (tmp_path / "out").exists()


def test_bad_var_syntax(tmp_path, flows_dir):
    result = invoke(tmp_path, flows_dir, "--var", "oops")
    assert result.exit_code == 1 and "expected NAME=VALUE" in result.output


def test_notes_go_to_stderr(tmp_path, flows_dir):
    (flows_dir / "sub.yaml").write_text("flow: sub\n")
    result = invoke(tmp_path, flows_dir, "--out", str(tmp_path / "out"))
    assert result.exit_code == 0
    assert "note: " in result.stderr and "note: " not in result.stdout

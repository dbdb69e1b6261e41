"""The flow verbs from the command line: compile, test (pass, fail, coverage, bad files), graph."""
import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from flow_helpers import flow_text
from fsapp.cli import main

ROOT = Path(__file__).resolve().parents[2]


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_compile_json_is_the_compiled_graph(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(flow_text("welcome: {menu: {prompt: a/b, options: {1: bye}, on_fail: bye}}\n"
                              "bye: {hangup: {}}\n"), encoding="utf-8")
    result = invoke("compile", "--no-env", str(path))
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["flow"] == "t" and data["start"] == "welcome" and len(data["version"]) == 12
    assert data["nodes"]["welcome"]["edges"] == [{"label": "options.1", "target": "bye"},
                                                 {"label": "on_fail", "target": "bye"}]
    assert data["nodes"]["welcome"]["args"]["timeout"] == 5.0


def test_graph_needs_its_module_or_says_so(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(flow_text("welcome: {hangup: {}}\n"), encoding="utf-8")
    result = invoke("graph", "--no-env", str(path), "-o", str(tmp_path / "f.svg"))
    try:
        import fsapp.flow.graphviz  # noqa: F401  (another engineer's module)
    except ImportError:
        assert result.exit_code == 1 and "not available yet" in result.output


def test_fsapp_test_reports_failures_and_uncovered_edges(tmp_path):
    shutil.copy(ROOT / "tests" / "flow" / "flows" / "hotline.yaml", tmp_path / "hotline.yaml")
    (tmp_path / "hotline.test.yaml").write_text("""
fixtures: {calendars: {office_hours: open}}
cases:
  - name: wrong expectation
    press: ["0"]
    expect: {path: [welcome, main_menu, mailbox], end: hangup}
""", encoding="utf-8")
    result = invoke("test", "--no-env", str(tmp_path))
    assert result.exit_code == 1
    out = result.output
    assert f"FAIL {tmp_path / 'hotline.test.yaml'}:4: wrong expectation" in out
    assert "path: expected ['welcome', 'main_menu', 'mailbox'], got ['welcome', 'main_menu', 'agent']" in out
    assert "end: expected hangup, got queue" in out
    assert "uncovered: main_menu --options.1--> mailbox" in out
    assert "hotline: nodes 3/12 (25%)" in out
    assert "0 passed, 1 failed" in out


def test_fsapp_test_rejects_a_malformed_test_file(tmp_path):
    shutil.copy(ROOT / "tests" / "flow" / "flows" / "hotline.yaml", tmp_path / "hotline.yaml")
    (tmp_path / "hotline.test.yaml").write_text("""cases:
  - name: typo
    pres: ["1"]
    expect: {pth: [welcome]}
""", encoding="utf-8")
    result = invoke("test", "--no-env", str(tmp_path))
    assert result.exit_code == 1
    assert f"{tmp_path / 'hotline.test.yaml'}:3:5: case 1: unknown key 'pres'" in result.output
    assert f"{tmp_path / 'hotline.test.yaml'}:4:14: case 1 expect: unknown key 'pth'" in result.output


def test_fsapp_test_on_the_repository_flow_tests():
    result = invoke("test", "--no-env", str(ROOT / "tests" / "flow" / "flows"))
    assert result.exit_code == 0, result.output
    assert "3 passed, 0 failed" in result.output

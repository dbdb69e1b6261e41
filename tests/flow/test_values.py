"""Issue 10: every YAML value conversion ends in a file:line:col problem, never a traceback,
and a big file is refused for what it is (its size), not as an alias expansion."""
import pytest
from click.testing import CliRunner

from flow_helpers import ENV, flow_text, problems
from fsapp import config
from fsapp.cli import main
from fsapp.flow import flowtests
from fsapp.flow.compiler import compile_text
from fsapp.app.environment import from_config

BIG = "9" * 400


def menu(timeout: str = "5s", tries: str = "3") -> str:
    return flow_text(f"welcome: {{menu: {{prompt: hotline/welcome, options: {{1: bye}}, "
                     f"timeout: {timeout}, tries: {tries}, on_fail: bye}}}}\n"
                     "bye: {hangup: {}}\n")


@pytest.mark.parametrize("value", [BIG, f"-{BIG}", f"{BIG}.5", "0x" + "f" * 400, "0b" + "1" * 2000,
                                   "1:" + "59:" * 300 + "59"])
def test_huge_integer_duration_is_a_positioned_problem(value):
    # was: OverflowError: int too large to convert to float (compiler.py), a traceback
    found = problems(menu(timeout=value))
    assert len(found) == 1
    assert found[0].startswith("6:73: node 'welcome' (menu): timeout: ")
    assert "maximum 300" in found[0] or "minimum 0.1" in found[0]
    assert len(found[0]) < 200  # the 400 digits are not echoed back


@pytest.mark.parametrize("value, says", [(".nan", "is not a number"), (".inf", "above the maximum 300"),
                                         ("-.inf", "below the minimum 0.1"), (f"{BIG}s", "above the maximum"),
                                         (f"{BIG}ms", "above the maximum"), ("1.0e+400", "above the maximum"), ("1e400", "is not a duration")])
def test_non_finite_durations_are_refused(value, says):
    found = problems(menu(timeout=value))
    assert len(found) == 1 and found[0].startswith("6:73: ") and says in found[0], found


@pytest.mark.parametrize("value", [BIG, "0x" + "f" * 4000, "9" * 5000])
def test_huge_integer_count_is_a_positioned_problem(value):
    # 0x + 4000 hex digits is an int str() refuses to print (over 4300 decimal digits)
    found = problems(menu(tries=value))
    assert len(found) == 1 and found[0].startswith("6:84: node 'welcome' (menu): tries: "), found
    assert len(found[0]) < 250


def test_validate_cli_reports_file_line_col(tmp_path):
    path = tmp_path / "f.yaml"
    path.write_text(menu(timeout=BIG), encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--no-env", str(path)])
    assert result.exit_code == 1
    assert f"{path}:6:73: node 'welcome' (menu): timeout: " in result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_test_file_record_seconds_must_be_a_number(tmp_path):
    path = tmp_path / "f.test.yaml"
    for value in ["abc", BIG, ".nan", "-1"]:
        path.write_text(f"flow: t\nfixtures: {{record_seconds: {value}}}\n"
                        "cases:\n  - {press: [], expect: {end: hangup}}\n", encoding="utf-8")
        with pytest.raises(flowtests.BadTestFile) as info:
            flowtests.load_cases(path)
        [problem] = info.value.problems
        assert f"{problem.line}:{problem.col}: {problem.message}".startswith(
            "2:11: fixtures: record_seconds: expected seconds from 0 to 3600 or a list of them")
        assert len(problem.message) < 200   # a 400-digit value is shown shortened


def many_nodes(n: int) -> str:
    return flow_text("".join(f"n{i}: {{play: hotline/welcome, next: n{i + 1}}}\n" for i in range(n))
                     + f"n{n}: {{hangup: {{}}}}\n", start="n0")


def test_big_file_is_refused_for_its_size_with_the_limit_named():
    env = ENV.__class__(**{**ENV.__dict__, "max_yaml_values": 1000})
    flow, found = compile_text(many_nodes(300), "big.yaml", env)
    assert flow is None and len(found) == 1
    assert found[0].message == ("file too large: more than 1,000 YAML values (keys, values and list "
                                "items; limit [flows] max_yaml_values = 1000)")
    assert "subflows" in found[0].hint and "FSAPP_FLOWS_MAX_YAML_VALUES" in found[0].hint
    raised = ENV.__class__(**{**ENV.__dict__, "max_yaml_values": 5000})
    flow, found = compile_text(many_nodes(300), "big.yaml", raised)
    assert not found and len(flow.nodes) == 301


def test_big_file_refused_before_its_tree_is_built():
    """Over 2 bytes a value the event pre-count runs: the same message, the line where the
    limit was passed."""
    env = ENV.__class__(**{**ENV.__dict__, "max_yaml_values": 200})
    text = many_nodes(2000)
    assert len(text) > 2 * 200
    flow, found = compile_text(text, "big.yaml", env)
    assert flow is None and found[0].message.startswith("file too large: more than 200 YAML values")
    assert found[0].line > 5


def test_alias_bomb_is_still_an_alias_expansion():
    bomb = ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n")
    flow, found = compile_text(bomb, "bomb.yaml", ENV)
    assert flow is None and found[0].message.startswith("aliases expand to more than 200,000 values (")
    assert "through aliases" in found[0].message


def test_limit_comes_from_the_config(tmp_path):
    cfg = config.load(env={"FSAPP_FLOWS_MAX_YAML_VALUES": "1234", "FSAPP_SOUNDS_DIR": str(tmp_path),
                           "FSAPP_STORE_QUERIES": str(tmp_path / "none")})
    assert from_config(cfg).max_yaml_values == 1234


@pytest.mark.parametrize("value, says", [(BIG, "is above the maximum 1e+06"), ("1.5", "expected an integer"),
                                         (".nan", "expected an integer"), ("-2000000", "below the minimum")])
def test_literal_queue_priority_is_a_bounded_integer(value, says):
    # a 400-digit priority passed validation and overflowed in the router's scoring
    text = flow_text(f"welcome: {{queue: {{queue: hotline_agents, priority: {value}}}}}\n")
    found = problems(text)
    assert len(found) == 1 and found[0].startswith("6:54: node 'welcome' (queue): priority: ") \
        and says in found[0], found


def test_priority_expression_still_accepted():
    assert not problems(flow_text("welcome: {queue: {queue: hotline_agents, priority: \"1 + 2\"}}\n"))
    assert not problems(flow_text("welcome: {queue: {queue: hotline_agents, priority: 7}}\n"))


def test_test_file_caller_id_is_taken_as_written(tmp_path):
    """caller_id 01234567 is an octal int to YAML (str() gave '342391'); a 5,000-digit one
    is an int str() refuses (a traceback from `fsapp flows test`)."""
    path = tmp_path / "f.test.yaml"
    huge = "0x" + "f" * 4000
    path.write_text("flow: t\ncases:\n"
                    "  - {caller_id: 01234567, destination: 0777, press: [], expect: {end: hangup}}\n"
                    f"  - {{caller_id: {huge}, press: [], expect: {{end: hangup}}}}\n"
                    "  - {press: [], expect: {end: hangup}}\n", encoding="utf-8")
    _, cases = flowtests.load_cases(path)
    assert [(c.name, c.caller_id, c.destination) for c in cases] == [
        ("case 1", "01234567", "0777"), ("case 2", huge, ""), ("case 3", "13800138000", "")]

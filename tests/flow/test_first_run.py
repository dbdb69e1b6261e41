"""First-run problems a new user met (issue 12), each pinned: `fsapp simulate`'s notes
about sound files, --press checking, a flow without numbers; compile/graph on a flow
that calls a subflow in another file, and on a directory; validate reporting unreachable
nodes together with other problems."""
import shutil
import wave
from pathlib import Path

import pytest
from click.testing import CliRunner

from fsapp.cli import main
from tests.fsapp_toml import write_fsapp_toml

ROOT = Path(__file__).resolve().parents[2]

MENU = """flow: first
numbers: ["30000"]
languages: [zh-CN]
start: menu
nodes:
  menu:
    menu: {prompt: [common/welcome, common/language_menu], options: {"1": bye}, timeout: 5s, tries: 1,
           on_fail: bye}
  bye: {hangup: {prompt: common/goodbye}}
"""


def _wav(path: Path, seconds: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))


@pytest.fixture
def project(tmp_path):
    sounds = tmp_path / "sounds"
    sounds.mkdir()
    shutil.copy(ROOT / "sounds" / "catalog.yaml", sounds / "catalog.yaml")
    for name in ("welcome", "language_menu", "goodbye"):
        _wav(sounds / "zh-CN" / "common" / f"{name}.wav", 3.0)
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "first.yaml").write_text(MENU, encoding="utf-8")
    write_fsapp_toml(tmp_path, {
        "flows": {"dir": flows, "recordings": tmp_path / "recordings", "calendars": ROOT / "calendars.yaml"},
        "sounds": {"dir": sounds},
        "store": {"queries": ROOT / "queries"}})
    return tmp_path


def run(project, *args):
    return CliRunner().invoke(main, ["--config", str(project / "fsapp.toml"), *args])


def test_pressing_during_a_prompt_is_not_a_missing_sound_file(project):
    # the caller presses 1 during common/welcome: common/language_menu is never played
    result = run(project, "simulate", str(project / "flows" / "first.yaml"), "--press", "1",
                 "--delay", "0.5")
    assert result.exit_code == 0, result.output
    assert "  pressed  1" in result.output
    assert "no sound file" not in result.output


def test_a_missing_sound_file_is_named(project):
    (project / "sounds" / "zh-CN" / "common" / "goodbye.wav").unlink()
    result = run(project, "simulate", str(project / "flows" / "first.yaml"), "--press", "1",
                 "--delay", "0.5")
    assert result.exit_code == 0, result.output
    note = next(line for line in result.output.splitlines() if "no sound file" in line)
    assert "for 1 prompt(s)" in note and "common/goodbye.wav" in note


@pytest.mark.parametrize("press", ["abc", "1x", "12 3"])
def test_press_must_be_keys(project, press):
    result = run(project, "simulate", str(project / "flows" / "first.yaml"), "--press", press)
    assert result.exit_code == 2
    assert "--press" in result.output and "0-9 * #" in result.output and repr(press) in result.output


def test_a_flow_without_numbers_is_a_one_line_error(project):
    (project / "flows" / "sub.yaml").write_text(
        "flow: sub\nlanguages: [zh-CN]\nstart: bye\nnodes:\n  bye: {hangup: {prompt: common/goodbye}}\n", encoding="utf-8")
    result = run(project, "simulate", str(project / "flows" / "sub.yaml"))
    assert result.exit_code == 1
    assert "Traceback" not in result.output and result.exception is None or \
        isinstance(result.exception, SystemExit)
    assert "answers no numbers" in result.output and "numbers:" in result.output


def test_validate_reports_unreachable_nodes_with_other_problems(tmp_path):
    """An unreachable node is reported in the same run as a typo elsewhere, not after it is
    fixed; the node the typo probably meant is not reported (no cascade)."""
    flow = tmp_path / "f.yaml"
    flow.write_text("""flow: f
numbers: ["1"]
languages: [zh-CN]
start: menu
nodes:
  menu:
    menu: {prompt: common/welcome, options: {"1": bye, "2": agnet}}
  agent: {play: common/transfer_to_agent, next: bye}
  orphan: {play: common/thanks, next: bye}
  bye: {hangup: {}}
""", encoding="utf-8")
    result = CliRunner().invoke(main, ["validate", "--no-env", str(flow)])
    assert result.exit_code == 1
    assert "undefined node 'agnet'" in result.output
    assert "node 'orphan' is never reached from start 'menu'" in result.output
    assert "node 'agent' is never reached" not in result.output


FLOWS = ROOT / "ivr_flows"


def test_compile_and_graph_the_flagship_hotline_with_its_subflow(tmp_path):
    # hotline_12345 calls a subflow defined in another file of ivr_flows/
    result = CliRunner().invoke(main, ["compile", "--no-env", str(FLOWS / "hotline_12345.yaml")])
    assert result.exit_code == 0, result.output
    assert '"flow": "hotline_12345"' in result.output
    out = tmp_path / "hotline.dot"
    result = CliRunner().invoke(main, ["graph", "--no-env", str(FLOWS / "hotline_12345.yaml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("digraph")


def test_compile_and_graph_take_a_directory(tmp_path):
    import json
    result = CliRunner().invoke(main, ["compile", "--no-env", str(FLOWS)])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert {"hotline_12345", "example_menu"} <= set(doc)
    out = tmp_path / "graphs"
    result = CliRunner().invoke(main, ["graph", "--no-env", str(FLOWS), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"hotline_12345.svg", "example_menu.svg"}


USER_GUIDE_FIRST = """flow: first_menu
numbers: ["10010"]
languages: [zh-CN, en-US]
start: welcome
nodes:
  welcome:
    menu:
      prompt: [common/welcome, common/language_menu]
      options: {"1": thanks, "2": agent}
      timeout: 3s
      tries: 2
      on_fail: goodbye
  thanks:
    play: common/thanks
    next: goodbye
  agent:
    play: common/transfer_to_agent
    next: goodbye
  goodbye:
    hangup: {prompt: common/goodbye}
"""


def test_compile_refuses_a_native_menu_without_a_key_it_can_run(tmp_path):
    flow = tmp_path / "first_menu.yaml"
    flow.write_text(USER_GUIDE_FIRST, encoding="utf-8")
    result = CliRunner().invoke(main, ["compile", "--no-env", str(flow), "--target", "freeswitch-xml"])
    assert result.exit_code == 1
    assert "first_menu.welcome has no key" in result.output and "key 1" in result.output
    assert "<menu" not in result.output


def test_native_xml_names_freeswitchs_sounds_dir_not_this_machines(tmp_path):
    flow = tmp_path / "info.yaml"
    flow.write_text("""flow: info
numbers: ["1"]
languages: [zh-CN]
start: top
nodes:
  top:
    menu: {prompt: common/welcome, options: {"9": bye}, on_fail: bye}
  bye: {hangup: {}}
""", encoding="utf-8")
    result = CliRunner().invoke(main, ["compile", "--no-env", str(flow), "--target", "freeswitch-xml"])
    assert result.exit_code == 0, result.output
    assert 'greet-long="$${sounds_dir}/fsapp/zh-CN/common/welcome.wav"' in result.output
    assert str(ROOT) not in result.output and str(Path.cwd()) not in result.output
    result = CliRunner().invoke(main, ["compile", "--no-env", str(flow), "--target", "freeswitch-xml",
                                       "--sounds-dir", "/srv/sounds"])
    assert 'greet-long="/srv/sounds/zh-CN/common/welcome.wav"' in result.output


def test_compile_and_graph_name_a_bad_output_in_one_line(tmp_path):
    # json compiles a directory into one file: -o naming a directory was a traceback
    # (IsADirectoryError); so was -o naming a file where a directory of outputs is due
    a_dir, a_file = tmp_path / "out", tmp_path / "taken.txt"
    a_dir.mkdir()
    a_file.write_text("x", encoding="utf-8")
    native = tmp_path / "native"      # a directory of flows FreeSWITCH's menu engine can run
    native.mkdir()
    (native / "info.yaml").write_text(
        'flow: info\nnumbers: ["1"]\nlanguages: [zh-CN]\nstart: top\nnodes:\n'
        '  top:\n    menu: {prompt: common/welcome, options: {"9": bye}, on_fail: bye}\n'
        '  bye: {hangup: {}}\n', encoding="utf-8")
    for args, expected in [
            (["compile", "--no-env", str(FLOWS), "-o", str(a_dir)], f"{a_dir} is a directory: give -o a file name"),
            (["compile", "--no-env", str(FLOWS / "example_menu.yaml"), "-o", str(tmp_path / "no" / "x.json")],
             f"cannot write {tmp_path / 'no' / 'x.json'}: No such file or directory"),
            (["compile", "--no-env", str(native), "--target", "freeswitch-xml", "-o", str(a_file)],
             f"cannot use {a_file} as the directory of the XML files"),
            (["graph", "--no-env", str(FLOWS), "-o", str(a_file)], "cannot draw ")]:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
        assert expected in result.output and "Traceback" not in result.output, (args, result.output)


def test_the_example_in_simulate_help_does_what_it_says(monkeypatch):
    """`fsapp simulate --help`'s example, run as printed from the project directory: the
    caller reaches the status lookup and hears the ticket's status (was: --press 3 at the
    language question, which the flow refused, and a mailbox call that needed a database)."""
    import re
    import shlex
    help_text = CliRunner().invoke(main, ["simulate", "--help"], terminal_width=80).output
    assert all(len(row) <= 80 for row in help_text.splitlines())
    command = re.search(r"(fsapp simulate .*?)\n\n", help_text.replace("\\\n", " "), re.S).group(1)
    args = shlex.split(command)[1:]
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "heard    hotline/status/closed" in result.output and "error" not in result.output


def test_a_flow_error_is_one_transcript_line_not_a_traceback(project):
    (project / "flows" / "first.yaml").write_text(MENU.replace(
        "  bye: {hangup: {prompt: common/goodbye}}",
        "  bye: {set: {n: 'trail | length // (trail | length - trail | length)'}, next: end}\n"
        "  end: {hangup: {prompt: common/goodbye}}"), encoding="utf-8")
    result = run(project, "simulate", str(project / "flows" / "first.yaml"), "--press", "1")
    assert result.exit_code == 0, result.output
    assert "  error    " in result.output and "ZeroDivisionError" in result.output
    assert "ended: error in first.bye" in result.output
    assert "Traceback" not in result.output
    # the error is not logged again (a write spooled because this project has no database
    # yet is a warning of its own, the outbox's, and stays)
    assert not [line for line in result.output.splitlines() if " WARNING " in line and "spooled" not in line]


STATUS = """flow: status
numbers: ["30001"]
languages: [zh-CN]
start: lookup
nodes:
  lookup:
    sql: {query: hotline.ticket_status, params: {serial: "20000014"}, into: ticket}
    next: bye
    on_error: sorry
  sorry: {hangup: {prompt: common/db_unavailable}}
  bye: {hangup: {prompt: common/goodbye}}
"""


def _with_database(project: Path) -> Path:
    """The project's config with its own SQLite file (not yet created) under tmp_path."""
    db = project / "var" / "fsapp.db"
    write_fsapp_toml(project, {
        "flows": {"dir": project / "flows", "recordings": project / "recordings",
                  "calendars": ROOT / "calendars.yaml"},
        "sounds": {"dir": project / "sounds"},
        "store": {"queries": ROOT / "queries", "spool": project / "var" / "spool",
                  "connections": {"main": {"odbc": f"Driver={{SQLite3}};Database={db}"}}}})
    (project / "flows" / "status.yaml").write_text(STATUS, encoding="utf-8")
    return db


def test_simulate_before_db_init_says_to_run_it(project):
    """A new user's first `fsapp simulate` of a flow with queries, without `fsapp db init`
    and without --fixtures: the transcript's 'no such table' comes with what to do."""
    db = _with_database(project)
    flow = str(project / "flows" / "status.yaml")
    result = run(project, "simulate", flow)
    assert result.exit_code == 0, result.output
    assert "no such table" in result.output  # the driver's own words stay in the transcript
    note = next(line for line in result.output.splitlines() if "fsapp db init" in line)
    assert note.startswith("note: the database 'main' (") and str(db) in note
    assert "has no fsapp tables" in note and "--fixtures" in note
    # once the tables exist the query runs (no ticket, no error) and there is nothing to advise
    assert run(project, "db", "init").exit_code == 0
    result = run(project, "simulate", flow)
    assert result.exit_code == 0, result.output
    assert "no such table" not in result.output and "fsapp db init" not in result.output
    assert "ended: " in result.output and "in status.bye" in result.output


def test_simulate_leaves_no_store_running_in_the_process(project):
    """The services `fsapp simulate` builds end with its call: a store left open kept its
    outbox replayer running in the process, which retried a refused call record and later
    logged its dead-lettering into another in-process command's output."""
    import gc
    from fsapp.store import Store
    _with_database(project)
    assert run(project, "simulate", str(project / "flows" / "status.yaml")).exit_code == 0
    # an open store stays alive (its replayer holds it); a closed one may already be gone
    ours = [s for s in gc.get_objects() if isinstance(s, Store) and project in s.spool_dir.parents]
    assert all(s._closed for s in ours), [(s.spool_dir, s._closed) for s in ours]

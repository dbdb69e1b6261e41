"""CLI-wide checks: every verb of fsapp.cli.COMMANDS loads and answers --help, unknown
verbs and bad config files fail with one clear line and a non-zero exit."""
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from fsapp.cli import COMMANDS, LazyGroup, main

ROOT = __import__("pathlib").Path(__file__).resolve().parent.parent
VERBS = sorted(COMMANDS)


def invoke(args, env=None):
    return CliRunner().invoke(main, args, prog_name="fsapp", env=env or {"FSAPP_CONFIG": None})


@pytest.mark.parametrize("verb", VERBS)
def test_verb_imports_and_has_help(verb):
    command = LazyGroup().get_command(None, verb)
    assert isinstance(command, click.Command), f"{COMMANDS[verb][0]} is not a click command"
    result = invoke([verb, "--help"])
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert f"Usage: fsapp {verb}" in result.output
    helps = [result.output]
    if isinstance(command, click.Group):   # and each subcommand of a group
        for sub in command.list_commands(None):
            nested = invoke([verb, sub, "--help"])
            assert nested.exit_code == 0, f"fsapp {verb} {sub} --help: {nested.output}"
            helps.append(nested.output)
    # a file an example names exists (simulate's example named ivr_flows/hotline.yaml)
    import re
    for text in helps:
        for name in re.findall(r"\b((?:ivr_flows|examples|queries|freeswitch-conf)/[\w./-]+\.(?:yaml|sql|toml))", text):
            assert (ROOT / name).exists(), f"fsapp {verb} --help names {name}, which does not exist"


@pytest.mark.parametrize("verb", VERBS)
def test_verb_help_in_a_fresh_process(verb, tmp_path):
    # a real process: catches import-order problems (gevent patching) CliRunner hides
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), verb, "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert f"Usage: fsapp {verb}" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_top_level_help_lists_every_verb():
    result = invoke(["--help"])
    assert result.exit_code == 0
    for verb, (_, summary) in COMMANDS.items():
        assert verb in result.output
        assert summary.split(":")[0][:30] in " ".join(result.output.split())


def test_unknown_verb_is_a_clear_error():
    result = invoke(["frobnicate"])
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.output
    assert "Try 'fsapp --help' for help." in result.output


def _run(tmp_path, *args, env=None):
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **(env or {})})


@pytest.mark.parametrize("toml, env, message", [
    ('[esl]\nport = "eighty"\n', {}, "bad.toml: [esl] port: expected int, got 'eighty'"),
    ("[esl]\nprot = 8021\n", {}, "bad.toml: [esl] unknown key 'prot'; known: host, port,"),
    ("[routing]\nbackend = \"mongo\"\n", {}, "[routing] backend: 'mongo' is not one of memory, redis"),
    ("[nope]\nx = 1\n", {}, "bad.toml: unknown section [nope]"),
    ("[esl\n", {}, "bad.toml: "),
    ("[esl]\nport = 8021\n", {"FSAPP_ESL_PORT": "x"}, "environment FSAPP_ESL_PORT: [esl] port: expected int"),
])
def test_bad_config_is_one_line_naming_the_key(tmp_path, toml, env, message):
    (tmp_path / "bad.toml").write_text(toml, encoding="utf-8")
    proc = _run(tmp_path, "--config", "bad.toml", "queue", "list", env=env)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("Error: ") and message in lines[0], lines[0]
    assert proc.stdout == ""


def test_bad_config_from_fsapp_config_env_and_cwd(tmp_path):
    (tmp_path / "fsapp.toml").write_text('[logging]\nformat = "xml"\n', encoding="utf-8")
    proc = _run(tmp_path, "queue", "list")            # ./fsapp.toml is found by itself
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: fsapp.toml: [logging] format: 'xml' is not one of text, json"
    proc = _run(tmp_path, "queue", "list", env={"FSAPP_CONFIG": "missing.toml"})
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: missing.toml: config file not found"


def test_help_still_works_with_a_bad_config(tmp_path):
    # docs/configuration.md: a bad file stops every command (even `VERB --help`, since the
    # config loads before the verb runs); only the top-level `fsapp --help` still answers
    (tmp_path / "bad.toml").write_text('[esl]\nport = "x"\n', encoding="utf-8")
    assert _run(tmp_path, "--config", "bad.toml", "--help").returncode == 0
    assert _run(tmp_path, "--config", "bad.toml", "queue", "--help").returncode == 1
    assert _run(tmp_path, "--config", "bad.toml", "queue", "list").returncode == 1


def test_serve_flows_with_problems_is_a_clear_error_not_a_traceback(tmp_path):
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "bad.yaml").write_text("flow: bad\nnumbers: ['1']\nlanguages: [en-US]\nstart: a\n"
                                     "nodes:\n  a: {play: common/goodbye, next: nowhere}\n")
    proc = subprocess.run([sys.executable, str(ROOT / "cli.py"), "serve", "--flows", str(flows),
                           "--listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "bad.yaml:6:" in proc.stderr and "nowhere" in proc.stderr

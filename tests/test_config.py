"""The config loader: file + environment, every bad value rejected with its key named."""
import pytest

from fsapp import config


def write(tmp_path, text):
    path = tmp_path / "fsapp.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = config.load(env={})
    assert cfg.get("esl", "port") == 8021
    assert cfg.get("esl", "password") is None  # never a default password in code
    assert cfg.path is None


def test_file_values_and_env_override(tmp_path):
    path = write(tmp_path, '[esl]\nport = 9021\nhost = "10.0.0.5"\n')
    cfg = config.load(path, env={"FSAPP_ESL_PORT": "7021", "FSAPP_ESL_PASSWORD": "s3cret"})
    assert cfg.get("esl", "host") == "10.0.0.5"
    assert cfg.get("esl", "port") == 7021  # environment wins over the file
    assert cfg.require("esl", "password") == "s3cret"


def test_required_secret_names_file_and_env_var(tmp_path):
    path = write(tmp_path, "[esl]\nport = 8021\n")
    cfg = config.load(path, env={})
    with pytest.raises(config.ConfigError, match=r"\[esl\] password is required.*FSAPP_ESL_PASSWORD"):
        cfg.require("esl", "password")


@pytest.mark.parametrize("text, env, message", [
    ('[esl]\nport = "eighty"\n', {}, r"fsapp.toml: \[esl\] port: expected int, got 'eighty'"),
    ("[esl]\nport = 80\n", {"FSAPP_ESL_PORT": "x"}, r"environment FSAPP_ESL_PORT: \[esl\] port: expected int"),
    ('[routing]\nbackend = "mongo"\n', {}, r"\[routing\] backend: 'mongo' is not one of memory, redis"),
    ("[esl]\nprot = 1\n", {}, r"\[esl\] unknown key 'prot'"),
    ("[nope]\nx = 1\n", {}, r"unknown section \[nope\]"),
    ("[esl\nport = 1\n", {}, r"fsapp.toml: "),
    ("[esl]\nport = true\n", {}, r"\[esl\] port: expected int, got True"),
])
def test_bad_values_name_the_key(tmp_path, text, env, message):
    path = write(tmp_path, text)
    with pytest.raises(config.ConfigError, match=message):
        config.load(path, env=env)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(config.ConfigError, match="config file not found"):
        config.load(tmp_path / "absent.toml", env={})

"""docs/configuration.md: the settings tables are SCHEMA's, and the example files load."""
import re
import tomllib

import pytest
from doccheck import DOCS, blocks

from fsapp import config, config_doc
from fsapp.store.connections import parse_connection

DOC = DOCS / "configuration.md"


def test_settings_tables_match_schema():
    current = config_doc.generated_block(DOC.read_text(encoding="utf-8"), str(DOC))
    assert current == config_doc.render_tables(), (
        "docs/configuration.md drifted from fsapp.config.SCHEMA: "
        "run .venv/bin/python -m fsapp.config_doc --write docs/configuration.md")


def test_every_key_and_env_var_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for section, settings in config.SCHEMA.items():
        assert f"### [{section}]" in text
        for key, setting in settings.items():
            assert f"| `{key}` |" in text, f"[{section}] {key} missing"
            if setting.type is not dict:
                assert f"`FSAPP_{section.upper()}_{key.upper()}`" in text


def test_check_mode_detects_drift(tmp_path, capsys):
    doc = tmp_path / "configuration.md"
    doc.write_text(DOC.read_text(encoding="utf-8").replace("| `port` | int | `8021`", "| `port` | int | `9999`"),
                   encoding="utf-8")
    assert config_doc.main(["--check", str(doc)]) == 1
    assert "differ from fsapp.config.SCHEMA" in capsys.readouterr().err
    assert config_doc.main(["--write", str(doc)]) == 0
    assert config_doc.main(["--check", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == DOC.read_text(encoding="utf-8")


def test_missing_markers_are_named(tmp_path):
    with pytest.raises(ValueError, match="markers not found"):
        config_doc.generated_block("# no tables here\n", "x.md")


def toml_examples() -> list[str]:
    return [body for lang, body, _, _ in blocks(DOC.read_text(encoding="utf-8")) if lang == "toml"]


def test_doc_has_both_examples():
    firsts = [body.splitlines()[0] for body in toml_examples()]
    assert any("embedded default" in line for line in firsts)
    assert any("production" in line for line in firsts)


@pytest.mark.parametrize("index", range(len(toml_examples())))
def test_example_loads(tmp_path, index):
    body = toml_examples()[index]
    path = tmp_path / "fsapp.toml"
    path.write_text(body, encoding="utf-8")
    cfg = config.load(path, env={})
    secrets = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", body))
    env = {name: "x" for name in secrets}
    for name, value in cfg.get("store", "connections").items():
        spec = parse_connection(name, value, env=env)   # the store's own checks
        assert "${" not in spec.odbc
    if "embedded default" in body.splitlines()[0]:
        # the "embedded default" example is exactly what fsapp uses without a file
        defaults = {s: {k: v.default for k, v in keys.items()} for s, keys in config.SCHEMA.items()}
        assert {s: cfg.section(s) for s in config.SCHEMA} == defaults
    else:
        assert cfg.get("routing", "backend") == "redis"
        assert cfg.get("logging", "format") == "json"
        assert "PostgreSQL" in cfg.get("store", "connections")["main"]["odbc"]
        assert cfg.get("esl", "password") is None   # from FSAPP_ESL_PASSWORD, never the file

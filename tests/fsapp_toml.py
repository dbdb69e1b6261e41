"""Writing a test's fsapp.toml: one helper instead of a TOML template per test file.
Paths in the values become strings, so a tmp_path with odd characters cannot break the
file (an f-string template would)."""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)     # JSON's escapes are TOML basic-string escapes


def _toml_tables(sections: dict, prefix: str = "") -> list[str]:
    lines, subtables = [], []
    for key, value in sections.items():
        (subtables if isinstance(value, dict) else lines).append((key, value))
    out = [f"[{prefix}]"] if prefix and lines else []
    out += [f"{key} = {_toml_value(value)}" for key, value in lines]
    for key, value in subtables:
        out += _toml_tables(value, f"{prefix}.{key}" if prefix else key)
    return out


def write_fsapp_toml(where: Path, sections: dict, extra: str = "") -> Path:
    """Write where/fsapp.toml from {section: {key: value}} (nested dicts are sub-tables,
    Paths become strings) plus any raw TOML in `extra`; the one way tests make a config.
    The outbox spool defaults to where/spool, not fsapp's default var/spool under the
    working directory: that one is the repository's, shared by every in-process test
    (a row one test spooled was replayed, or dead-lettered with an ERROR line in another
    test's CLI output)."""
    store = sections.get("store")
    if "[store]" not in extra and (store is None or "spool" not in store):
        sections = {**sections, "store": {"spool": where / "spool", **(store or {})}}
    path = where / "fsapp.toml"
    path.write_text("\n".join(_toml_tables(sections)) + "\n" + extra, encoding="utf-8")
    return path


def line_sections(tmp_path: Path, sounds: Path = ROOT / "sounds", calendars: Path = ROOT / "calendars.yaml",
                  routing: Path = ROOT / "routing.yaml") -> dict:
    """A whole line's settings with every file fsapp writes kept under tmp_path."""
    return {
        "flows": {"dir": tmp_path / "flows", "control": tmp_path / "control.sock",
                  "recordings": tmp_path / "recordings", "calendars": calendars},
        "sounds": {"dir": sounds},
        "store": {"queries": ROOT / "queries"},
        "routing": {"config": routing},
        "campaign": {"dir": tmp_path / "campaigns"},
        "deploy": {"dir": tmp_path / "versions"},
    }


def sqlite_store(tmp_path: Path, **connections: Path) -> dict:
    """[store] with the repository's queries, a spool and SQLite connections (name=file)."""
    return {"queries": ROOT / "queries", "spool": tmp_path / "spool",
            "connections": {name: {"odbc": f"Driver={{SQLite3}};Database={db}"} for name, db in connections.items()}}


"""Render the settings reference of docs/configuration.md from fsapp.config.SCHEMA.

The tables in the doc sit between two markers and are generated, never hand-edited, so
the doc cannot drift from the code (tests/docs/test_configuration_doc.py compares them):

    python -m fsapp.config_doc                       # print the tables
    python -m fsapp.config_doc --check docs/configuration.md   # exit 1 if they differ
    python -m fsapp.config_doc --write docs/configuration.md   # regenerate them in place
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fsapp.config import SCHEMA, Setting

BEGIN = "<!-- BEGIN GENERATED SETTINGS (python -m fsapp.config_doc --write docs/configuration.md) -->"
END = "<!-- END GENERATED SETTINGS -->"


def env_name(section: str, key: str) -> str:
    return f"FSAPP_{section.upper()}_{key.upper()}"


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f'{_toml_key(k)} = {_toml_value(v)}' for k, v in value.items()) + " }"
    return repr(value)


def _toml_key(key: str) -> str:
    bare = key.replace("_", "").replace("-", "").isalnum() and key.isascii()
    return key if bare else _toml_value(key)


def _default(setting: Setting) -> str:
    if setting.default is None:
        return "(none: required)" if setting.secret else "(none)"
    # a table cell: | would end the cell
    return "`" + _toml_value(setting.default).replace("|", "\\|") + "`"


def _meaning(setting: Setting) -> str:
    text = setting.help
    if setting.choices:
        text += " One of: " + ", ".join(f"`{c}`" for c in setting.choices) + "."
    if setting.secret:
        text += " Secret: never printed."
    return text.replace("|", "\\|")


def _env(section: str, key: str, setting: Setting) -> str:
    if setting.type is dict:
        return "(file only)"  # fsapp.config.load skips env overrides of tables
    return f"`{env_name(section, key)}`"


def render_tables() -> str:
    """One markdown table per SCHEMA section, keys in SCHEMA order."""
    out: list[str] = []
    for section, settings in SCHEMA.items():
        out.append(f"### [{section}]")
        out.append("")
        out.append("| key | type | default | environment | meaning |")
        out.append("|---|---|---|---|---|")
        for key, setting in settings.items():
            out.append(f"| `{key}` | {setting.type.__name__} | {_default(setting)} | "
                       f"{_env(section, key, setting)} | {_meaning(setting)} |")
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def render_defaults_toml() -> str:
    """The embedded default configuration written out as a complete fsapp.toml."""
    out: list[str] = []
    for section, settings in SCHEMA.items():
        out.append(f"[{section}]")
        tables = []
        for key, setting in settings.items():
            if setting.default is None:
                out.append(f"# {key} = ...   (no default{': set ' + env_name(section, key) if setting.secret else ''})")
            elif isinstance(setting.default, dict):
                tables.append((key, setting.default))
            else:
                out.append(f"{key} = {_toml_value(setting.default)}")
        for key, table in tables:
            out.append("")
            if all(isinstance(v, dict) for v in table.values()):
                for name, sub in table.items():
                    out.append(f"[{section}.{key}.{_toml_key(name)}]")
                    out.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in sub.items())
            else:
                out.append(f"[{section}.{key}]")
                out.extend(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items())
        out.append("")
    return "\n".join(out).rstrip("\n") + "\n"


def generated_block(text: str, path: str = "docs/configuration.md") -> str:
    """The part of a doc between the markers; ValueError naming the file if absent."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"{path}: generated settings markers not found; the doc needs the lines\n"
                         f"{BEGIN}\n{END}")
    return text[start + len(BEGIN):end].strip("\n") + "\n"


def replace_block(text: str, path: str = "docs/configuration.md") -> str:
    generated_block(text, path)  # validates the markers
    start, end = text.find(BEGIN) + len(BEGIN), text.find(END)
    return text[:start] + "\n\n" + render_tables() + "\n" + text[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fsapp.config_doc", description=__doc__.split("\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--check", metavar="DOC", help="exit 1 if DOC's tables differ from SCHEMA")
    group.add_argument("--write", metavar="DOC", help="regenerate DOC's tables in place")
    group.add_argument("--defaults-toml", action="store_true", help="print the defaults as fsapp.toml")
    args = parser.parse_args(argv)
    if args.defaults_toml:
        sys.stdout.write(render_defaults_toml())
        return 0
    if not (args.check or args.write):
        sys.stdout.write(render_tables())
        return 0
    path = Path(args.check or args.write)
    text = path.read_text(encoding="utf-8")
    try:
        current = generated_block(text, str(path))
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    if args.write:
        path.write_text(replace_block(text, str(path)), encoding="utf-8")
        return 0
    if current != render_tables():
        print(f"{path}: settings tables differ from fsapp.config.SCHEMA; run "
              f"python -m fsapp.config_doc --write {path}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

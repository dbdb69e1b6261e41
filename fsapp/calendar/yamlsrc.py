"""YAML loading that remembers where each value came from, so a validation error can
name file:line ("calendars.yaml:12: weekly: 'mon-fry' is not a day").

Mappings load as `Located` dicts: `.line` is the mapping's own line and `.key_line(k)`
the line of one key. Sequences load as `LocatedList` with `.line` and `.item_line(i)`.
Routing reuses this for routing.yaml.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class SourceError(ValueError):
    """A configuration file is wrong; str() is 'file:line: what is wrong; what to do'."""

    def __init__(self, path: str | Path, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


class Located(dict):
    line: int = 0
    key_lines: dict

    def key_line(self, key: Any) -> int:
        return self.key_lines.get(key, self.line)


class LocatedList(list):
    line: int = 0
    item_lines: list

    def item_line(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


def _convert(node: yaml.Node, loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = Located()
        out.line, out.key_lines = node.start_mark.line + 1, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            out[key] = _convert(value_node, loader)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LocatedList(_convert(item, loader) for item in node.value)
        seq.line = node.start_mark.line + 1
        seq.item_lines = [item.start_mark.line + 1 for item in node.value]
        return seq
    return loader.construct_object(node, deep=True)


def load_located(path: str | Path) -> Any:
    """Parse a YAML file into Located/LocatedList/scalars; syntax errors become SourceError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(path, None, "file not found") from None
    return loads_located(text, path)


def loads_located(text: str, path: str | Path = "<string>") -> Any:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return Located()
        return _convert(node, loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise SourceError(path, mark.line + 1 if mark else None, f"YAML syntax: {exc.problem}") from None
    finally:
        loader.dispose()

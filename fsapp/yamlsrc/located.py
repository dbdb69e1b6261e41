"""YAML values that remember their line, for configuration files whose checks run on
plain Python values (calendars.yaml, routing.yaml): "calendars.yaml:12: weekly: 'mon-fry'
is not a day".

Mappings load as `Located` dicts: `.line` is the mapping's own line and `.key_line(k)`
the line of one key. Sequences load as `LocatedList` with `.line` and `.item_line(i)`.
Parsing is fsapp.yamlsrc.nodes.compose (no custom tags, no alias bombs); its errors get
the file attached.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from fsapp.yamlsrc.errors import SourceError
from fsapp.yamlsrc.nodes import compose, scalar


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


def _line(node: Node) -> int:
    return node.start_mark.line + 1


def _convert(node: Node) -> Any:
    if isinstance(node, MappingNode):
        out = Located()
        out.line, out.key_lines = _line(node), {}
        for key_node, value_node in node.value:
            key = _convert(key_node)
            out[key] = _convert(value_node)
            out.key_lines[key] = _line(key_node)
        return out
    if isinstance(node, SequenceNode):
        seq = LocatedList(_convert(item) for item in node.value)
        seq.line = _line(node)
        seq.item_lines = [_line(item) for item in node.value]
        return seq
    return scalar(node)


def load_located(path: str | Path) -> Any:
    """Parse a YAML file into Located/LocatedList/scalars; errors are SourceError."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError.in_file(path, None, "file not found") from None
    return loads_located(text, path)


def loads_located(text: str, path: str | Path = "<string>") -> Any:
    try:
        node = compose(text)
        return Located() if node is None else _convert(node)
    except SourceError as exc:  # a position in the text: name the file (lines only here)
        raise SourceError.in_file(path, exc.line, exc.message, exc.hint) from None
    except TypeError:  # a list or mapping used as a key
        raise SourceError.in_file(path, None, "a key must be a plain name, not a list or mapping") from None

"""YAML source with positions: PyYAML's compose API keeps a line/column mark on every
node, so every problem can be reported as file:line:col.

The composed node tree is converted by its reader (the flow compiler, the campaign
loader, the sound catalog, ...); this module only parses, rejects what no fsapp file
allows (duplicate keys, merge keys, custom tags, alias bombs) and turns plain values into
Python values.
"""
from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from fsapp.yamlsrc.errors import SourceError

try:  # libyaml is ~10x faster; the pure-Python parser gives the same marks
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on the PyYAML build
    _Loader = yaml.SafeLoader

# YAML values (mapping keys and values, list items, scalars) one flow file may hold, with
# aliases expanded: bounds validation's memory (about 1 KB a value while the YAML tree is
# held) and defuses alias bombs ("billion laughs"). A 1,000-node flow has about 12,000.
# Raised per deployment with [flows] max_yaml_values (Environment.max_yaml_values).
MAX_VALUES = 200_000


def _too_large(limit: int) -> str:
    return (f"file too large: more than {limit:,} YAML values (keys, values and list items; "
            f"limit [flows] max_yaml_values = {limit})")


_TOO_LARGE_HINT = ("split the flow into subflows (subflow: / return:), or raise [flows] "
                   "max_yaml_values (FSAPP_FLOWS_MAX_YAML_VALUES) if the file is meant to be this big")
_CONSTRUCTOR = SafeConstructor()
_SCALARS = {
    "tag:yaml.org,2002:str": lambda node: node.value,
    "tag:yaml.org,2002:null": lambda node: None,
    "tag:yaml.org,2002:bool": _CONSTRUCTOR.construct_yaml_bool,
    "tag:yaml.org,2002:int": _CONSTRUCTOR.construct_yaml_int,
    "tag:yaml.org,2002:float": _CONSTRUCTOR.construct_yaml_float,
    "tag:yaml.org,2002:timestamp": _CONSTRUCTOR.construct_yaml_timestamp,
}


def position(node: Node) -> tuple[int, int]:
    mark = node.start_mark
    return mark.line + 1, mark.column + 1


def compose(text: str, max_values: int = MAX_VALUES) -> Node | None:
    """Parse one YAML document into a node tree; SourceError on a syntax error, or when
    it holds more than max_values values (aliases expanded)."""
    try:
        if len(text) > 2 * max_values:  # every value takes 2 bytes or more: else cannot be over
            _count_values(text, max_values)
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        raise SourceError.at(line, col, f"YAML syntax: {message}",
                          "check indentation, quoting and that `#` and `:` in values are quoted") \
            from None
    except SourceError:  # a ValueError itself: the size check's, already placed
        raise
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # e.g. bad unicode in the reader
        raise SourceError.at(1, 1, f"YAML error: {exc}") from None
    if root is not None:
        check_tree(root, max_values)
    return root


def _count_values(text: str, max_values: int) -> None:
    """Refuse a file with too many values from the parser's event stream, before the
    node tree (the memory) is built."""
    count = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.ScalarEvent, yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            count += 1
            if count > max_values:
                mark = event.start_mark
                raise SourceError.at(mark.line + 1, mark.column + 1, _too_large(max_values),
                                  _TOO_LARGE_HINT)


_COLLECTION_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


def check_tree(root: Node, max_values: int = MAX_VALUES) -> None:
    """Refuse custom tags, aliases that contain themselves, alias bombs and files over the
    size limit, before anything walks the tree recursively. Linear in the values visited."""
    budget = max_values
    distinct: set[int] = set()  # nodes seen; a node seen again was reached through an alias
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, True)]
    while stack:
        node, entering = stack.pop()
        if not entering:
            on_path.discard(id(node))
            continue
        budget -= 1
        distinct.add(id(node))
        if budget < 0:
            line, col = position(node)
            expanded = max_values + 1 - len(distinct)
            if expanded:
                raise SourceError.at(line, col, f"aliases expand to more than {max_values:,} values "
                                  f"({len(distinct):,} written, {expanded:,} more through aliases; "
                                  f"limit [flows] max_yaml_values = {max_values})",
                                  "write the repeated parts out, or use a subflow")
            raise SourceError.at(line, col, _too_large(max_values), _TOO_LARGE_HINT)
        if id(node) in on_path:
            line, col = position(node)
            raise SourceError.at(line, col, "recursive alias: a value contains itself")
        if isinstance(node, ScalarNode):
            if node.tag == "tag:yaml.org,2002:merge":
                line, col = position(node)
                raise SourceError.at(line, col, "merge keys (<<) are not supported",
                                  "write the fields out, or use a subflow for shared steps")
            if node.tag not in _SCALARS:
                line, col = position(node)
                raise SourceError.at(line, col, f"unsupported YAML tag {node.tag!r}",
                                  "flow files use plain YAML values only")
            continue
        if node.tag not in _COLLECTION_TAGS:
            line, col = position(node)
            raise SourceError.at(line, col, f"unsupported YAML tag {node.tag!r}",
                              "flow files use plain YAML values only")
        on_path.add(id(node))
        stack.append((node, False))
        children = node.value if isinstance(node, SequenceNode) else \
            [child for pair in node.value for child in pair]
        stack.extend((child, True) for child in reversed(children))


def scalar(node: ScalarNode) -> Any:
    convert = _SCALARS.get(node.tag)
    if convert is None:
        line, col = position(node)
        raise SourceError.at(line, col, f"unsupported YAML tag {node.tag!r}",
                          "flow files use plain YAML values only")
    try:
        return convert(node)
    except (ConstructorError, ValueError, OverflowError) as exc:
        line, col = position(node)
        shown = repr(node.value) if len(node.value) <= 40 else \
            f"{node.value[:20]!r}... ({len(node.value)} characters)"
        # (not Python's own advice to call sys.set_int_max_str_digits())
        why = "too many digits" if "integer string conversion" in str(exc) else str(exc)
        raise SourceError.at(line, col, f"bad {node.tag.rsplit(':', 1)[-1]} value {shown}: {why}") \
            from None


def pairs(node: MappingNode, report=None) -> list[tuple[str, Node, Node]]:
    """(key, key node, value node) of a mapping; keys must be unique scalars.

    Without `report` the first bad key raises SourceError; with it, each bad key is passed
    to report(SourceError) and skipped, so the rest of the mapping is still checked.
    """
    seen: dict[str, Node] = {}
    out = []
    for key_node, value_node in node.value:
        line, col = position(key_node)
        if not isinstance(key_node, ScalarNode):
            error = SourceError.at(line, col, "a key must be a plain name, not a list or mapping")
        elif key_node.tag == "tag:yaml.org,2002:merge":
            error = SourceError.at(line, col, "merge keys (<<) are not supported",
                                "write the fields out, or use a subflow for shared steps")
        elif key_node.value in seen:
            first = position(seen[key_node.value])
            error = SourceError.at(line, col, f"duplicate key {key_node.value!r} (first at line {first[0]})",
                                "each key may appear once in a mapping")
        else:
            seen[key_node.value] = key_node
            out.append((key_node.value, key_node, value_node))
            continue
        if report is None:
            raise error
        report(error)
    return out


def plain(node: Node, path: tuple = ()) -> Any:
    """A node tree as Python values (lists, dicts, scalars), refusing cycles. Its size,
    aliases expanded, was bounded by check_tree when it was composed."""
    if any(node is seen for seen in path):
        line, col = position(node)
        raise SourceError.at(line, col, "recursive alias: a value contains itself")
    if isinstance(node, ScalarNode):
        return scalar(node)
    if isinstance(node, SequenceNode):
        return [plain(item, path + (node,)) for item in node.value]
    if isinstance(node, MappingNode):
        return {key: plain(value, path + (node,)) for key, _, value in pairs(node)}
    line, col = position(node)  # pragma: no cover - compose yields only these three
    raise SourceError.at(line, col, "unsupported YAML node")

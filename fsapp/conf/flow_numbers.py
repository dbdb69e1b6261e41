"""Which numbers each flow answers: the top-level `flow:` and `numbers:` keys of
ivr_flows/*.yaml.

Only these two keys are read, named by the flow language's spec (fsapp.flowspec FLOW_KEY,
NUMBERS_KEY, and flow_files for which files are flows), so this module stays independent
of the compiler (fsapp.flow owns the rest of the file). Parsing is fsapp.yamlsrc, the YAML layer every
file reader shares, so a bad number is reported as file:line, and a YAML syntax error is
yamlsrc's SourceError (file:line:col and a hint), not a ConfError.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from fsapp.yamlsrc import SourceError, compose

from fsapp.conf.errors import ConfError
from fsapp.flowspec import FLOW_KEY, NUMBERS_KEY, flow_files

# What a caller can dial and a FreeSWITCH destination_number can carry. Letters allow
# named destinations such as "operator"; anything else (spaces, regex syntax) is refused
# rather than escaped, because it is almost certainly a typo.
_NUMBER = re.compile(r"^\+?[0-9A-Za-z*#_-]{1,64}$")
_FLOW_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class FlowNumbers:
    name: str
    numbers: tuple[str, ...]
    file: str

    @property
    def expression(self) -> str:
        """The destination_number regex of the flow's dialplan extension."""
        alternatives = "|".join(re.escape(n) for n in self.numbers)
        return f"^({alternatives})$" if len(self.numbers) > 1 else f"^{alternatives}$"


def _top_level_nodes(path: Path, text: str) -> dict[str, yaml.Node]:
    try:
        root = compose(text)
    except SourceError as exc:  # not a ConfError: file:line:col and hint, as the flow validator reports it
        raise exc.placed(path) from None
    if root is None:
        return {}
    if not isinstance(root, yaml.MappingNode):
        raise ConfError(f"{path}:{root.start_mark.line + 1}: a flow file must be a mapping "
                        f"with top-level keys such as flow: and numbers:")
    return {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}


def _numbers(path: Path, node: yaml.Node) -> tuple[str, ...]:
    line = node.start_mark.line + 1
    items = node.value if isinstance(node, yaml.SequenceNode) else [node]
    if isinstance(node, yaml.MappingNode) or not items:
        raise ConfError(f"{path}:{line}: {NUMBERS_KEY}: must be a number or a list of numbers, "
                        f"e.g. numbers: [\"12345\", \"12345001\"]")
    numbers = []
    for item in items:
        item_line = item.start_mark.line + 1
        if not isinstance(item, yaml.ScalarNode) or not _NUMBER.match(item.value or ""):
            shown = item.value if isinstance(item, yaml.ScalarNode) else "a nested list/mapping"
            raise ConfError(f"{path}:{item_line}: {NUMBERS_KEY}: {shown!r} is not a dialable number "
                            f"(digits, optional leading +, * # _ - and letters only)")
        numbers.append(item.value)
    return tuple(numbers)


def read_flow_file(path: Path) -> FlowNumbers | None:
    """The flow's name and numbers, or None when the file declares no `flow:` (e.g. a
    flow test file kept beside the flows)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfError(f"{path}: cannot read: {exc}") from None
    nodes = _top_level_nodes(path, text)
    if FLOW_KEY not in nodes:
        return None
    name_node = nodes[FLOW_KEY]
    name = name_node.value if isinstance(name_node, yaml.ScalarNode) else None
    if not name or not _FLOW_NAME.match(name):
        raise ConfError(f"{path}:{name_node.start_mark.line + 1}: {FLOW_KEY}: must be a name of letters, "
                        f"digits, _ and - starting with a letter (it names the dialplan extension)")
    numbers = _numbers(path, nodes[NUMBERS_KEY]) if NUMBERS_KEY in nodes else ()
    return FlowNumbers(name=name, numbers=numbers, file=str(path))


def read_flow_numbers(flows_dir: str | Path) -> tuple[list[FlowNumbers], list[str]]:
    """All flows of a directory (sorted by file name) and notes about files skipped.

    A number claimed by two flows, or two files with the same flow name, is an error:
    FreeSWITCH would silently route the number to whichever extension comes first.
    """
    flows_dir = Path(flows_dir)
    if not flows_dir.is_dir():
        raise ConfError(f"{flows_dir}: flows directory not found; set [flows] dir in fsapp.toml "
                        f"or pass --flows DIR")
    flows: list[FlowNumbers] = []
    notes: list[str] = []
    owner_of_number: dict[str, FlowNumbers] = {}
    owner_of_name: dict[str, FlowNumbers] = {}
    paths = flow_files([flows_dir])  # the compiler's selection (fsapp.flowspec)
    for path in paths:
        flow = read_flow_file(path)
        if flow is None:
            notes.append(f"{path}: skipped, no top-level flow: key")
            continue
        if flow.name in owner_of_name:
            raise ConfError(f"{path}: flow name {flow.name!r} is also used by "
                            f"{owner_of_name[flow.name].file}; flow names must be unique")
        owner_of_name[flow.name] = flow
        if not flow.numbers:
            notes.append(f"{path}: flow {flow.name!r} has no numbers:, so no dialplan extension "
                         f"reaches it (fine for a sub-flow)")
        for number in flow.numbers:
            if number in owner_of_number:
                raise ConfError(f"{path}: number {number} of flow {flow.name!r} is already "
                                f"claimed by flow {owner_of_number[number].name!r} in "
                                f"{owner_of_number[number].file}")
            owner_of_number[number] = flow
        flows.append(flow)
    return flows, notes

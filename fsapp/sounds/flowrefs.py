"""Prompt names a flow file refers to, with line numbers, for `fsapp sounds check`.

This reads the YAML itself instead of compiling the flow, so a flow with other errors
still gets its prompts checked: every string under a prompt-carrying key (prompt,
invalid, play, ...: fsapp.flowspec.PROMPT_KEYS) that looks like a catalog name (hotline/main_menu) counts, in lists
too. Templated strings ({{ }}), absolute file paths, tone specs and say/text items are
not catalog names and are skipped.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from fsapp.yamlsrc import SourceError, compose

from fsapp import flowspec
from fsapp.sounds.catalog import NAME

# Keys whose values are prompts: exactly the prompt fields of the flow language's spec
# (fsapp.flowspec, a leaf package; fsapp.flow itself depends on sounds, not the reverse).
# A key the spec does not define (greeting, invalid_prompt, ... from other IVR scripts)
# is not read here: `fsapp validate` rejects it as an unknown field, naming the spec's
# prompt fields to use instead.
PROMPT_KEYS = flowspec.PROMPT_KEYS


@dataclass(frozen=True)
class PromptRef:
    name: str
    file: Path
    line: int


def prompt_refs(path: Path, keys: frozenset[str] = PROMPT_KEYS) -> tuple[list[PromptRef], list[str] | None]:
    """(references in file order, the flow's own `languages:` list if it declares one).

    A file that cannot be read or parsed raises yamlsrc's SourceError, as the flow
    validator reports it: file:line:col, message and hint."""
    try:
        root = compose(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SourceError.in_file(path, None, f"cannot read: {exc.strerror}") from None
    except SourceError as exc:
        raise exc.placed(path) from None
    refs: list[PromptRef] = []
    languages = None
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "languages" and isinstance(value, yaml.SequenceNode):
                languages = [item.value for item in value.value if isinstance(item, yaml.ScalarNode)]
    _walk(root, path, refs, keys, under_prompt_key=False)
    return refs, languages


def _walk(node, path: Path, refs: list[PromptRef], keys: frozenset[str], under_prompt_key: bool) -> None:
    if isinstance(node, yaml.ScalarNode):
        if under_prompt_key and NAME.match(node.value):
            refs.append(PromptRef(node.value, path, node.start_mark.line + 1))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _walk(item, path, refs, keys, under_prompt_key)
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            is_prompt_key = isinstance(key, yaml.ScalarNode) and key.value in keys
            _walk(value, path, refs, keys, is_prompt_key)

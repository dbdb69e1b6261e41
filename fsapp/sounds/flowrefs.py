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

# Keys whose values are prompts: the prompt fields of the flow language's spec
# (fsapp.flowspec, a leaf package; fsapp.flow itself depends on sounds, not the reverse),
# plus spellings the flow language does not have but flows being converted from other
# IVR scripts carry (invalid_prompt is FreeSWITCH play_and_get_digits' own name, greeting
# and greet_long/greet_short mod_ivr's). The compiler rejects those as unknown fields;
# sounds check still checks their prompts, so a half-converted flow loses no check.
FOREIGN_PROMPT_KEYS = frozenset({
    "prompts", "invalid_prompt", "no_input_prompt", "timeout_prompt", "confirm_prompt",
    "exit_prompt", "greeting", "greet_long", "greet_short", "invalid_sound", "exit_sound",
    "announce", "files", "beep",
})
PROMPT_KEYS = flowspec.PROMPT_KEYS | FOREIGN_PROMPT_KEYS


@dataclass(frozen=True)
class PromptRef:
    name: str
    file: Path
    line: int


class FlowReadError(ValueError):
    pass


def prompt_refs(path: Path, keys: frozenset[str] = PROMPT_KEYS) -> tuple[list[PromptRef], list[str] | None]:
    """(references in file order, the flow's own `languages:` list if it declares one)."""
    try:
        root = compose(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FlowReadError(f"{path}: cannot read: {exc.strerror}") from None
    except SourceError as exc:
        raise FlowReadError(f"{path}:{exc.line}: not valid YAML: {exc.message}") from None
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

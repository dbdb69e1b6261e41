"""The reference part of docs/flows.md, generated from fsapp.flowspec.

    .venv/bin/python -m fsapp.flow.docgen docs/flows.md     # rewrite the generated section

tests/flow/test_docs.py fails when the doc and the spec differ, so a field added to the
spec without regenerating the doc is caught.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from fsapp.flowspec.kinds import BUILTIN_VARS, FLOW_FIELDS, KINDS, PROMPT_ITEMS, Field

BEGIN = "<!-- BEGIN GENERATED from fsapp/flowspec/kinds.py: python -m fsapp.flow.docgen docs/flows.md -->"
END = "<!-- END GENERATED -->"


def _default(f: Field) -> str:
    if f.required:
        return "**required**"
    if f.default in (None, (), {}, ""):
        return ""
    if isinstance(f.default, bool):
        return "true" if f.default else "false"
    if f.type == "duration":
        return f"{f.default:g}s"
    return f"`{f.default}`"


def _type(f: Field) -> str:
    if f.type == "choice":
        return "one of " + ", ".join(f"`{c}`" for c in f.choices)
    if f.type == "ref":
        return f"{f.ref} name"
    text = f.type
    if f.min is not None or f.max is not None:
        text += f" ({f.min:g}..{f.max:g})"
    return text


def field_rows(fields, prefix: str = "") -> list[str]:
    rows = []
    for f in fields:
        rows.append(f"| `{prefix}{f.name}` | {_type(f)} | {_default(f)} | {f.help.replace('|', '/')} |")
        if f.type == "struct":
            rows.extend(field_rows(f.fields, prefix=f"{prefix}{f.name}."))
    return rows


def kind_section(name: str) -> str:
    kind = KINDS[name]
    traits = []
    if kind.primary:
        traits.append(f"shorthand: `{name}: <{kind.primary}>`")
    if kind.waits:
        traits.append("waits for the caller")
    if kind.ends:
        traits.append("can end the call")
    if kind.after_hangup:
        traits.append("allowed in on_hangup")
    lines = [f"### {name}", "", kind.help, ""]
    if traits:
        lines += ["*" + "; ".join(traits) + "*", ""]
    if kind.fields:
        lines += ["| field | type | default | meaning |", "|---|---|---|---|", *field_rows(kind.fields), ""]
    else:
        lines += ["No fields: write `" + name + ": {}`.", ""]
    return "\n".join(lines)


def reference() -> str:
    parts = [BEGIN, "", "### Top-level keys", "", "| key | type | default | meaning |", "|---|---|---|---|",
             *field_rows(FLOW_FIELDS), "", "### Prompt items", "", "| item | meaning |", "|---|---|",
             *(f"| `{k}` | {v} |" for k, v in PROMPT_ITEMS.items()), "", "### Built-in variables", "",
             "| name | meaning |", "|---|---|", *(f"| `{k}` | {v} |" for k, v in BUILTIN_VARS.items()), ""]
    parts += [kind_section(name) for name in KINDS]
    parts.append(END)
    return "\n".join(parts)


def current(doc: str) -> str | None:
    match = re.search(re.escape(BEGIN) + r".*?" + re.escape(END), doc, re.S)
    return match.group(0) if match else None


def rewrite(path: Path) -> bool:
    doc = path.read_text(encoding="utf-8")
    old = current(doc)
    if old is None:
        raise SystemExit(f"{path}: no generated section ({BEGIN!r} ... {END!r})")
    new_doc = doc.replace(old, reference())
    if new_doc != doc:
        path.write_text(new_doc, encoding="utf-8")
        return True
    return False


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["docs/flows.md"]:
        print(f"{arg}: {'updated' if rewrite(Path(arg)) else 'up to date'}")

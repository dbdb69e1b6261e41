"""What changed between two versions of the line, in the operator's words: flows added,
changed (which nodes) or removed, numbers, queues, prompts, campaigns, named queries,
and the files.

Pure: works on {logical path: bytes} maps (line.py names them flows/..., routing.yaml,
calendars.yaml, sounds/catalog.yaml, campaigns/..., queries/...). The files were validated when they
were deployed; a file that does not parse here is still reported as a changed file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping

from fsapp.yamlsrc import SourceError, compose, plain


@dataclass
class Changes:
    added: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    removed: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


@dataclass
class Diff:
    files: Changes
    flows: Changes
    nodes: dict            # flow name -> Changes of its node names (flows in both sides)
    numbers: Changes       # "NUMBER -> flow"
    queues: Changes
    prompts: Changes
    campaigns: Changes
    queries: Changes = field(default_factory=Changes)    # "FILE.NAME" of queries/FILE.sql

    @property
    def empty(self) -> bool:
        return not self.files

    def lines(self) -> list[str]:
        if self.empty:
            return ["no changes"]
        out = []
        for title, ch in (("flows", self.flows), ("numbers", self.numbers), ("queues", self.queues),
                          ("prompts", self.prompts), ("campaigns", self.campaigns), ("queries", self.queries),
                          ("files", self.files)):
            for mark, names in (("+", ch.added), ("~", ch.changed), ("-", ch.removed)):
                for name in names:
                    extra = ""
                    if title == "flows" and mark == "~" and self.nodes.get(name):
                        n = self.nodes[name]
                        parts = [f"{label} {', '.join(v)}" for label, v in
                                 (("nodes added:", n.added), ("nodes changed:", n.changed),
                                  ("nodes removed:", n.removed)) if v]
                        extra = f" ({'; '.join(parts)})"
                    out.append(f"{title:<9} {mark} {name}{extra}")
        return out


def _yaml(content: bytes):
    """The file as plain values, read by fsapp.yamlsrc as every fsapp file is: what the
    validator refuses (duplicate keys, merge keys, custom tags, alias bombs) does not
    parse here either."""
    try:
        root = compose(content.decode("utf-8"))
        doc = plain(root) if root is not None else None
    except (SourceError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _flows(files: Mapping[str, bytes]) -> dict:
    """flow name -> its parsed document, for flow files (not X.test.yaml)."""
    found = {}
    for name, content in files.items():
        if name.startswith("flows/") and name.endswith(".yaml") and not name.endswith(".test.yaml"):
            doc = _yaml(content)
            if doc and isinstance(doc.get("flow"), str):
                found[doc["flow"]] = doc
    return found


def _section(files: Mapping[str, bytes], path: str, key: str) -> dict:
    doc = _yaml(files[path]) if path in files else None
    value = (doc or {}).get(key)
    return value if isinstance(value, dict) else {}


def _campaigns(files: Mapping[str, bytes]) -> dict:
    found = {}
    for name, content in files.items():
        if name.startswith("campaigns/") and name.endswith(".yaml"):
            doc = _yaml(content)
            if doc and isinstance(doc.get("campaign"), dict):
                found[str(doc["campaign"].get("name", name))] = doc
            elif doc and isinstance(doc.get("campaign"), str):
                found[doc["campaign"]] = doc
    return found


_NAME = re.compile(r"^\s*--\s*name\s*:\s*(\S+)\s*$", re.MULTILINE)


def _queries(files: Mapping[str, bytes]) -> dict:
    """FILE.NAME -> the text of that query (its headers and SQL), for queries/FILE.sql:
    the names fsapp.store.queries gives them. A change in a query's comment counts."""
    found = {}
    for name, content in files.items():
        if not (name.startswith("queries/") and name.endswith(".sql")):
            continue
        text = content.decode("utf-8", "replace")
        stem = name[len("queries/"):-len(".sql")]
        starts = list(_NAME.finditer(text))
        for i, m in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
            found[f"{stem}.{m.group(1)}"] = text[m.end():end].strip()
    return found


def _compare(old: Mapping, new: Mapping) -> Changes:
    return Changes(added=sorted(set(new) - set(old)),
                   changed=sorted(k for k in set(old) & set(new) if old[k] != new[k]),
                   removed=sorted(set(old) - set(new)))


def _numbers(flows: dict) -> dict:
    return {f"{number} -> {name}": True for name, doc in flows.items()
            for number in (doc.get("numbers") or []) if isinstance(number, (str, int))}


def diff(old: Mapping[str, bytes], new: Mapping[str, bytes]) -> Diff:
    old_flows, new_flows = _flows(old), _flows(new)
    flows = _compare(old_flows, new_flows)
    nodes = {name: _compare(old_flows[name].get("nodes") or {}, new_flows[name].get("nodes") or {})
             for name in flows.changed
             if isinstance(old_flows[name].get("nodes"), dict) and isinstance(new_flows[name].get("nodes"), dict)}
    return Diff(files=_compare(old, new), flows=flows, nodes=nodes,
                numbers=_compare(_numbers(old_flows), _numbers(new_flows)),
                queues=_compare(_section(old, "routing.yaml", "queues"), _section(new, "routing.yaml", "queues")),
                prompts=_compare(_section(old, "sounds/catalog.yaml", "prompts"),
                                 _section(new, "sounds/catalog.yaml", "prompts")),
                campaigns=_compare(_campaigns(old), _campaigns(new)),
                queries=_compare(_queries(old), _queries(new)))

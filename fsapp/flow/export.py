"""The compiled model as plain JSON data: for `fsapp compile --target json`, for tools
(graph drawing, native XML) and for comparing versions."""
from __future__ import annotations

from typing import Any

from fsapp.flow.model import Flow, Node, thaw


def _jsonable(value: Any) -> Any:
    value = thaw(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)  # dates and times from YAML


def node_json(node: Node) -> dict:
    return {"kind": node.kind, "line": node.line, "args": _jsonable(node.args),
            "edges": [{"label": e.label, "target": e.target} for e in node.edges],
            "sets": sorted(node.sets), "uses": sorted(node.uses)}


def to_json(flow: Flow) -> dict:
    return {"flow": flow.name, "version": flow.version, "path": flow.path,
            "numbers": list(flow.numbers), "languages": list(flow.languages), "start": flow.start,
            "vars": _jsonable(flow.vars), "inputs": list(flow.inputs), "outputs": list(flow.outputs),
            "nodes": {name: node_json(n) for name, n in flow.nodes.items()},
            "on_hangup": [node_json(n) for n in flow.on_hangup]}

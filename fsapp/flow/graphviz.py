"""Draw a compiled flow with graphviz: one box per node, shaped and coloured by kind, one
arrow per edge, labelled with the key, mode or condition that takes it.

to_dot() writes DOT text itself (no Python graphviz binding needed); render() runs the
`dot` program (Debian package graphviz) with a deadline to make SVG, PNG or PDF.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from fsapp.flow.model import Edge, Flow, Node

# kind -> (shape, fill colour). Waiting-for-the-caller kinds are blue-ish, data kinds grey,
# decisions orange, ends red/green, so a tree reads at a glance.
KIND_STYLE: dict[str, tuple[str, str]] = {
    "menu": ("box", "#cfe2ff"),
    "collect": ("parallelogram", "#b6d4fe"),
    "record": ("tab", "#9ec5fe"),
    "play": ("note", "#fff3cd"),
    "say": ("note", "#ffe69c"),
    "sql": ("cylinder", "#e2e3e5"),
    "write": ("cylinder", "#d3d3f5"),
    "set": ("box", "#ffffff"),
    "branch": ("diamond", "#ffd8a8"),
    "schedule": ("octagon", "#ffec99"),
    "goto": ("cds", "#f8f9fa"),
    "subflow": ("component", "#d3f9d8"),
    "return": ("invhouse", "#d3f9d8"),
    "queue": ("hexagon", "#fcc2d7"),
    "transfer": ("house", "#b2f2bb"),
    "hangup": ("doubleoctagon", "#ffa8a8"),
}
UNKNOWN_STYLE = ("box", "#ffffff")
# Edges that leave on trouble are drawn dashed red.
FAILURE_LABELS = {"on_fail", "on_error", "on_overflow", "on_timeout", "on_discard"}
FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
DOT_TIMEOUT_S = 60.0


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _short(text: str, limit: int = 40) -> str:
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail(node: Node) -> str:
    """One line under the node's name that says what it does."""
    args = node.args
    if node.kind in ("play", "menu", "collect") and args.get("prompt"):
        first = args["prompt"][0]
        return _short(next(iter(first.values())) if isinstance(first, dict) else first)
    for key in {"sql": "query", "subflow": "flow", "queue": "queue", "schedule": "calendar",
                "say": "type", "hangup": "cause", "write": "kind"}.get(node.kind, "").split():
        if args.get(key):
            return _short(args[key])
    if node.kind == "transfer":
        for key in ("extension", "number", "flow"):
            if args.get(key):
                return f"{key} {_short(args[key])}"
    if node.kind == "set" and args.get("vars"):
        return _short(", ".join(args["vars"]))
    return ""


def edge_label(node: Node, edge: Edge) -> str:
    """Key for menu options, mode for schedules, the condition for branch cases."""
    label = edge.label
    if label.startswith("options."):
        return label[len("options."):]
    if label.startswith("modes."):
        return label[len("modes."):]
    match = re.fullmatch(r"cases\[(\d+)\]", label)
    if match:
        cases = node.args.get("cases") or ()
        i = int(match.group(1))
        when = cases[i].get("when") if i < len(cases) else None
        return f"if {_short(when)}" if when is not None else label
    return {"on_fail": "fail", "on_error": "error", "on_overflow": "overflow",
            "on_timeout": "timeout", "on_callback": "callback", "on_discard": "discard",
            "target": "", "next": ""}.get(label, label)


def _node_line(name: str, node: Node, node_id: str) -> str:
    shape, color = KIND_STYLE.get(node.kind, UNKNOWN_STYLE)
    detail = _detail(node)
    label = f"{name}\n[{node.kind}]" + (f"\n{detail}" if detail else "")
    return (f"  {node_id} [label={_q(label)}, shape={shape}, style=filled, "
            f"fillcolor={_q(color)}, tooltip={_q(f'{node.kind} at line {node.line}')}];")


def to_dot(compiled_flow: Flow) -> str:
    """DOT text of the flow: every node, every edge, a start marker, on_hangup steps."""
    flow = compiled_flow
    ids = {name: _q(name) for name in flow.nodes}
    lines = [f"digraph {_q(flow.name)} {{",
             f"  label={_q(f'{flow.name} (version {flow.version})')}; labelloc=t;",
             '  rankdir=LR; node [fontname="Helvetica", fontsize=11]; '
             'edge [fontname="Helvetica", fontsize=10];',
             '  "__start__" [label="start", shape=circle, style=filled, fillcolor="#212529", '
             'fontcolor=white, width=0.4];']
    for name, node in flow.nodes.items():
        lines.append(_node_line(name, node, ids[name]))
    lines.append(f'  "__start__" -> {ids[flow.start]};')
    for name, node in flow.nodes.items():
        for edge in node.edges:
            attrs = [f"label={_q(edge_label(node, edge))}"]
            if edge.label in FAILURE_LABELS:
                attrs += ["style=dashed", 'color="#c92a2a"', 'fontcolor="#c92a2a"']
            target = ids.get(edge.target, _q(edge.target))
            lines.append(f"  {ids[name]} -> {target} [{', '.join(attrs)}];")
    if flow.on_hangup:
        lines.append('  subgraph "cluster_on_hangup" {')
        lines.append('    label="on hangup"; style=dashed; color="#868e96";')
        step_ids = [_q(f"__on_hangup_{i}") for i in range(len(flow.on_hangup))]
        for step_id, step in zip(step_ids, flow.on_hangup):
            lines.append("  " + _node_line(f"step {step.name}", step, step_id))
        for a, b in zip(step_ids, step_ids[1:]):
            lines.append(f"    {a} -> {b};")
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


class GraphError(RuntimeError):
    pass


def render(compiled_flow: Flow, out_path: str | Path, timeout: float = DOT_TIMEOUT_S) -> Path:
    """Write the graph; the format follows the suffix (.svg, .png, .pdf, or .dot for DOT text)."""
    out_path = Path(out_path)
    dot_text = to_dot(compiled_flow)
    if out_path.suffix == ".dot":
        out_path.write_text(dot_text, encoding="utf-8")
        return out_path
    fmt = FORMATS.get(out_path.suffix.lower())
    if fmt is None:
        raise GraphError(f"{out_path}: unknown format {out_path.suffix!r}; use "
                         f"{', '.join([*FORMATS, '.dot'])}")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphError("graphviz's `dot` is not installed (apt-get install graphviz); "
                         "or write DOT text with -o flow.dot")
    try:
        proc = subprocess.run([dot, f"-T{fmt}", "-o", str(out_path)], input=dot_text.encode("utf-8"),
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GraphError(f"dot did not finish within {timeout:.0f} s drawing {compiled_flow.name}") from None
    if proc.returncode != 0:
        raise GraphError(f"dot failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")
    return out_path


draw = render  # the name fsapp.cli.flows calls

"""Graph checks of a compiled flow: targets, reachability, ends, loops, variables, prompts,
references; and the checks that span flows (numbers, subflow signatures).

Graph-wide checks need every edge. Nodes that failed to compile, or lost a target field,
are "opaque": their edges are unknown, so variable checks wait until they are fixed, and
traps are only reported where no opaque node could offer a way out. Unreachable nodes are
reported at once, with the other problems, where they are certain: reachability then
lets an opaque node lead to every node its YAML names, and an undefined target to the
nodes it may be a typo of (a typo is not echoed as a cascade of false reports).
"""
from __future__ import annotations

import difflib
from typing import TYPE_CHECKING

from fsapp.flow.model import Flow, FlowSet, Problem
from fsapp.flowspec import BUILTIN_VARS, KINDS

if TYPE_CHECKING:  # pragma: no cover
    from fsapp.flow.compiler import FlowCompiler

_GRAPH_TYPES = ("target", "options", "cases", "modes")


def check(c: "FlowCompiler", flow: Flow, name_nodes: dict, start_edge, bodies: dict | None = None) -> None:
    targets_ok = _targets_defined(c, flow, name_nodes, start_edge)
    _check_prompts_and_refs(c, flow)
    if flow.start not in name_nodes:
        return
    # Nodes that failed to compile (or lost a target field) have unknown edges: treat them
    # as possibly leading anywhere and possibly ending, so they cause no false reports.
    opaque = {n for n in name_nodes if n not in flow.nodes} | _broken_target_nodes(flow)
    reached = _reachable(flow, opaque)
    maybe_reached = reached if targets_ok and not opaque & reached else \
        _reachable_at_most(flow, name_nodes, opaque, bodies or {})
    for name in flow.nodes:
        if name not in maybe_reached:
            c.problem(name_nodes[name], f"node {name!r} is never reached from start {flow.start!r}",
                      "point a next/option/case at it, or delete it")
    # past an opaque node anything may be reached: check every node for traps then
    scope = set(flow.nodes) if opaque & reached or not targets_ok else reached
    _check_traps(c, flow, scope, name_nodes, opaque)
    if targets_ok and not opaque:
        _check_variables(c, flow, reached)


def _targets_defined(c, flow: Flow, name_nodes: dict, start_edge) -> bool:
    ok = True
    checks = [(("flow", "start"), start_edge)] if start_edge else []
    for key, facts in c._facts.items():
        checks.extend(((key, edge.label), (edge, where)) for edge, where in facts.edges)
    for (owner, label), (edge, where) in checks:
        if edge.target not in name_nodes:
            ok = False
            close = difflib.get_close_matches(edge.target, list(name_nodes), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}?" if close else \
                f"define a node named {edge.target!r} under nodes:"
            owner_text = "flow" if owner == "flow" else (
                f"on_hangup step {owner.split(':')[1]}" if owner.startswith("on_hangup:") else f"node {owner!r}")
            c.problem(where, f"{owner_text}: {label}: undefined node {edge.target!r}", hint)
    return ok


def _broken_target_nodes(flow: Flow) -> set[str]:
    from fsapp.flow.compiler import _BROKEN
    return {node.name for node in flow.nodes.values()
            if any(f.type in _GRAPH_TYPES and node.args.get(f.name) is _BROKEN
                   for f in KINDS[node.kind].fields)}


def _successors(flow: Flow) -> dict[str, list[str]]:
    return {name: [e.target for e in node.edges if e.target in flow.nodes]
            for name, node in flow.nodes.items()}


def _reachable(flow: Flow, opaque: set[str] = frozenset()) -> set[str]:
    succ = _successors(flow)
    seen = {flow.start}
    stack = [flow.start]
    while stack:
        for nxt in succ.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _reachable_at_most(flow: Flow, name_nodes: dict, opaque: set[str], bodies: dict) -> set[str]:
    """Every node the flow might reach once its errors are fixed: an opaque node may lead to
    any node its YAML names, an undefined target to the nodes it is close to (a typo)."""
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode
    names = list(name_nodes)

    def maybe(target: str) -> list[str]:  # the node, or the nodes a typo may mean
        return [target] if target in name_nodes else \
            difflib.get_close_matches(target, names, n=3, cutoff=0.6)

    def named_in(body) -> list[str]:
        found, stack = [], [body]
        while stack:
            node = stack.pop()
            if isinstance(node, ScalarNode):
                found.extend(maybe(node.value))
            elif isinstance(node, SequenceNode):
                stack.extend(node.value)
            elif isinstance(node, MappingNode):
                stack.extend(child for pair in node.value for child in pair)
        return found

    succ: dict[str, list[str]] = {}
    for name in name_nodes:
        if name in opaque or name not in flow.nodes:
            succ[name] = named_in(bodies[name]) if name in bodies else names
            continue
        succ[name] = [n for edge in flow.nodes[name].edges for n in maybe(edge.target)]
    seen, stack = {flow.start}, [flow.start]
    while stack:
        for nxt in succ.get(stack.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _sccs(nodes: list[str], succ: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, iterative (flows can be deep)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(succ[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(component)
    return out


def _check_traps(c, flow: Flow, reached: set[str], name_nodes: dict, opaque: set[str]) -> None:
    """Every reached node must be able to reach an end (hangup, transfer, queue, return).

    Nodes that cannot fall into "sink" components: groups of nodes with no edge leaving
    them. One problem per sink: a loop without caller input (it would spin forever) or a
    trap the caller can never leave.
    """
    succ = _successors(flow)
    can_end = {n for n in reached if n in opaque or KINDS[flow.nodes[n].kind].ends}
    for name, node in flow.nodes.items():  # an edge into a node that failed to compile: unknown
        if any(e.target not in flow.nodes for e in node.edges):
            can_end.add(name)
    preds: dict[str, list[str]] = {n: [] for n in flow.nodes}
    for n, targets in succ.items():
        for t in targets:
            preds[t].append(n)
    stack = list(can_end)
    while stack:
        for p in preds[stack.pop()]:
            if p not in can_end:
                can_end.add(p)
                stack.append(p)
    stuck = [n for n in flow.nodes if n in reached and n not in can_end]
    if not stuck:
        return
    stuck_set = set(stuck)
    sub = {n: [t for t in succ[n] if t in stuck_set] for n in stuck}
    for component in _sccs(stuck, sub):
        members = set(component)
        if any(t not in members for n in component for t in sub[n]):
            continue  # not a sink: it flows into another stuck component, reported there
        order = [n for n in flow.nodes if n in members]  # file order reads naturally
        first = order[0]
        cycle = " -> ".join(order + [first])
        if not any(KINDS[flow.nodes[n].kind].waits for n in order):
            c.problem(name_nodes[first], f"loop without caller input or exit: {cycle}",
                      "this repeats forever; add a menu/collect to the loop or a branch that leaves it")
        else:
            c.problem(name_nodes[first], f"dead end: from {', '.join(repr(n) for n in order)} no path "
                      "reaches a hangup, transfer, queue or return",
                      "give one of these nodes a way out, e.g. a menu's on_fail: goodbye")


def _check_variables(c, flow: Flow, reached: set[str]) -> None:
    """A variable read by a node must be set on at least one path from start to it.

    A forward "may be set" data-flow analysis; variable sets are int bitmasks so a
    1,000-node flow with hundreds of variables stays fast.
    """
    bit: dict[str, int] = {}

    def mask(names) -> int:
        m = 0
        for name in names:
            m |= 1 << bit.setdefault(name, len(bit))
        return m

    base_names = frozenset(BUILTIN_VARS) | frozenset(flow.vars) | frozenset(flow.inputs)
    base = mask(base_names)
    sets = {name: mask(node.sets) for name, node in flow.nodes.items()}
    # Round-robin over the nodes in reverse postorder until nothing changes: a node's
    # predecessors come first except along back edges, so a flow's loops settle in a few
    # rounds (a LIFO worklist re-visited long chains once per loop: 10k nodes took 15 s).
    order = _reverse_postorder(flow)
    avail: dict[str, int] = {flow.start: base}
    changed = True
    while changed:
        changed = False
        for name in order:
            here = avail.get(name)
            if here is None:
                continue
            node = flow.nodes[name]
            assigned = here | sets[name]
            for edge in node.edges:
                if edge.target not in flow.nodes:
                    continue
                out = assigned if edge.assigns else here
                before = avail.get(edge.target)
                if before is None or out & ~before:
                    avail[edge.target] = out if before is None else before | out
                    changed = True
    everything = set(base_names)
    for name in reached:
        node = flow.nodes[name]
        everything |= node.sets
        here = avail.get(name, base)
        for var in sorted(node.uses):
            if var in bit and here >> bit[var] & 1:
                continue
            where = c._facts[name].uses[var]
            c.problem(where, f"node {name!r}: variable {var!r} is used before any path sets it",
                      _var_hint(var, flow))
    for i, step in enumerate(flow.on_hangup):
        for var in sorted(step.uses - everything):
            where = c._facts[f"on_hangup:{i + 1}"].uses[var]
            c.problem(where, f"on_hangup step {i + 1}: variable {var!r} is never set",
                      _var_hint(var, flow))
        everything |= step.sets
    for var in flow.outputs:
        if var not in everything:
            c.problem((1, 1), f"outputs: {var!r} is never set", "set it before the subflow returns")


def _reverse_postorder(flow: Flow) -> list[str]:
    """Nodes reachable from start, each after its predecessors except along back edges
    (iterative: a 100,000-node chain must not hit the recursion limit)."""
    post: list[str] = []
    seen = {flow.start}
    stack = [(flow.start, iter(flow.nodes[flow.start].edges))] if flow.start in flow.nodes else []
    while stack:
        name, edges = stack[-1]
        for edge in edges:
            target = edge.target
            if target in flow.nodes and target not in seen:
                seen.add(target)
                stack.append((target, iter(flow.nodes[target].edges)))
                break
        else:
            stack.pop()
            post.append(name)
    post.reverse()
    return post


def _var_hint(var: str, flow: Flow) -> str:
    return (f"set it on every path before this node (collect/sql/set into: {var}), or give it an "
            f"initial value under vars:")


def _check_prompts_and_refs(c, flow: Flow) -> None:
    env = c.env
    for key, facts in c._facts.items():
        if env.has_prompt is not None:
            for name, where in facts.prompts:
                missing = [lang for lang in flow.languages if not env.has_prompt(name, lang)]
                if missing:
                    c.problem(where, f"prompt {name!r} is missing for {', '.join(missing)}",
                              "add it to the prompt catalog (sounds/catalog.yaml) with a text for "
                              "every language of the flow, then `fsapp sounds build`")
        if not env.tts:
            for where in facts.tts:
                c.problem(where, "text prompt needs TTS, which is not configured",
                          "set [flows] tts (espeak-ng, or a FreeSWITCH engine|voice), or record a prompt")
        for kind, name, where in facts.refs:
            known = {"query": env.queries, "queue": env.queues, "calendar": env.calendars}.get(kind)
            if known is not None and name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
                c.problem(where, f"unknown {kind} {name!r}",
                          (f"did you mean {close[0]!r}? " if close else "") +
                          f"known: {', '.join(sorted(known)[:12]) or 'none'}")


def check_across(result: FlowSet) -> None:
    """Checks between flows of one directory: shared numbers, subflow and transfer targets."""
    owner: dict[str, Flow] = {}
    for flow in result.flows.values():
        for number in flow.numbers:
            if number in owner:
                result.problems.append(Problem(flow.path, 1, 1, f"number {number} is also answered "
                                               f"by flow {owner[number].name!r} ({owner[number].path})",
                                               "a number belongs to one flow"))
            else:
                owner[number] = flow
    for flow in result.flows.values():
        for node in flow.nodes.values():
            target = node.args.get("flow") if node.kind in ("subflow", "transfer") else None
            if not isinstance(target, str):
                continue
            callee = result.flows.get(target)
            at = (flow.path, node.line, node.col)
            if callee is None:
                close = difflib.get_close_matches(target, list(result.flows), n=1, cutoff=0.6)
                result.problems.append(Problem(*at, f"node {node.name!r}: unknown flow {target!r}",
                                               (f"did you mean {close[0]!r}? " if close else "")
                                               + "flows are looked up among the files validated together"))
                continue
            if node.kind != "subflow":
                continue
            args = set(node.args.get("args") or ())
            for missing in sorted(set(callee.inputs) - args):
                result.problems.append(Problem(*at, f"node {node.name!r}: subflow {target!r} needs "
                                               f"input {missing!r}", f"add args: {{{missing}: ...}}"))
            for extra in sorted(args - set(callee.inputs)):
                result.problems.append(Problem(*at, f"node {node.name!r}: subflow {target!r} has no "
                                               f"input {extra!r}", f"its inputs: {', '.join(callee.inputs) or 'none'}"))
            for var, output in (node.args.get("returns") or {}).items():
                if output not in callee.outputs:
                    result.problems.append(Problem(*at, f"node {node.name!r}: subflow {target!r} has "
                                                   f"no output {output!r}",
                                                   f"its outputs: {', '.join(callee.outputs) or 'none'}"))

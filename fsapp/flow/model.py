"""The compiled flow: an immutable, versioned graph.

A running call holds a reference to the Flow it started with; reloading flows builds new
Flow objects and never mutates old ones, so live calls keep their version.
"""
from __future__ import annotations

from collections import abc
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping


@dataclass(frozen=True, order=True)
class Problem:
    """One validation finding, printed as `file:line:col: message` plus a hint."""
    file: str
    line: int
    col: int
    message: str
    hint: str = ""

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.col}: {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


@dataclass(frozen=True)
class Edge:
    label: str      # the field that names the target, e.g. "next", "on_fail", "options.1"
    target: str
    assigns: bool   # the node's own variable assignments hold along this edge


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    args: Mapping[str, Any]   # field values after defaults and conversion
    edges: tuple[Edge, ...]
    line: int
    col: int
    sets: frozenset[str] = frozenset()
    uses: frozenset[str] = frozenset()

    def target(self, label: str) -> str | None:
        for edge in self.edges:
            if edge.label == label:
                return edge.target
        return None


@dataclass(frozen=True)
class Flow:
    name: str
    version: str                   # content hash of the source: calls keep the version they began
    path: str
    numbers: tuple[str, ...]
    languages: tuple[str, ...]
    start: str
    vars: Mapping[str, Any]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    nodes: Mapping[str, Node]
    on_hangup: tuple[Node, ...] = ()
    description: str = ""

    @property
    def edges(self) -> list[tuple[str, Edge]]:
        return [(node.name, edge) for node in self.nodes.values() for edge in node.edges]


def freeze(value: Any) -> Any:
    """Deep-freeze converted YAML values so a compiled Flow cannot be changed by a call."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """A mutable deep copy of a frozen value (initial variables of a new call)."""
    # collections.abc's Mapping: isinstance() with typing's alias goes through its
    # Python-level __instancecheck__ (every call thaws its flow's variables)
    if isinstance(value, abc.Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


@dataclass
class FlowSet:
    """Flows loaded from a directory, with every problem found across them."""
    flows: dict[str, Flow] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def by_number(self) -> dict[str, Flow]:
        return {number: flow for flow in self.flows.values() for number in flow.numbers}

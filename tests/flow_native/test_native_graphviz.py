"""Flow graphs: every node and every edge drawn, kinds told apart, edges labelled."""
from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from fsapp.flow import graphviz
from fsapp.flow.graphviz import GraphError, edge_label, render, to_dot

NODE_LINE = re.compile(r'^\s*"([^"]+)" \[label="([^"]*)", shape=(\w+), style=filled, fillcolor="([^"]+)"', re.M)
EDGE_LINE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)"(?: \[label="((?:[^"\\]|\\.)*)")?', re.M)


def test_every_node_is_drawn_with_its_kind_style(hotline):
    dot = to_dot(hotline)
    drawn = {m.group(1): m for m in NODE_LINE.finditer(dot)}
    assert set(hotline.nodes) <= set(drawn)
    for name, node in hotline.nodes.items():
        shape, color = graphviz.KIND_STYLE[node.kind]
        assert drawn[name].group(3) == shape and drawn[name].group(4) == color
        assert f"[{node.kind}]" in drawn[name].group(2)


def test_kinds_look_different():
    assert len(set(graphviz.KIND_STYLE.values())) == len(graphviz.KIND_STYLE)
    from fsapp.flowspec import KINDS
    assert set(KINDS) <= set(graphviz.KIND_STYLE)  # a new kind must get a style


def test_every_edge_is_drawn_and_labelled(hotline):
    dot = to_dot(hotline)
    drawn = [(m.group(1), m.group(2), m.group(3)) for m in EDGE_LINE.finditer(dot)]
    expected = [(name, e.target, edge_label(hotline.nodes[name], e)) for name, e in hotline.edges]
    assert sorted(d for d in drawn if d[0] != "__start__") == sorted(expected)
    assert ("__start__", "welcome", None) in drawn
    labels = {(a, b): label for a, b, label in drawn}
    assert labels[("main", "info")] == "1" and labels[("main", "agent")] == "0"
    assert labels[("known", "not_found")] == "if row is none"
    assert labels[("known", "read_status")] == "else"
    assert labels[("lookup", "main")] == "fail"


def test_condition_labels_are_escaped(flow_from):
    flow = flow_from("""\
        flow: q
        languages: [en-US]
        start: b
        nodes:
          b: {branch: {cases: [{when: "call.caller_id == \\"1\\"", goto: h}], else: h}}
          h: {hangup: NORMAL_CLEARING}
        """)
    dot = to_dot(flow)
    assert 'label="if call.caller_id == \\"1\\""' in dot


def test_on_hangup_steps_are_drawn_in_a_cluster(flow_from):
    flow = flow_from("""\
        flow: oh
        languages: [en-US]
        start: h
        on_hangup:
          - write: {kind: survey_answer, row: {call_uuid: "{{ call.uuid }}"}}
          - set: {done: "true"}
        nodes:
          h: {hangup: NORMAL_CLEARING}
        """)
    dot = to_dot(flow)
    assert 'subgraph "cluster_on_hangup"' in dot
    assert '"__on_hangup_0" -> "__on_hangup_1"' in dot


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz not installed")
def test_svg_contains_every_node_and_edge(hotline, tmp_path):
    out = render(hotline, tmp_path / "flow.svg")
    svg = ET.parse(out).getroot()
    ns = {"s": "http://www.w3.org/2000/svg"}
    titles = {t.text for t in svg.iterfind(".//s:g/s:title", ns)}
    assert set(hotline.nodes) <= titles
    for name, edge in hotline.edges:
        assert f"{name}->{edge.target}" in titles


def test_dot_text_output_and_bad_suffix(hotline, tmp_path):
    assert render(hotline, tmp_path / "f.dot").read_text() == to_dot(hotline)
    with pytest.raises(GraphError, match="unknown format '.gif'"):
        render(hotline, tmp_path / "f.gif")


def test_missing_dot_is_a_clear_error(hotline, tmp_path, monkeypatch):
    monkeypatch.setattr(graphviz.shutil, "which", lambda name: None)
    with pytest.raises(GraphError, match="apt-get install graphviz"):
        render(hotline, tmp_path / "f.svg")

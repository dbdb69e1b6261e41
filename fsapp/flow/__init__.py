"""The YAML flow language: spec -> loader -> validator/compiler -> interpreter.

    from fsapp.flow import compile_paths, Environment
    result = compile_paths(["ivr_flows/"], Environment())   # FlowSet: flows + problems

docs/flows.md is the language reference; fsapp.flowspec is its single source.
"""
from fsapp.flow.compiler import Environment, compile_file, compile_paths, compile_text
from fsapp.flow.model import Flow, FlowSet, Node, Problem

__all__ = ["Environment", "Flow", "FlowSet", "Node", "Problem", "compile_file", "compile_paths",
           "compile_text"]

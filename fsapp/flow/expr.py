"""Expressions and templates: jinja2's sandbox only, never Python eval.

Expressions (`when:`, `set:`) evaluate to Python values. Templates (prompt names, query
params, rows) render to strings, except a template that is exactly one `{{ expr }}`,
which yields the expression's value unchanged (so `{{ amount }}` stays a number).

Compile time only parses (fast, no code generation) and lists the variables used; the
runtime compiles each distinct string once and caches it.
"""
from __future__ import annotations

import functools
import re
from typing import Any, Mapping

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.parser import Parser
from jinja2.sandbox import ImmutableSandboxedEnvironment


class _Environment(ImmutableSandboxedEnvironment):
    def make_globals(self, d):
        """A template's globals as a plain dict, not jinja's ChainMap over the
        environment's: every evaluation copies them twice (new_context's dict(), Context's
        set()), and iterating a ChainMap runs in Python, which made those copies most of an
        expression's cost (bench/hotline_load.py, issue 14). Nothing adds to ENV.globals
        after import, so a template's snapshot holds the same names and values; a
        template's own globals still overlay the environment's."""
        return {**self.globals, **(d or {})}


ENV = _Environment(undefined=StrictUndefined, autoescape=False)
_GLOBALS = frozenset(ENV.globals)
_SINGLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


class ExprError(ValueError):
    """An expression or template cannot be parsed; the message says where in it."""


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text or "{#" in text


def _variables(ast: nodes.Template) -> frozenset[str]:
    # Like jinja2.meta.find_undeclared_variables, minus its code-generator pass (10x slower):
    # names read, less names the template binds itself (for loops, {% set %}).
    loaded, bound = set(), set()
    for name in ast.find_all(nodes.Name):
        (loaded if name.ctx == "load" else bound).add(name.name)
    return frozenset(loaded - bound) - _GLOBALS


@functools.lru_cache(maxsize=8192)
def parse_expression(text: str) -> frozenset[str]:
    """Check an expression's syntax; return the variables it reads."""
    if "}}" in text or "{{" in text or "{%" in text:
        raise ExprError("an expression is written without {{ }}, e.g. ticket.status == 'closed'")
    try:
        ast = ENV.parse("{{ (" + text + "\n) }}")
    except TemplateSyntaxError as exc:
        raise ExprError(f"bad expression {text!r}: {exc.message}") from None
    return _variables(ast)


@functools.lru_cache(maxsize=8192)
def parse_template(text: str) -> frozenset[str]:
    """Check a template's syntax; return the variables it reads."""
    if not is_template(text):
        return frozenset()
    try:
        ast = ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise ExprError(f"bad template {text!r}: {exc.message}") from None
    return _variables(ast)


# Literal values an expression may be: immutable, so one value can serve every call.
_CONSTANT_TYPES = (str, int, float, bool, type(None))


def _constant(value):
    return lambda scope: value


@functools.lru_cache(maxsize=4096)
def _compiled_expression(text: str):
    # A literal (`set: {lang: "'en-US'"}`, `true`) is its value whatever the scope: no
    # jinja context is built for it on every call (that is most of an evaluation's cost).
    # It is parsed as compile_expression parses it, so both agree on what the text is.
    parser = Parser(ENV, text, state="variable")
    try:
        node = parser.parse_expression()
    except TemplateSyntaxError:
        node = None       # compile_expression raises it, with its own message
    if isinstance(node, nodes.Const) and parser.stream.eos and type(node.value) in _CONSTANT_TYPES:
        return _constant(node.value)
    return ENV.compile_expression(text, undefined_to_none=False)


@functools.lru_cache(maxsize=4096)
def _compiled_template(text: str):
    return ENV.from_string(text)


def evaluate(expr: Any, scope: Mapping[str, Any]) -> Any:
    """Evaluate an expression field; non-string YAML values are literals."""
    if not isinstance(expr, str):
        return expr
    return _compiled_expression(expr)(scope)    # scope as one mapping: one copy fewer than **scope


def render(template: Any, scope: Mapping[str, Any]) -> Any:
    """Render a template field; a lone `{{ expr }}` keeps its value's type."""
    if not isinstance(template, str) or not is_template(template):
        return template
    single = _SINGLE.match(template)
    if single and "{{" not in single.group(1) and "}}" not in single.group(1):
        return evaluate(single.group(1).strip(), scope)
    return _compiled_template(template).render(scope)

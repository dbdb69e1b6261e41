"""fsapp.flow.expr: what an expression's evaluation may skip without changing its value."""
from __future__ import annotations

import pytest
from jinja2 import TemplateSyntaxError
from jinja2.exceptions import SecurityError, UndefinedError

from fsapp.flow import expr


@pytest.mark.parametrize("text, value", [("'en-US'", "en-US"), ('"x y"', "x y"), ("true", True), ("False", False),
                                         ("none", None), ("3", 3), ("1.5", 1.5)])
def test_a_literal_is_its_value_without_a_jinja_context(text, value, monkeypatch):
    """A literal's value is fixed at its first compilation: evaluating it builds no context."""
    expr._compiled_expression.cache_clear()
    assert expr.evaluate(text, {}) == value
    monkeypatch.setattr(type(expr.ENV), "context_class", None)   # a context now would fail
    assert expr.evaluate(text, {"lang": "zh-CN"}) == value and type(expr.evaluate(text, {})) is type(value)
    expr._compiled_expression.cache_clear()


@pytest.mark.parametrize("text, scope, value", [
    ("x", {"x": 7}, 7), ("-1", {}, -1), ("'a' ~ 'b'", {}, "ab"), ("'a' if x else 'b'", {"x": 0}, "b"),
    ("[1, 2]", {}, [1, 2]), ("range(3) | list", {}, [0, 1, 2]), ("namespace(a=1).a", {}, 1),
    ("range", {"range": "mine"}, "mine")])        # a flow variable still hides a global
def test_other_expressions_are_evaluated_in_the_scope(text, scope, value):
    assert expr.evaluate(text, scope) == value


def test_a_list_literal_is_a_new_list_on_every_evaluation():
    """Only immutable literals are kept: a list one call changes is not the next call's."""
    first = expr.evaluate("[1]", {})
    first.append(2)
    assert expr.evaluate("[1]", {}) == [1]


@pytest.mark.parametrize("text, error", [("1 +", TemplateSyntaxError), ("1 2", TemplateSyntaxError),
                                         ("missing + 1", UndefinedError),
                                         ("x.__class__.__mro__", SecurityError)])
def test_errors_stay_the_same(text, error):
    scope = {"x": 1}
    with pytest.raises(Exception) as raised:
        expr.evaluate(text, scope)
    if error is SecurityError:   # the sandbox: an unsafe attribute is undefined, reading it raises
        assert isinstance(raised.value, (SecurityError, UndefinedError))
    else:
        assert isinstance(raised.value, error)


def test_templates_see_plain_dict_globals_with_the_environments_names():
    """Templates get the environment's globals as a plain dict (no ChainMap to iterate
    on every evaluation), with the same names and values."""
    template = expr._compiled_template("{{ x }}")
    assert type(template.globals) is dict and template.globals == dict(expr.ENV.globals)
    assert expr.render("{{ x }} {% for i in range(2) %}{{ i }}{% endfor %}", {"x": "a"}) == "a 01"

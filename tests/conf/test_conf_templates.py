"""Template errors: each names the template (and line / variable) and what to do."""
from __future__ import annotations

import pytest

from fsapp.conf import ConfError, parse_var, render_tree


def write(tmp_path, name, text):
    path = tmp_path / "tpl" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return tmp_path / "tpl"


def test_missing_variable_names_template_line_and_variable(tmp_path):
    tpl = write(tmp_path, "autoload_configs/x.conf.xml.j2",
                '<configuration name="x.conf">\n  <settings>\n'
                '    <param name="a" value="{{ not_set_anywhere }}"/>\n  </settings>\n</configuration>\n')
    with pytest.raises(ConfError) as err:
        render_tree(tpl, {})
    message = str(err.value)
    assert "autoload_configs/x.conf.xml.j2:3" in message
    assert "not_set_anywhere" in message and "--var" in message


def test_missing_attribute_of_a_known_variable_is_an_error_too(tmp_path):
    tpl = write(tmp_path, "fsapp/a.xml.j2", "<include>{{ item.nope }}</include>\n")
    with pytest.raises(ConfError, match="a.xml.j2:1: .*nope"):
        render_tree(tpl, {"item": {"name": "x"}})


def test_variable_supplied_renders(tmp_path):
    tpl = write(tmp_path, "fsapp/a.xml.j2", '<include><x v="{{ v }}"/></include>\n')
    result = render_tree(tpl, {"v": "1 < 2"})
    assert result.files == {"fsapp/a.xml": '<include><x v="1 &lt; 2"/></include>\n'}


def test_malformed_output_is_refused(tmp_path):
    tpl = write(tmp_path, "fsapp/a.xml.j2", "<include><load></include>\n")
    with pytest.raises(ConfError, match=r"a\.xml\.j2: rendered fsapp/a\.xml is not well-formed XML"):
        render_tree(tpl, {})


def test_syntax_error_names_the_line(tmp_path):
    tpl = write(tmp_path, "fsapp/a.xml.j2", "<include>\n{% for x in %}\n</include>\n")
    with pytest.raises(ConfError, match=r"a\.xml\.j2:2: template syntax error"):
        render_tree(tpl, {})


def test_autoload_config_must_be_a_named_configuration(tmp_path):
    tpl = write(tmp_path, "autoload_configs/x.conf.xml.j2", "<include/>\n")
    with pytest.raises(ConfError, match='configuration name="X.conf"'):
        render_tree(tpl, {})


def test_dialplan_fragment_must_hold_extensions_with_conditions(tmp_path):
    tpl = write(tmp_path, "dialplan/default/a.xml.j2",
                '<include><extension name="e"><action application="park"/></extension></include>\n')
    with pytest.raises(ConfError, match="has no <condition>"):
        render_tree(tpl, {})
    tpl = write(tmp_path, "dialplan/default/a.xml.j2", "<include><context/></include>\n")
    with pytest.raises(ConfError, match="may only hold <extension"):
        render_tree(tpl, {})


def test_comment_filter_keeps_comments_well_formed(tmp_path):
    tpl = write(tmp_path, "fsapp/a.xml.j2", "<include><!-- {{ v|xml_comment }} --></include>\n")
    assert "- -" in render_tree(tpl, {"v": "a--b"}).files["fsapp/a.xml"]


def test_directory_without_templates(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfError, match="no \\*.j2 templates"):
        render_tree(tmp_path / "empty", {})
    with pytest.raises(ConfError, match="templates directory not found"):
        render_tree(tmp_path / "missing", {})


@pytest.mark.parametrize("text, expected", [
    ("a=b", ("a", "b")), ("esl_password=x=y", ("esl_password", "x=y")), ("a=", ("a", "")),
])
def test_parse_var(text, expected):
    assert parse_var(text) == expected


@pytest.mark.parametrize("text", ["novalue", "=x", "1a=b", "flows=x", "modules=y"])
def test_parse_var_refuses(text):
    with pytest.raises(ConfError, match="--var"):
        parse_var(text)

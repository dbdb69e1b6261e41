"""Render every *.j2 template under freeswitch-conf/ and check what FreeSWITCH will read.

Templates render with StrictUndefined: a variable the context lacks is an error naming
the template, its line and the variable, never an empty attribute that FreeSWITCH would
quietly accept (an empty password, a socket to nowhere). Output is XML-escaped by default
and must parse with xml.etree, and files FreeSWITCH loads from autoload_configs/ and
dialplan/ must have the root element it looks for.
"""
from __future__ import annotations

import os
import traceback
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from fsapp.conf.errors import ConfError

TEMPLATE_SUFFIX = ".j2"


def default_templates_dir() -> Path:
    """./freeswitch-conf when run from a checkout's root, else the one beside the package."""
    here = Path("freeswitch-conf")
    if here.is_dir():
        return here
    return Path(__file__).resolve().parent.parent.parent / "freeswitch-conf"


def _xml_comment(value: Any) -> Markup:
    # "--" may not appear inside an XML comment; escape the rest like any text.
    return Markup(str(escape(str(value))).replace("--", "- -"))


def _environment(templates_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        autoescape=True,  # every template here produces XML
        keep_trailing_newline=True,
    )
    env.filters["xml_comment"] = _xml_comment
    return env


def _template_line(exc: BaseException, filename: str | None) -> int | None:
    # jinja2 rewrites tracebacks so template frames carry the template's file and line.
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if filename and frame.filename == filename:
            line = frame.lineno
    return line


def _check_freeswitch_shape(name: str, root: ET.Element) -> None:
    """The root element FreeSWITCH expects for where the file will be installed."""
    top = name.split("/", 1)[0]
    if top == "autoload_configs":
        if root.tag != "configuration" or not root.get("name", "").endswith(".conf"):
            raise ConfError(f"{name}: FreeSWITCH reads autoload_configs/ files by "
                            f'<configuration name="X.conf">; found <{root.tag}>')
    elif top == "dialplan":
        if root.tag != "include":
            raise ConfError(f"{name}: a dialplan fragment must be <include> of <extension>s; "
                            f"found <{root.tag}>")
        for ext in root:
            if ext.tag != "extension" or not ext.get("name"):
                raise ConfError(f"{name}: <include> may only hold <extension name=...>; "
                                f"found <{ext.tag}>")
            if ext.find("condition") is None:
                raise ConfError(f"{name}: extension {ext.get('name')!r} has no <condition>")


@dataclass
class RenderResult:
    files: dict[str, str]                       # output path (posix, relative) -> XML text
    secret_files: frozenset[str] = frozenset()  # written 0600: they carry the ESL password

    def write(self, out_dir: str | Path) -> list[Path]:
        out_dir = Path(out_dir)
        written = []
        for name, text in sorted(self.files.items()):
            path = out_dir / name
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text, encoding="utf-8")
            os.chmod(tmp, 0o600 if name in self.secret_files else 0o644)
            os.replace(tmp, path)  # never leave a half-written file for FreeSWITCH to load
            written.append(path)
        return written


def render_tree(templates_dir: str | Path, context: dict[str, Any]) -> RenderResult:
    templates_dir = Path(templates_dir)
    if not templates_dir.is_dir():
        raise ConfError(f"{templates_dir}: templates directory not found; pass --templates DIR")
    env = _environment(templates_dir)
    names = sorted(n for n in env.list_templates() if n.endswith(TEMPLATE_SUFFIX))
    if not names:
        raise ConfError(f"{templates_dir}: no *{TEMPLATE_SUFFIX} templates found")
    files: dict[str, str] = {}
    secret = str(context.get("esl_password") or "")
    secret_files: set[str] = set()
    for name in names:
        where = templates_dir / name
        try:
            template = env.get_template(name)
            text = template.render(context)
        except jinja2.TemplateSyntaxError as exc:
            raise ConfError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
        except jinja2.UndefinedError as exc:
            line = _template_line(exc, template.filename)
            at = f"{where}:{line}" if line else str(where)
            raise ConfError(f"{at}: {exc.message}; pass --var NAME=VALUE or fix the template") from None
        out_name = name[: -len(TEMPLATE_SUFFIX)]
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            raise ConfError(f"{where}: rendered {out_name} is not well-formed XML: {exc}") from None
        _check_freeswitch_shape(out_name, root)
        files[out_name] = text
        if secret and any(secret in el.attrib.values() for el in root.iter()):
            secret_files.add(out_name)
    return RenderResult(files=files, secret_files=frozenset(secret_files))

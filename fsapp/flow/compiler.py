"""Flow compiler: YAML text -> validated, immutable Flow, with every problem reported.

The compiler walks PyYAML's composed node tree (which keeps line/column marks) and
converts each node's fields by the types declared in fsapp.flowspec. Problems are
collected, never raised, so one run reports all of them; a node with problems is left out
of the graph checks (fsapp.flow.analysis) only as far as its broken fields go.
"""
from __future__ import annotations

import contextlib
import difflib
import gc
import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from yaml.nodes import MappingNode, Node as YNode, ScalarNode, SequenceNode

from fsapp import yamlsrc
from fsapp.flow import analysis, expr
from fsapp.flowspec import flow_files
from fsapp.yamlsrc import SourceError, position
from fsapp.flow.callrecord import KIND as RECORD_KIND, SETTABLE as RECORD_SETTABLE
from fsapp.flow.model import Edge, Flow, FlowSet, Node, Problem, freeze
from fsapp.flowspec.kinds import BUILTIN_VARS, FLOW_FIELDS, KINDS, NODE_COMMON, ON_HANGUP_WHEN, PROMPT_ITEMS, \
    SAY_KINDS, CURRENCIES, Field, Kind, case_label, mode_label, option_label

NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
FLOW_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
PROMPT_RE = re.compile(r"^[\w][\w./-]*$")
NUMBER_RE = re.compile(r"^\+?[0-9*#]+$")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
DIGITS_RE = re.compile(r"^[0-9*#]+$")
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, None: 1.0, "m": 60.0, "h": 3600.0}
SETTABLE_BUILTINS = {"lang", *RECORD_SETTABLE}   # outcome: the call record's data
COMMON_KEYS = frozenset(f.name for f in NODE_COMMON)  # allowed beside any kind (note:)


@dataclass(frozen=True)
class Environment:
    """What the validator may check references against; None means "not known, not checked".

    Built by the CLI from the prompt catalog, the store's query files, the routing config
    and calendars (fsapp.app.environment); tests build it directly.
    """
    has_prompt: Callable[[str, str], bool] | None = None
    queries: frozenset[str] | None = None
    queues: frozenset[str] | None = None
    calendars: frozenset[str] | None = None
    tts: bool = False
    write_kinds: Mapping[str, frozenset[str]] | None = None   # store write kind -> its columns
    notes: tuple[str, ...] = ()   # what was not checked, and why (printed by the CLI)
    problems: tuple[Problem, ...] = ()  # broken sources (a bad catalog): validation fails
    max_yaml_values: int = yamlsrc.MAX_VALUES  # [flows] max_yaml_values: the size limit


class Bad(Exception):
    def __init__(self, node: YNode, message: str, hint: str = ""):
        super().__init__(message)
        self.node, self.message, self.hint = node, message, hint


@dataclass
class NodeFacts:
    """What converting one node's fields found: edges, variables, prompt names, references."""
    edges: list[tuple[Edge, YNode]] = field(default_factory=list)
    uses: dict[str, YNode] = field(default_factory=dict)
    sets: set[str] = field(default_factory=set)
    prompts: list[tuple[str, YNode]] = field(default_factory=list)
    refs: list[tuple[str, str, YNode]] = field(default_factory=list)
    tts: list[YNode] = field(default_factory=list)

    def use(self, names, where: YNode) -> None:
        for name in names:
            self.uses.setdefault(name, where)


def _suggest(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}? " if close else ""


def _type_name(node: YNode) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = yamlsrc.scalar(node)
    return "null" if value is None else f"{type(value).__name__} {_source(node)}"


def _source(node: ScalarNode, quote: bool = True) -> str:
    """A scalar as written, shortened: a 400-digit number is reported, not echoed."""
    text = node.value
    if len(text) > 40:
        return f"{text[:20]!r}... ({len(text)} characters)"
    return repr(text) if quote else text


# ---- field converters: (compiler, yaml node, Field, facts, label) -> value ------------------

class _Converters:
    def __init__(self, compiler: "FlowCompiler"):
        self.c = compiler

    def _scalar(self, node: YNode, f: Field, want: str):
        if not isinstance(node, ScalarNode):
            raise Bad(node, f"{f.name}: expected {want}, got {_type_name(node)}")
        return yamlsrc.scalar(node)

    def text(self, node, f, facts, label):
        value = self._scalar(node, f, "text")
        if value is None or isinstance(value, (dict, list)):
            raise Bad(node, f"{f.name}: expected text, got {_type_name(node)}")
        return node.value if isinstance(value, (int, float)) else str(value)

    def template(self, node, f, facts, label):
        value = yamlsrc.plain(node)
        self.c.check_templates(value, node, facts, f.name)
        return value

    def expr(self, node, f, facts, label):
        value = self._scalar(node, f, "an expression")
        if (f.min is not None or f.max is not None) and not isinstance(value, (str, bool)) \
                and value is not None:  # a literal where a bounded number is meant
            if not isinstance(value, int):
                raise Bad(node, f"{f.name}: expected an integer or an expression, got {_type_name(node)}")
            self._bounds(node, f, value)
        if isinstance(value, str):
            try:
                facts.use(expr.parse_expression(value), node)
            except expr.ExprError as exc:
                raise Bad(node, f"{f.name}: {exc}", "expressions use jinja2 syntax: "
                          "and/or/not, ==, is none, in, filters like |int") from None
        return value

    def int(self, node, f, facts, label):
        value = self._scalar(node, f, "an integer")
        if isinstance(value, bool) or not isinstance(value, int):
            raise Bad(node, f"{f.name}: expected an integer, got {_type_name(node)}")
        self._bounds(node, f, value)
        return value

    def _bounds(self, node, f, value):
        # Compared as given (int with float compares exactly in Python, no float(value)
        # that would overflow); shown as written (str() of a huge int is refused).
        if value != value:
            raise Bad(node, f"{f.name}: {_source(node, quote=False)} is not a number")
        if f.min is not None and value < f.min:
            raise Bad(node, f"{f.name}: {_source(node, quote=False)} is below the minimum {f.min:g}")
        if f.max is not None and value > f.max:
            raise Bad(node, f"{f.name}: {_source(node, quote=False)} is above the maximum {f.max:g}")

    def bool(self, node, f, facts, label):
        value = self._scalar(node, f, "true or false")
        if not isinstance(value, bool):
            raise Bad(node, f"{f.name}: expected true or false, got {_type_name(node)}")
        return value

    def duration(self, node, f, facts, label):
        value = self._scalar(node, f, "a duration")
        if isinstance(value, bool) or value is None:
            raise Bad(node, f"{f.name}: expected a duration like 5s or 500ms, got {_type_name(node)}")
        if isinstance(value, (int, float)):
            seconds = value
        else:
            match = DURATION_RE.match(str(value))
            if not match:
                raise Bad(node, f"{f.name}: {_source(node)} is not a duration",
                          "write e.g. 5s, 500ms, 2m or a number of seconds")
            seconds = float(match.group(1)) * _UNIT[match.group(2)]  # huge: inf, no error
        self._bounds(node, f, seconds)
        try:  # only a field without bounds can still be out of float's range here
            seconds = float(seconds)
        except OverflowError:
            seconds = math.inf
        if not math.isfinite(seconds):
            raise Bad(node, f"{f.name}: {_source(node)} is not a finite duration")
        return seconds

    def digits(self, node, f, facts, label):
        if not isinstance(node, ScalarNode) or not DIGITS_RE.match(node.value):
            raise Bad(node, f"{f.name}: expected DTMF keys (0-9 * #), got "
                      f"{node.value!r}" if isinstance(node, ScalarNode) else _type_name(node),
                      "quote keys that YAML would read otherwise, e.g. \"#\" or \"*9\"")
        return node.value

    def regex(self, node, f, facts, label):
        value = self._scalar(node, f, "a regular expression")
        if not isinstance(value, str):
            raise Bad(node, f"{f.name}: expected a regular expression string, got {_type_name(node)}")
        try:
            re.compile(value)
        except (re.error, RecursionError, OverflowError) as exc:
            raise Bad(node, f"{f.name}: bad regular expression {value!r}: {exc}",
                      "quote it with single quotes so backslashes stay, e.g. '^\\d{8}$'") from None
        return value

    def choice(self, node, f, facts, label):
        value = self._scalar(node, f, "one of " + ", ".join(f.choices))
        if value not in f.choices or isinstance(value, bool):
            raise Bad(node, f"{f.name}: {_source(node)} is not one of {', '.join(map(str, f.choices))}",
                      _suggest(node.value, map(str, f.choices)))
        return value

    def var(self, node, f, facts, label):
        value = self._scalar(node, f, "a variable name")
        name = self.c.var_name(node, value, f.name)
        facts.sets.add(name)
        return name

    def vars(self, node, f, facts, label):
        items = node.value if isinstance(node, SequenceNode) else [node]
        return tuple(self.c.var_name(item, self._scalar(item, f, "a variable name"), f.name)
                     for item in items)

    def names(self, node, f, facts, label):
        items = node.value if isinstance(node, SequenceNode) else [node]
        out = []
        for item in items:
            self._scalar(item, f, "a list of names")
            if item.value.strip() == "" or yamlsrc.scalar(item) is None:
                raise Bad(item, f"{f.name}: empty name")
            out.append(item.value)  # raw text: keeps leading zeros of numbers
        return tuple(out)

    def target(self, node, f, facts, label):
        value = self._scalar(node, f, "a node name")
        if not isinstance(value, str) or not NAME_RE.match(value):
            raise Bad(node, f"{label}: expected a node name, got {_type_name(node)}")
        facts.edges.append((Edge(label, value, f.assigns), node))
        return value

    def options(self, node, f, facts, label):
        if not isinstance(node, MappingNode) or not node.value:
            raise Bad(node, f"{f.name}: expected a mapping of keys to nodes, e.g. {{\"1\": mailbox}}")
        out = {}
        for key, key_node, value in self.c.pairs(node):
            key = self.digits(key_node, Field("options key", "digits", ""), facts, label)
            if key in out:
                raise Bad(key_node, f"options: key {key!r} appears twice")
            out[key] = self.target(value, f, facts, option_label(key))
        return out

    def modes(self, node, f, facts, label):
        if not isinstance(node, MappingNode):
            raise Bad(node, f"{f.name}: expected a mapping of calendar modes to nodes, "
                      "e.g. {night: night_service}")
        return {key: self.target(value, f, facts, mode_label(key))
                for key, _, value in self.c.pairs(node)}

    def prompts(self, node, f, facts, label):
        items = node.value if isinstance(node, SequenceNode) else [node]
        if not items:
            raise Bad(node, f"{f.name}: empty prompt list")
        return tuple(self.c.prompt_item(item, f.name, facts) for item in items)

    def params(self, node, f, facts, label):
        if not isinstance(node, MappingNode):
            raise Bad(node, f"{f.name}: expected a mapping of names to values")
        out = {}
        for key, key_node, value in self.c.pairs(node):
            self.c.var_name(key_node, key, f.name, builtin_ok=True)
            out[key] = yamlsrc.plain(value)
            self.c.check_templates(out[key], value, facts, f"{f.name}.{key}")
        return out

    def assign(self, node, f, facts, label):
        if not isinstance(node, MappingNode) or not node.value:
            raise Bad(node, f"{f.name}: expected variable: expression pairs, e.g. {{tries: \"tries + 1\"}}")
        out = {}
        for key, key_node, value in self.c.pairs(node):
            name = self.c.var_name(key_node, key, "set")
            out[name] = self.expr(value, Field(f"set.{name}", "expr", ""), facts, label)
            if isinstance(out[name], (dict, list)):
                raise Bad(value, f"set.{name}: expected an expression or a plain value")
            # later pairs may read earlier ones: only names not set so far count as uses
            facts.sets.add(name)
        return out

    def cases(self, node, f, facts, label):
        if not isinstance(node, SequenceNode) or not node.value:
            raise Bad(node, f"{f.name}: expected a list of {{when: condition, goto: node}}")
        out = []
        case_fields = (Field("when", "expr", "", required=True), Field("goto", "target", "", required=True))
        for i, item in enumerate(node.value):
            if not isinstance(item, MappingNode):
                raise Bad(item, f"cases[{i}]: expected {{when: condition, goto: node}}")
            args = self.c.fields(case_fields, [(k, kn, v) for k, kn, v in self.c.pairs(item)],
                                 item, facts, f"case {i + 1}", labels={"goto": case_label(i)})
            out.append(args)
        return out

    def ref(self, node, f, facts, label):
        value = self._scalar(node, f, f"a {f.ref} name")
        if not isinstance(value, str) or not value.strip():
            raise Bad(node, f"{f.name}: expected a {f.ref} name, got {_type_name(node)}")
        facts.refs.append((f.ref, value, node))
        return value

    def struct(self, node, f, facts, label):
        if not isinstance(node, MappingNode):
            raise Bad(node, f"{f.name}: expected a mapping with {', '.join(x.name for x in f.fields)}")
        return self.c.fields(f.fields, self.c.pairs(node), node, facts, f.name)


class FlowCompiler:
    def __init__(self, file: str, env: Environment):
        self.file = file
        self.env = env
        self.problems: list[Problem] = []
        self.conv = _Converters(self)

    # ---- problems -----------------------------------------------------------------------------
    def problem(self, where: YNode | tuple[int, int], message: str, hint: str = "") -> None:
        line, col = position(where) if isinstance(where, YNode) else where
        self.problems.append(Problem(self.file, line, col, message, hint))

    # ---- shared pieces ------------------------------------------------------------------------
    def var_name(self, node: YNode, value: Any, what: str, builtin_ok: bool = False) -> str:
        if not isinstance(value, str) or not VAR_RE.match(value):
            raise Bad(node, f"{what}: {value!r} is not a variable name",
                      "use letters, digits and _, starting with a letter")
        if not builtin_ok and value in BUILTIN_VARS and value not in SETTABLE_BUILTINS:
            raise Bad(node, f"{what}: {value!r} is a built-in variable and cannot be set",
                      "pick another name")
        return value

    def check_templates(self, value: Any, node: YNode, facts: NodeFacts, what: str) -> None:
        if isinstance(value, str):
            try:
                facts.use(expr.parse_template(value), node)
            except expr.ExprError as exc:
                raise Bad(node, f"{what}: {exc}") from None
        elif isinstance(value, dict):
            for item in value.values():
                self.check_templates(item, node, facts, what)
        elif isinstance(value, list):
            for item in value:
                self.check_templates(item, node, facts, what)

    def prompt_item(self, node: YNode, what: str, facts: NodeFacts) -> dict:
        if isinstance(node, ScalarNode):
            value = yamlsrc.scalar(node)
            if not isinstance(value, str) or not value.strip():
                raise Bad(node, f"{what}: expected a prompt name, got {_type_name(node)}")
            if expr.is_template(value):
                self.check_templates(value, node, facts, what)
            elif not PROMPT_RE.match(value):
                raise Bad(node, f"{what}: {value!r} is not a prompt name",
                          "prompt names look like hotline/main_menu (no spaces); "
                          "use {text: ...} for TTS")
            else:
                facts.prompts.append((value, node))
            return {"name": value}
        if not isinstance(node, MappingNode):
            raise Bad(node, f"{what}: expected a prompt name or one of "
                      f"{{{', '.join(k for k in PROMPT_ITEMS if k != 'name')}: ...}}")
        items = self.pairs(node)
        kinds = [k for k, _, _ in items if k in PROMPT_ITEMS and k != "name"]
        if len(kinds) != 1:
            raise Bad(node, f"{what}: a prompt item has exactly one of "
                      f"{', '.join(k for k in PROMPT_ITEMS if k != 'name')}")
        kind = kinds[0]
        if kind == "say":
            sub = (Field("say", "choice", "", required=True, choices=SAY_KINDS),
                   Field("value", "template", "", required=True),
                   Field("currency", "choice", "", default="CNY", choices=CURRENCIES))
            return self.fields(sub, items, node, facts, what)
        allowed = {kind}
        for key, key_node, _ in items:
            if key not in allowed:
                raise Bad(key_node, f"{what}: unknown key {key!r} in a {kind} item")
        value_node = items[0][2]
        if kind == "silence":
            return {"silence": self.conv.duration(value_node, Field("silence", "duration", "", min=0,
                                                                    max=60), facts, what)}
        value = yamlsrc.plain(value_node)
        if not isinstance(value, str) or not value.strip():
            raise Bad(value_node, f"{what}: {kind} expects text, got {_type_name(value_node)}")
        self.check_templates(value, value_node, facts, what)
        if kind == "text":
            facts.tts.append(value_node)
        if kind == "file" and not (value.startswith("/") or expr.is_template(value)):
            raise Bad(value_node, f"{what}: file {value!r} must be an absolute path",
                      "use a catalog prompt name for prompts in sounds/")
        return {kind: value}

    def fields(self, spec: tuple[Field, ...], items, owner: YNode, facts: NodeFacts, what: str,
               labels: dict[str, str] | None = None, drop: tuple[str, ...] = ()) -> dict:
        """Convert (name, key node, value node) items by spec; problems recorded, not raised."""
        by_name = {f.name: f for f in spec}
        args: dict[str, Any] = {}
        for name, key_node, value_node in items:
            f = by_name.get(name)
            if f is None or name in drop:
                known = [n for n in by_name if n not in drop]
                self.problem(key_node, f"{what}: unknown field {name!r}",
                             _suggest(name, known) + "fields: " + ", ".join(known))
                continue
            try:
                args[name] = getattr(self.conv, f.type)(value_node, f, facts,
                                                        (labels or {}).get(name, name))
            except Bad as bad:
                self.problem(bad.node, f"{what}: {bad.message}", bad.hint)
                args[name] = _BROKEN
            except SourceError as err:
                self.problem((err.line, err.col), f"{what}: {name}: {err.message}", err.hint)
                args[name] = _BROKEN
        for f in spec:
            if f.name in args or f.name in drop:
                continue
            if f.required:
                if f.name == "next":
                    self.problem(owner, f"{what}: dead end: no `next`",
                                 "add next: <node>, or end the path with a hangup or transfer node")
                else:
                    self.problem(owner, f"{what}: missing required field {f.name!r}",
                                 f"{f.name}: {f.help}")
                args[f.name] = _BROKEN
            else:
                args[f.name] = f.default
        return args

    # ---- nodes --------------------------------------------------------------------------------
    def node(self, name: str, body: YNode, after_hangup: bool = False) -> Node | None:
        what = f"node {name!r}" if not after_hangup else f"on_hangup step {name}"
        if not isinstance(body, MappingNode):
            self.problem(body, f"{what}: expected a mapping like {{play: prompt, next: node}}")
            return None
        items = self.pairs(body)
        kinds = [(k, kn, v) for k, kn, v in items if k in KINDS]
        if len(kinds) != 1:
            if kinds:
                self.problem(kinds[1][1], f"{what}: one node has one kind, found "
                             f"{', '.join(k for k, _, _ in kinds)}",
                             "split it into two nodes joined by next")
            else:
                unknown = [(k, kn) for k, kn, _ in items if k not in COMMON_KEYS and k != "next"]
                key, key_node = unknown[0] if unknown else (None, body)
                hint = (_suggest(key, KINDS) if key else "") + "kinds: " + ", ".join(KINDS)
                self.problem(key_node, f"{what}: unknown node kind {key!r}" if key
                             else f"{what}: no node kind", hint)
            return None
        kind_name, kind_key, kind_value = kinds[0]
        kind: Kind = KINDS[kind_name]
        what = f"{what} ({kind_name})"
        if after_hangup and not kind.after_hangup:
            self.problem(kind_key, f"{what}: not allowed in on_hangup: the caller is gone",
                         "on_hangup steps: " + ", ".join(k for k, v in KINDS.items() if v.after_hangup))
            return None
        fields_items = []
        if isinstance(kind_value, MappingNode) and self._mapping_is_primary(kind, kind_value):
            fields_items.append((kind.primary, kind_key, kind_value))
        elif isinstance(kind_value, MappingNode):
            fields_items.extend(self.pairs(kind_value))
        elif not (isinstance(kind_value, ScalarNode) and yamlsrc.scalar(kind_value) is None
                  and kind_value.value in ("", "~", "null")):
            if kind.primary is None:
                self.problem(kind_value, f"{what}: expected a mapping of fields after {kind_name}:",
                             "fields: " + ", ".join(kind.field_names) if kind.fields
                             else f"write {kind_name}: {{}}")
                return None
            fields_items.append((kind.primary, kind_key, kind_value))
        seen = {k for k, _, _ in fields_items}
        for key, key_node, value_node in items:
            if key == kind_name or key in COMMON_KEYS:
                continue
            if key in seen:
                self.problem(key_node, f"{what}: {key!r} is given twice (inside and beside {kind_name}:)")
                continue
            fields_items.append((key, key_node, value_node))
        facts = NodeFacts()
        drop = ("next", "on_error") if after_hangup else ()
        fields = kind.fields + ((ON_HANGUP_WHEN,) if after_hangup else ())
        args = self.fields(fields, fields_items, body, facts, what, drop=drop)
        if kind_name == "transfer":
            given = [k for k in ("extension", "number", "flow") if args.get(k) not in (None, _BROKEN)]
            if len(given) != 1 and not any(args.get(k) is _BROKEN for k in ("extension", "number", "flow")):
                self.problem(kind_key, f"{what}: give exactly one of extension, number, flow")
        if kind_name == "collect" and isinstance(args.get("min"), int) and isinstance(args.get("max"), int) \
                and args["min"] > args["max"]:
            self.problem(kind_key, f"{what}: min ({args['min']}) is greater than max ({args['max']})")
        if kind_name == "record" and isinstance(args.get("min_length"), float):
            if not args.get("too_short"):
                self.problem(kind_key, f"{what}: min_length needs too_short: a prompt telling the "
                             "caller the message was too short", "add too_short: common/message_too_short")
            if isinstance(args.get("max"), float) and args["min_length"] >= args["max"]:
                self.problem(kind_key, f"{what}: min_length ({args['min_length']:g} s) is not shorter "
                             f"than max ({args['max']:g} s)")
        if kind_name == "write" and args.get("kind") == RECORD_KIND:
            # one record per call, written by the runtime (fsapp.flow.callrecord): a second
            # writer would double it or race it
            where = {key: value for key, _, value in fields_items}
            self.problem(where.get("kind", kind_key), f"{what}: the runtime writes the call record of "
                         "every call itself (docs/reports.md); a flow does not write call_record",
                         "remove this step; to give the record an outcome, set it during the call: "
                         "set: {outcome: \"'resolved'\"}")
        elif kind_name == "write" and self.env.write_kinds is not None:
            self._check_write(args, fields_items, kind_key)
        if kind_name == "subflow" and isinstance(args.get("returns"), dict):
            for var in args["returns"]:
                facts.sets.add(self.var_name(kind_key, var, "returns"))
        if kind_name == "set" and isinstance(args.get("vars"), dict):
            facts.uses = {n: w for n, w in facts.uses.items() if n in _set_reads(args["vars"])}
        self._facts[("on_hangup:" if after_hangup else "") + name] = facts
        line, col = position(body)
        return Node(name, kind_name, freeze(args), tuple(e for e, _ in facts.edges), line, col,
                    frozenset(facts.sets), frozenset(facts.uses))

    def _check_write(self, args: dict, items, kind_key: YNode) -> None:
        """The row must fit the store's table for its kind (fsapp.store.schema)."""
        where = {name: value for name, _, value in items}
        kind = args.get("kind")
        if not isinstance(kind, str):
            return
        columns = self.env.write_kinds.get(kind)
        if columns is None:
            self.problem(where.get("kind", kind_key), f"write: unknown kind {kind!r}",
                         _suggest(kind, self.env.write_kinds) + "kinds: " + ", ".join(sorted(self.env.write_kinds)))
            return
        row = where.get("row")
        if isinstance(row, MappingNode):
            for key, key_node, _ in yamlsrc.pairs(row, lambda err: None):
                if key not in columns:
                    self.problem(key_node, f"write: {kind} has no column {key!r}",
                                 _suggest(key, columns) + "columns: " + ", ".join(sorted(columns)))

    @staticmethod
    def _mapping_is_primary(kind: Kind, value: MappingNode) -> bool:
        """`set: {a: ...}` is the assignments; `play: {say: money, ...}` is one prompt item;
        any other `kind: {...}` holds the kind's fields."""
        primary = kind.field(kind.primary) if kind.primary else None
        if primary is None:
            return False
        if primary.type == "assign":
            return True
        keys = {k.value for k, _ in value.value if isinstance(k, ScalarNode)}
        return primary.type == "prompts" and bool(keys & set(PROMPT_ITEMS)) \
            and not keys & set(kind.field_names)

    # ---- the whole file -----------------------------------------------------------------------
    def compile(self, text: str) -> Flow | None:
        self._facts = {}
        try:
            root = yamlsrc.compose(text, self.env.max_yaml_values)
        except SourceError as err:
            self.problem((err.line, err.col), err.message, err.hint)
            return None
        if root is None:
            self.problem((1, 1), "empty flow file", "start with `flow: <name>`")
            return None
        if not isinstance(root, MappingNode):
            self.problem(root, "a flow file is a mapping with flow, languages, start and nodes")
            return None
        items = self.pairs(root)
        top_facts = NodeFacts()
        # nodes and on_hangup hold nodes, compiled below; the other top-level keys are fields
        spec = tuple(f for f in FLOW_FIELDS if f.type not in ("nodes", "steps"))
        node_items = {k: (kn, v) for k, kn, v in items if k in ("nodes", "on_hangup")}
        top = self.fields(spec, [i for i in items if i[0] not in node_items], root, top_facts, "flow")
        if "nodes" not in node_items:
            self.problem(root, "flow: missing required field 'nodes'", "nodes: {name: {kind: ...}}")
        top_start_edge = top_facts.edges[0] if top_facts.edges else None
        self._check_top(top, root, items)
        nodes: dict[str, Node] = {}
        name_nodes: dict[str, YNode] = {}
        bodies: dict[str, YNode] = {}
        if "nodes" in node_items:
            _, value = node_items["nodes"]
            if not isinstance(value, MappingNode) or not value.value:
                self.problem(value, "nodes: expected a mapping of node names to nodes")
            else:
                for name, name_node, body in self.pairs(value):
                    if not NAME_RE.match(name):
                        self.problem(name_node, f"node name {name!r}: use letters, digits, _, - and .")
                        continue
                    name_nodes[name] = name_node
                    bodies[name] = body
                    node = self._guard(lambda: self.node(name, body), body)
                    if node is not None:
                        nodes[name] = node
        steps: list[Node] = []
        if "on_hangup" in node_items:
            _, value = node_items["on_hangup"]
            if not isinstance(value, SequenceNode):
                self.problem(value, "on_hangup: expected a list of steps, e.g. - write: {...}")
            else:
                for i, body in enumerate(value.value):
                    step = self._guard(lambda: self.node(f"{i + 1}", body, after_hangup=True), body)
                    if step is not None:
                        steps.append(step)
        if any(v is _BROKEN for v in top.values()):
            return None
        flow = Flow(
            name=top["flow"], version=hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:12],
            path=self.file, numbers=tuple(top["numbers"]), languages=tuple(top["languages"]),
            start=top["start"], vars=freeze(top["vars"]), inputs=tuple(top["inputs"]),
            outputs=tuple(top["outputs"]), nodes=freeze(nodes), on_hangup=tuple(steps),
            description=top["description"] or "")
        analysis.check(self, flow, name_nodes, top_start_edge, bodies)
        return flow

    def pairs(self, node: MappingNode):
        return yamlsrc.pairs(node, lambda err: self.problem((err.line, err.col), err.message, err.hint))

    def _guard(self, make, body: YNode):
        try:
            return make()
        except SourceError as err:
            self.problem((err.line, err.col), err.message, err.hint)
        except Bad as bad:
            self.problem(bad.node, bad.message, bad.hint)
        return None

    def _check_top(self, top: dict, root: YNode, items) -> None:
        where = {k: v for k, _, v in items}
        name = top.get("flow")
        if isinstance(name, str) and not FLOW_NAME_RE.match(name):
            self.problem(where["flow"], f"flow: {name!r} is not a valid flow name",
                         "use letters, digits, _ and -")
            top["flow"] = _BROKEN
        langs = top.get("languages")
        if isinstance(langs, tuple):
            if not langs:
                self.problem(where["languages"], "languages: list at least one, e.g. [zh-CN, en-US]")
                top["languages"] = _BROKEN
            for lang in langs:
                if not LANG_RE.match(lang):
                    self.problem(where["languages"], f"languages: {lang!r} is not a language tag",
                                 "use tags like zh-CN, en-US")
            if len(set(langs)) != len(langs):
                self.problem(where["languages"], "languages: listed twice")
        numbers = top.get("numbers")
        for number in numbers if isinstance(numbers, tuple) else ():
            if not NUMBER_RE.match(number):
                self.problem(where["numbers"], f"numbers: {number!r} is not a phone number",
                             "digits only, e.g. \"12345\"")
        for key in ("inputs", "outputs"):
            value = top.get(key)
            if isinstance(value, tuple) and len(set(value)) != len(value):
                self.problem(where[key], f"{key}: a name is listed twice")


class _Broken:
    def __repr__(self):
        return "<broken>"


_BROKEN = _Broken()  # a field whose value had a problem (already reported)


def _set_reads(assignments: dict) -> set[str]:
    """Variables a `set` node reads before assigning them itself (pairs run in order)."""
    assigned: set[str] = set()
    reads: set[str] = set()
    for var, value in assignments.items():
        if isinstance(value, str):
            reads |= expr.parse_expression(value) - assigned
        assigned.add(var)
    return reads


@contextlib.contextmanager
def _collector_paused():
    """Compiling allocates millions of small objects (YAML nodes, jinja2 ASTs) and frees
    none of them before it ends, so the cyclic collector's full passes over everything
    alive only cost: half the time of a 300,000-value file, growing with its size (bench/
    flow_size.py). Compiling never yields to other greenlets, so nothing else runs
    meanwhile; garbage made during it is collected after, as usual."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def compile_text(text: str, file: str = "<flow>", env: Environment | None = None) \
        -> tuple[Flow | None, list[Problem]]:
    compiler = FlowCompiler(file, env or Environment())
    try:
        with _collector_paused():
            flow = compiler.compile(text)
    except RecursionError:
        compiler.problem((1, 1), "flow is nested too deeply to read")
        flow = None
    return (flow if not compiler.problems else None), sorted(set(compiler.problems))


def compile_file(path: str | Path, env: Environment | None = None) -> tuple[Flow | None, list[Problem]]:
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(str(path), 1, 1, f"not UTF-8 text: {exc.reason} at byte {exc.start}",
                              "save the file as UTF-8")]
    except OSError as exc:
        return None, [Problem(str(path), 1, 1, f"cannot read: {exc.strerror}")]
    return compile_text(text, str(path), env)


def compile_paths(paths, env: Environment | None = None) -> FlowSet:
    """Compile every flow, then check what spans flows: names, numbers, subflow calls."""
    result = FlowSet()
    result.problems.extend((env or Environment()).problems)
    first_seen: dict[str, Flow] = {}
    for path in flow_files(paths):
        flow, problems = compile_file(path, env)
        result.problems.extend(problems)
        if flow is None:
            continue
        if flow.name in first_seen:
            result.problems.append(Problem(flow.path, 1, 1, f"flow name {flow.name!r} is also used by "
                                           f"{first_seen[flow.name].path}", "flow names are unique"))
            continue
        first_seen[flow.name] = flow
        result.flows[flow.name] = flow
    analysis.check_across(result)
    result.problems.sort()
    if result.problems:
        bad_files = {p.file for p in result.problems}
        result.flows = {n: f for n, f in result.flows.items() if f.path not in bad_files}
        if env is not None and env.problems:
            result.flows = {}  # nothing was checked against the broken source
    return result

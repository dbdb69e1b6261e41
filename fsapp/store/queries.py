"""Named queries kept in .sql files: the way a utility plugs in its own database.

    -- name: balance
    -- connection: billing
    -- params: account_no, as_of:date=today
    -- types: amount_due=money, due_date=date
    -- Amount due and earliest due date of an account's open bills.
    SELECT ... WHERE ACCT_NO = ? AND DUE_DT < ?

A query is named by its file and its `-- name:`: queries/utility.sql with
`-- name: balance` is `utility.balance`. Headers (before the SQL):

- `connection:` the named connection it runs on (default: [store] default).
- `params:` the names of the `?` placeholders, in order (a name may repeat when the
  same value fills two `?`). Each may carry a type (str, int, decimal, date, datetime;
  default str) and a default (a literal, or `today` / `now`). Callers pass a dict; the
  values are always bound by the driver, never formatted into the SQL.
- `types:` how to type result columns whose driver returns loose values (SQLite hands
  back DECIMAL columns as text and sums as float): decimal, money (2 places), int,
  str, date, datetime.
- any other comment line is the query's description.

Result rows are dicts keyed by lower-cased column name (Oracle upper-cases, PostgreSQL
lower-cases unquoted aliases; lower-casing makes one query file work on both).
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Callable

from .errors import QueryError, StoreConfigError, UnknownQuery

_HEADER = re.compile(r"^--\s*([a-z_]+)\s*:\s*(.*?)\s*$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
HEADERS = ("name", "connection", "params", "types")
BUILTIN_QUERIES = Path(__file__).with_name("sql")   # fsapp.sql: fsapp.overdue_tickets, ... (always loaded)


def _parse_date(v: Any) -> dt.date:
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v).strip()[:10])


def _parse_datetime(v: Any) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v
    if isinstance(v, dt.date):
        return dt.datetime(v.year, v.month, v.day)
    return dt.datetime.fromisoformat(str(v).strip())


def _parse_decimal(v: Any) -> Decimal:
    if isinstance(v, Decimal):
        return v
    if isinstance(v, float):
        return Decimal(repr(v))
    return Decimal(str(v).strip())


def _money(v: Any) -> Decimal:
    return _parse_decimal(v).quantize(Decimal("0.01"))


def _parse_int(v: Any) -> int:
    if isinstance(v, bool):
        raise ValueError(v)
    if isinstance(v, (int, Decimal)) or (isinstance(v, float) and v.is_integer()):
        return int(v)
    return int(str(v).strip())


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "str": lambda v: v if isinstance(v, str) else str(v),
    "int": _parse_int,
    "decimal": _parse_decimal,
    "money": _money,
    "date": _parse_date,
    "datetime": _parse_datetime,
}
PARAM_TYPES = ("str", "int", "decimal", "date", "datetime")
# Defaults computed at call time from the store's clock (Store.clock: the wall clock, or a
# pinned one such as the demo's, so query defaults and row stamps agree).
DYNAMIC_DEFAULTS = {"today": lambda now: now.date(), "now": lambda now: now.replace(microsecond=0)}


@dataclass(frozen=True)
class Param:
    name: str
    type: str = "str"
    default: str | None = None   # raw text from the header; None = required

    def value(self, params: dict, query: str, now: dt.datetime | None = None) -> Any:
        if self.name in params and params[self.name] is not None:
            raw = params[self.name]
        elif self.default is not None:
            if self.default in DYNAMIC_DEFAULTS:
                raw = DYNAMIC_DEFAULTS[self.default](now or dt.datetime.now())
            else:
                raw = self.default
        elif self.name in params:
            return None  # explicit None binds SQL NULL
        else:
            raise QueryError(f"query {query}: missing parameter {self.name!r}")
        try:
            return CONVERTERS[self.type](raw)
        except (ValueError, TypeError, InvalidOperation):
            raise QueryError(f"query {query}: parameter {self.name}={raw!r} is not a valid {self.type}") from None


@dataclass(frozen=True)
class NamedQuery:
    name: str                     # namespaced: file stem + '.' + name
    sql: str
    params: tuple[Param, ...]
    connection: str | None
    types: dict[str, str] = field(default_factory=dict)
    description: str = ""
    source: str = ""              # file:line, for error messages

    def bind(self, params: dict | None, now: dt.datetime | None = None) -> list:
        params = dict(params or {})
        known = {p.name for p in self.params}
        extra = sorted(set(params) - known)
        if extra:
            raise QueryError(f"query {self.name}: unknown parameter(s) {', '.join(extra)}; "
                             f"it takes: {', '.join(sorted(known)) or 'none'}")
        return [p.value(params, self.name, now) for p in self.params]

    def convert_row(self, row: dict) -> dict:
        for col, kind in self.types.items():
            if row.get(col) is not None:
                try:
                    row[col] = CONVERTERS[kind](row[col])
                except (ValueError, TypeError, InvalidOperation):
                    raise QueryError(f"query {self.name}: column {col}={row[col]!r} "
                                     f"is not a valid {kind} ({self.source})") from None
        return row


def count_placeholders(sql: str) -> int:
    """Count `?` outside string literals, quoted identifiers and comments."""
    count, i, n = 0, 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch in ("'", '"', "`"):
            end = sql.find(ch, i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == ch:  # doubled quote escapes
                end = sql.find(ch, end + 2)
            i = n if end == -1 else end + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end == -1 else end + 2
        else:
            count += ch == "?"
            i += 1
    return count


def _strip_literals(sql: str) -> str:
    return re.sub(r"'(?:[^']|'')*'", "''", sql)


def _parse_params(text: str, where: str) -> tuple[Param, ...]:
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        m = re.fullmatch(r"([A-Za-z_][A-Za-z0-9_]*)(?:\s*:\s*([a-z]+))?(?:\s*=\s*(.*))?", item)
        if not m:
            raise StoreConfigError(f"{where}: bad parameter {item!r}; write name, name:type or name:type=default")
        name, ptype, default = m.group(1), m.group(2) or "str", m.group(3)
        if ptype not in PARAM_TYPES:
            raise StoreConfigError(f"{where}: parameter {name} has unknown type {ptype!r}; "
                                   f"known: {', '.join(PARAM_TYPES)}")
        if default is not None and default not in DYNAMIC_DEFAULTS:
            try:
                CONVERTERS[ptype](default)
            except (ValueError, InvalidOperation):
                raise StoreConfigError(f"{where}: default {default!r} of {name} is not a valid {ptype}") from None
        out.append(Param(name, ptype, default))
    return tuple(out)


def _parse_types(text: str, where: str) -> dict[str, str]:
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        col, sep, kind = (s.strip() for s in item.partition("="))
        if not sep or not _IDENT.match(col) or kind not in CONVERTERS:
            raise StoreConfigError(f"{where}: bad type {item!r}; write column=TYPE with TYPE one of "
                                   f"{', '.join(CONVERTERS)}")
        out[col.lower()] = kind
    return out


def parse_file(path: Path) -> dict[str, NamedQuery]:
    namespace = path.stem
    if not _IDENT.match(namespace):
        raise StoreConfigError(f"{path}: file name must be an identifier (letters, digits, _) "
                               f"since it becomes the query namespace")
    text = path.read_text(encoding="utf-8")
    queries: dict[str, NamedQuery] = {}
    current: dict | None = None

    def finish():
        if current is None:
            return
        where = f"{path}:{current['line']}"
        sql = "\n".join(current["body"]).strip().rstrip(";").strip()
        if not sql:
            raise StoreConfigError(f"{where}: query {current['name']!r} has no SQL")
        bare = _strip_literals(sql)
        if ";" in bare:
            raise StoreConfigError(f"{where}: query {current['name']!r} has more than one statement; "
                                   f"write one statement per -- name:")
        if re.search(r"%s|%\(|\{[A-Za-z_0-9]*\}|(?<![:\w]):[A-Za-z_]\w*", bare):
            raise StoreConfigError(f"{where}: query {current['name']!r} uses a named/format placeholder; "
                                   f"use qmark (?) placeholders and list their names in -- params:")
        holes = count_placeholders(sql)
        params = current.get("params", ())
        if holes != len(params):
            raise StoreConfigError(f"{where}: query {current['name']!r} has {holes} ? placeholder(s) but "
                                   f"-- params: names {len(params)}; list one name per ? in order")
        full = f"{namespace}.{current['name']}"
        if full in queries:
            raise StoreConfigError(f"{where}: query {current['name']!r} is defined twice in {path.name} "
                                   f"(first at line {queries[full].source.rsplit(':', 1)[1]})")
        queries[full] = NamedQuery(full, sql, params, current.get("connection"), current.get("types", {}),
                                   " ".join(current["doc"]).strip(), where)

    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        m = _HEADER.match(line)
        where = f"{path}:{lineno}"
        if m and m.group(1) == "name":
            finish()
            name = m.group(2)
            if not _IDENT.match(name):
                raise StoreConfigError(f"{where}: query name {name!r} must be an identifier")
            current = {"name": name, "line": lineno, "body": [], "doc": []}
            continue
        if current is None:
            if line and not line.startswith("--"):
                raise StoreConfigError(f"{where}: SQL before the first '-- name:' line; "
                                       f"start each query with -- name: NAME")
            continue
        in_header = not current["body"]
        if in_header and m:
            key, value = m.group(1), m.group(2)
            if key == "connection":
                if not _IDENT.match(value):
                    raise StoreConfigError(f"{where}: connection {value!r} must be an identifier")
                current["connection"] = value
            elif key == "params":
                current["params"] = _parse_params(value, where)
            elif key == "types":
                current["types"] = _parse_types(value, where)
            else:
                raise StoreConfigError(f"{where}: unknown header {key!r}; known: {', '.join(HEADERS)}")
        elif in_header and line.startswith("--"):
            current["doc"].append(line.lstrip("-").strip())
        elif line or current["body"]:
            current["body"].append(raw)
    finish()
    return queries


class QueryCatalog:
    """Every named query of a directory plus fsapp's built-in ones; names are `file.name`."""

    def __init__(self, directory: str | Path | None, extra_dirs: tuple[Path, ...] = (BUILTIN_QUERIES,)):
        self.directory = Path(directory) if directory else None
        self.queries: dict[str, NamedQuery] = {}
        for d in (*extra_dirs, *( [self.directory] if self.directory else [])):
            if not d.is_dir():
                if d is self.directory:
                    raise StoreConfigError(f"queries directory {d} does not exist ([store] queries)")
                continue
            for path in sorted(d.glob("*.sql")):
                for name, q in parse_file(path).items():
                    if name in self.queries and not self.queries[name].source.startswith(str(path)):
                        raise StoreConfigError(f"{q.source}: query {name} is also defined at "
                                               f"{self.queries[name].source}")
                    self.queries[name] = q

    def get(self, name: str) -> NamedQuery:
        try:
            return self.queries[name]
        except KeyError:
            where = self.directory or "(no queries dir)"
            near = [n for n in self.queries if n.split(".")[-1] == name.split(".")[-1]]
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise UnknownQuery(f"unknown query {name!r}: no '-- name: {name.split('.')[-1]}' in "
                               f"{where}/{name.split('.')[0]}.sql{hint}") from None

    def names(self) -> list[str]:
        return sorted(self.queries)

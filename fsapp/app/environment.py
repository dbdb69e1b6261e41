"""The validation environment from the configuration: which prompts exist per language,
which named queries, queues, calendars and store write kinds are defined.

A source that does not exist is skipped with a note (printed by `fsapp validate`), so a
flow author without a database or a routing config can still validate the flow's own
structure. A source that exists but is broken (a catalog entry without its English text,
a bad calendar) is a problem: the flows cannot be checked against it, so validation fails
with that source's own file:line messages.

Setup, so it lives in fsapp.app: the flow language (fsapp.flow) takes the Environment it
is handed (`compile_paths(paths, env)`, `FlowHandler(..., env=...)`) and reads no
configuration itself.
"""
from __future__ import annotations

import re
from pathlib import Path

from fsapp.calendar import load_calendars
from fsapp.flow.compiler import Environment
from fsapp.flow.model import Problem
from fsapp.routing.config import load_routing
from fsapp.sounds.catalog import Catalog, CatalogError
from fsapp.store.queries import QueryCatalog
from fsapp.store.schema import WRITE_KINDS

_WHERE = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?:(?P<col>\d+):)?\s*(?P<message>.*)$", re.S)


def from_config(cfg) -> Environment:
    notes: list[str] = []
    problems: list[Problem] = []
    has_prompt = _prompts(cfg, notes, problems)
    queries = _queries(cfg, notes, problems)
    calendars = _calendars(cfg, notes, problems)
    queues = _queues(cfg, notes, problems)
    return Environment(has_prompt=has_prompt, queries=queries, queues=queues, calendars=calendars,
                       tts=bool(cfg.get("flows", "tts")), write_kinds=_write_kinds(),
                       max_yaml_values=cfg.get("flows", "max_yaml_values"),
                       notes=tuple(notes), problems=tuple(problems))


def _problem(text: str, default_file: str, hint: str) -> Problem:
    """A source's 'file:line: message' as a Problem (line 1 when it names no line)."""
    match = _WHERE.match(text.strip())
    if match:
        return Problem(match["file"], int(match["line"]), int(match["col"] or 1), match["message"], hint)
    return Problem(default_file, 1, 1, text.strip(), hint)


def _prompts(cfg, notes, problems):
    path = Path(cfg.get("sounds", "dir")) / "catalog.yaml"
    if not path.is_file():
        notes.append(f"prompts not checked: {path} not found ([sounds] dir)")
        return None
    try:
        catalog = Catalog.load(path)
    except CatalogError as exc:
        hint = "fix the prompt catalog: flows are checked against it"
        problems.extend(_problem(text, str(path), hint) for text in exc.problems)
        return None
    return catalog.has


def _queries(cfg, notes, problems):
    directory = cfg.get("store", "queries")
    return _names(directory, Path(directory).is_dir(), "query", "[store] queries", "named query",
                  lambda: QueryCatalog(directory).names(), notes, problems)


def _calendars(cfg, notes, problems):
    path = cfg.get("flows", "calendars")
    return _names(path, Path(path).is_file(), "calendar", "[flows] calendars", "calendar",
                  lambda: load_calendars(path), notes, problems)


def _names(where, present: bool, what: str, setting: str, fix: str, load, notes, problems):
    """The names a source defines, for checking flows against; a missing source is a note (the
    names are not checked), a broken one a problem with its file:line (ValueError carries it:
    StoreConfigError for a bad .sql header, SourceError for YAML)."""
    if not present:
        notes.append(f"{what} names not checked: {where}{'/' if what == 'query' else ''} not found ({setting})")
        return None
    try:
        return frozenset(load())
    except ValueError as exc:
        problems.append(_problem(str(exc), str(where), f"fix the {fix}: flows are checked against it"))
        return None


def _queues(cfg, notes, problems):
    """Queue names from the routing config (routing.yaml, fsapp.routing.config)."""
    path = Path(cfg.get("routing", "config"))
    if not path.is_file():
        notes.append(f"queue names not checked: {path} not found ([routing] config)")
        return None
    try:
        return frozenset(load_routing(path).queues)
    except ValueError as exc:
        problems.append(_problem(str(exc), str(path), "fix the routing config: flows are checked against it"))
        return None


def _write_kinds():
    """Columns a `write` row may name, per kind: the store's own tables."""
    return {kind: frozenset(c.name for c in table.columns if c.name not in ("id", "idem_key"))
            for kind, table in WRITE_KINDS.items()}

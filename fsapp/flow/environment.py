"""The validation environment from the configuration: which prompts exist per language,
which named queries, queues and calendars are defined.

Each source is optional: when one cannot be loaded the matching check is skipped and a
note says why (printed by `fsapp validate`), so a flow author without a database or a
routing config can still validate the flow's own structure.
"""
from __future__ import annotations

from pathlib import Path

from fsapp.flow.compiler import Environment


def from_config(cfg) -> Environment:
    notes: list[str] = []
    has_prompt = _prompts(cfg, notes)
    queries = _queries(cfg, notes)
    calendars = _calendars(cfg, notes)
    queues = _queues(cfg, notes)
    return Environment(has_prompt=has_prompt, queries=queries, queues=queues, calendars=calendars,
                       tts=bool(cfg.get("flows", "tts")), write_kinds=_write_kinds(notes),
                       notes=tuple(notes))


def _write_kinds(notes):
    """Columns a `write` row may name, per kind: the store's own tables."""
    try:
        from fsapp.store.schema import WRITE_KINDS
    except ImportError as exc:
        notes.append(f"write kinds not checked: {exc}")
        return None
    return {kind: frozenset(c.name for c in table.columns if c.name not in ("id", "idem_key"))
            for kind, table in WRITE_KINDS.items()}


def _prompts(cfg, notes):
    path = Path(cfg.get("sounds", "dir")) / "catalog.yaml"
    try:
        from fsapp.sounds.catalog import Catalog
        catalog = Catalog.load(path)
    except FileNotFoundError:
        notes.append(f"prompts not checked: {path} not found ([sounds] dir)")
        return None
    except Exception as exc:  # a broken catalog is the sounds owner's error, reported as a note
        notes.append(f"prompts not checked: {path}: {exc}")
        return None
    return catalog.has


def _queries(cfg, notes):
    directory = cfg.get("store", "queries")
    if not Path(directory).is_dir():
        notes.append(f"query names not checked: {directory}/ not found ([store] queries)")
        return None
    try:
        from fsapp.store.queries import QueryCatalog
        return frozenset(QueryCatalog(directory).names())
    except Exception as exc:
        notes.append(f"query names not checked: {exc}")
        return None


def _calendars(cfg, notes):
    path = cfg.get("flows", "calendars")
    if not Path(path).is_file():
        notes.append(f"calendar names not checked: {path} not found ([flows] calendars)")
        return None
    try:
        from fsapp.calendar import load_calendars
        return frozenset(load_calendars(path))
    except Exception as exc:
        notes.append(f"calendar names not checked: {exc}")
        return None


def _queues(cfg, notes):
    """Queue names from the routing config (routing.yaml, fsapp.routing.config)."""
    path = Path(cfg.get("routing", "config"))
    if not path.is_file():
        notes.append(f"queue names not checked: {path} not found ([routing] config)")
        return None
    try:
        from fsapp.routing.config import load_routing
        return frozenset(load_routing(path).queues)
    except Exception as exc:  # the routing owner's error; flows can still be checked
        notes.append(f"queue names not checked: {path}: {exc}")
        return None

"""Rows written through the outbox: checked against their table before anything else.

A typo in a flow (unknown kind, unknown column, missing required value, a serial that
fails its check digit) raises ValueError at once: that is a bug to fix, not a row to
spool and replay forever. Values are coerced to the column's type; over-long text is
cut to the column's length (with a warning) rather than rejected, since losing the end
of a summary beats losing the ticket.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from fsapp.log import get_logger

from . import schema
from .dialects import Column, Table
from .serials import is_valid_serial

log = get_logger("fsapp.store.rows")


def now() -> dt.datetime:
    """Naive local time to the millisecond: what every fsapp timestamp column holds."""
    t = dt.datetime.now()
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def prepare_row(kind: str, row: dict, key: str, stamp: dt.datetime | None = None) -> tuple[Table, dict]:
    """Check a row against its table now (a typo is a bug to fix, not a row to spool)."""
    table = schema.WRITE_KINDS.get(kind)
    if table is None:
        raise ValueError(f"unknown write kind {kind!r}; known: {', '.join(schema.WRITE_KINDS)}")
    if not isinstance(key, str) or not key.strip() or len(key) > 200:
        raise ValueError(f"{kind}: idempotency key must be a non-empty string of at most 200 "
                         f"characters, e.g. f'{{call_uuid}}:{kind}', got {key!r}")
    out = dict(row)
    writable = table.writable
    unknown = [c for c in out if c not in writable]
    if unknown:
        raise ValueError(f"{kind}: unknown column(s) {', '.join(unknown)}; {table.name} has: "
                         f"{', '.join(writable)}")
    stamp = stamp or now()
    out.setdefault("created_at", stamp)
    if kind == "ticket":
        out.setdefault("status", "accepted")
        out.setdefault("accepted_at", stamp)
        if not is_valid_serial(out.get("serial")):
            raise ValueError(f"ticket: serial {out.get('serial')!r} is not a valid serial; "
                             f"get one from store.next_ticket_serial()")
        if out.get("kind") not in schema.TICKET_KINDS:
            raise ValueError(f"ticket: kind must be one of {', '.join(schema.TICKET_KINDS)}, "
                             f"got {out.get('kind')!r}")
        if out["status"] not in schema.TICKET_STATUSES:
            raise ValueError(f"ticket: status must be one of {', '.join(schema.TICKET_STATUSES)}")
    elif kind == "queue_event":
        out.setdefault("event_at", stamp)
    elif kind == "node_visit":
        out.setdefault("entered_at", stamp)
    for name, col in writable.items():
        value = out.get(name)
        if value is None:
            if not col.nullable:
                raise ValueError(f"{kind}: column {name} is required")
            continue
        if not _fits(col, value):
            out[name] = coerce(kind, col, value)
    return table, out


def _fits(col: Column, value: Any) -> bool:
    """Already what coerce would make of it, as most values of a call's rows are: every
    column of every row went through coerce for nothing (a node visit's three timestamps
    each rebuilt by datetime.replace), about a third of the cost of preparing a row."""
    kind = type(value)
    if kind is str:
        return col.type in ("str", "text") and len(value) <= col.length
    if kind is int:
        return col.type in ("int", "bigint")
    if kind is dt.datetime:
        return col.type == "datetime" and value.tzinfo is None and value.microsecond % 1000 == 0
    return False


def coerce(kind: str, col: Column, value: Any) -> Any:
    where = f"{kind}: column {col.name}"
    if col.type in ("str", "text"):
        value = value if isinstance(value, str) else str(value)
        if len(value) > col.length:
            log.warning("value truncated to column length", extra={"column": col.name, "length": col.length})
            value = value[:col.length]
        return value
    if col.type in ("int", "bigint"):
        if isinstance(value, bool) or not isinstance(value, (int, Decimal, float, str)):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{where}: expected an integer, got {value!r}") from None
    if col.type == "decimal":
        try:
            return Decimal(str(value))
        except ArithmeticError:
            raise ValueError(f"{where}: expected a decimal, got {value!r}") from None
    if col.type == "datetime":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if not isinstance(value, dt.datetime):
            raise ValueError(f"{where}: expected a datetime, got {value!r}")
        if value.tzinfo is not None:  # stored as naive local time
            value = value.astimezone().replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    if col.type == "date":
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        if isinstance(value, dt.datetime):
            value = value.date()
        if not isinstance(value, dt.date):
            raise ValueError(f"{where}: expected a date, got {value!r}")
        return value
    raise AssertionError(col.type)

"""Running SQL inside a worker thread: fetching typed rows, splitting scripts."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from .pool import Conn


def split_script(text: str) -> list[str]:
    """Split SQL text on ; outside quotes; drop -- comments and blank statements."""
    statements, buf, quote = [], [], None
    for line in text.splitlines():
        if quote is None and line.strip().startswith("--"):
            continue
        for ch in line + "\n":
            if quote:
                quote = None if ch == quote else quote
            elif ch in ("'", '"'):
                quote = ch
            elif ch == ";":
                statements.append("".join(buf).strip())
                buf = []
                continue
            buf.append(ch)
    statements.append("".join(buf).strip())
    return [s for s in statements if s]


def fetch(conn: Conn, sql: str, args: list) -> list[dict]:
    """In a worker thread: execute and return rows as dicts with typed values."""
    cur = conn.raw.cursor()
    cur.execute(sql, conn.dialect.adapt_params(args)) if args else cur.execute(sql)
    if cur.description is None:
        return []
    names = [d[0].lower() for d in cur.description]
    kinds = [d[1] for d in cur.description]
    rows = cur.fetchall()
    out = []
    for r in rows:
        row = {}
        for name, kind, value in zip(names, kinds, r):
            # Drivers without native types (SQLite) hand back text/float for DECIMAL and dates.
            if value is not None and kind is Decimal and not isinstance(value, Decimal):
                value = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
            elif isinstance(value, str) and kind is dt.datetime:
                value = dt.datetime.fromisoformat(value)
            elif isinstance(value, str) and kind is dt.date:
                value = dt.date.fromisoformat(value[:10])
            row[name] = value
        out.append(row)
    return out

"""Insert-if-absent of outbox rows, in a worker thread: one row, or a batch of groups
(each group one writer's rows: a call's record and node visits) in one transaction.

Every function here runs in a worker thread on a checked-out connection; none may run
on the gevent hub (pyodbc blocks).
"""
from __future__ import annotations

import itertools
from typing import Callable

import pyodbc

from .dialects import Table
from .errors import QueryError
from .pool import Conn, classify

Item = tuple[Table, dict, str]          # (table, prepared row, idempotency key)
Outcome = bool | QueryError             # inserted, already there (False), or refused alone


def insert_row(conn: Conn, table: Table, row: dict, key: str, cur=None) -> bool:
    """Insert if no row has this key. True if inserted, False if it was already there."""
    columns = ["idem_key", *row]
    values = [key, *row.values()]
    cur = cur or conn.raw.cursor()
    sql = conn.dialect.insert_ignore(table.name, columns)
    try:
        cur.execute(sql, conn.dialect.adapt_params(values))
        if cur.rowcount == 1:
            return True
    except pyodbc.Error:
        # A concurrent insert of the same key (a MERGE race)? Only if the row is there.
        if not cur.execute(f"SELECT 1 FROM {table.name} WHERE idem_key = ?", key).fetchall():
            raise
        return False
    if not cur.execute(f"SELECT 1 FROM {table.name} WHERE idem_key = ?", key).fetchall():
        raise QueryError(f"{table.name}: insert of key {key!r} was refused by another unique "
                         f"constraint (duplicate serial?)")
    return False


def insert_groups(conn: Conn, groups: list[list[Item]], timeout: float) -> list[list[Outcome]]:
    """Every group's rows in one transaction (one commit for all of them); per group, per
    row, its outcome. A lost connection or the deadline raises, for the whole batch."""
    items = [item for group in groups for item in group]
    if len(items) == 1:
        return [[_row_alone(conn, items[0], timeout)]]
    try:
        outcomes = _in_one_transaction(conn, items)
    except pyodbc.Error:
        # A statement error: a row refused with an error (another unique constraint, e.g.
        # a ticket serial under a second key). PostgreSQL aborts the whole transaction on
        # it, so the batch cannot simply go on without that row. Each group is written
        # again on its own, exactly as it was before groups shared a transaction: the
        # other writers' rows go in, the refused row is answered alone. Not a SAVEPOINT
        # per group: that costs a round trip per group on every batch, for a refusal that
        # is a rare bug, while this retry costs only the batches that meet one.
        return [insert_group(conn, group, timeout) for group in groups]
    answers, start = [], 0
    for group in groups:
        answers.append(outcomes[start:start + len(group)])
        start += len(group)
    return answers


def insert_group(conn: Conn, items: list[Item], timeout: float) -> list[Outcome]:
    """One writer's rows: in one transaction, or when a statement error aborts that, row
    by row (each its own transaction), so one bad row does not take the others with it."""
    if len(items) > 1:
        try:
            return _in_one_transaction(conn, items)
        except pyodbc.Error:
            pass
    return [_row_alone(conn, item, timeout) for item in items]


def _in_one_transaction(conn: Conn, items: list[Item]) -> list[Outcome]:
    """Rolled back and re-raised on a driver error."""
    conn.raw.autocommit = False
    try:
        try:
            outcomes = _insert_runs(conn, items)
        except _NotAllNew:
            # A multi-row INSERT left some row out: already there (a replay of a spooled
            # batch) or refused. Its rowcount does not say which, so the transaction
            # starts over row by row, where each row gets its own answer.
            conn.raw.rollback()
            outcomes = _insert_each(conn, items)
        conn.raw.commit()
        return outcomes
    except pyodbc.Error:
        _rollback_quietly(conn)
        raise
    finally:
        conn.raw.autocommit = True


# Parameters per statement stay under SQLite's historical limit (999 before 3.32);
# PostgreSQL's and MariaDB's (65535) are above it.
MAX_PARAMS_PER_STATEMENT = 999


class _NotAllNew(Exception):
    """A multi-row INSERT inserted fewer rows than it carried."""


def _insert_runs(conn: Conn, items: list[Item]) -> list[Outcome]:
    """Consecutive rows of the same table and columns go as one multi-row INSERT (a call's
    node visits: one statement instead of 18). Only consecutive ones: the batch's order
    is kept, so a row never goes before one that it might reference."""
    outcomes: list[Outcome] = []
    cursors: dict[tuple, pyodbc.Cursor] = {}      # the lone rows' prepared statements, shared
    for run in _runs(items):
        if len(run) == 1 or not conn.dialect.multi_row_insert:
            outcomes.extend(_insert_each(conn, run, cursors))
            continue
        per_statement = max(1, MAX_PARAMS_PER_STATEMENT // (len(run[0][1]) + 1))
        for start in range(0, len(run), per_statement):
            chunk = run[start:start + per_statement]
            _insert_all_new(conn, chunk)
            outcomes.extend([True] * len(chunk))
    return outcomes


def _runs(items: list[Item]) -> list[list[Item]]:
    """The items cut where the table or the columns (in their order) change."""
    return [list(run) for _shape, run in itertools.groupby(items, key=lambda item: (item[0].name, *item[1]))]


def _insert_all_new(conn: Conn, items: list[Item]) -> None:
    """Rows of one table with the same columns in one statement; _NotAllNew unless every
    one of them was inserted."""
    table, first, _key = items[0]
    columns = ["idem_key", *first]
    values: list = []
    for _table, row, key in items:
        values.append(key)
        values.extend(row.values())
    cur = conn.raw.cursor()
    cur.execute(conn.dialect.insert_ignore_rows(table.name, columns, len(items)),
                conn.dialect.adapt_params(values))
    if cur.rowcount != len(items):
        raise _NotAllNew


def _insert_each(conn: Conn, items: list[Item], cursors: dict | None = None) -> list[Outcome]:
    """Row by row, each answered on its own (in the caller's transaction)."""
    # A cursor per statement: pyodbc prepares a statement once and reuses it while the
    # cursor's SQL stays the same, and a batch alternates call records and node visits.
    cursors = {} if cursors is None else cursors

    def cursor_for(table: Table, row: dict) -> pyodbc.Cursor:
        shape = (table.name, *row)
        cur = cursors.get(shape)
        if cur is None:
            cur = cursors[shape] = conn.raw.cursor()
        return cur
    return [_refusal(lambda item=item: insert_row(conn, *item, cur=cursor_for(item[0], item[1])))
            for item in items]


def _row_alone(conn: Conn, item: Item, timeout: float) -> Outcome:
    """One row in its own (autocommit) transaction; a refusal is its answer, a lost link raises."""
    try:
        return _refusal(lambda: insert_row(conn, *item))
    except pyodbc.Error as exc:
        error = classify(conn, exc, timeout)
        if type(error) is not QueryError:
            raise error from None    # the link or the deadline: the whole batch
        return error


def _refusal(insert: Callable[[], bool]) -> Outcome:
    """A row another unique constraint refused is that row's answer, not the batch's."""
    try:
        return insert()
    except QueryError as exc:
        return exc


def _rollback_quietly(conn: Conn) -> None:
    try:
        conn.raw.rollback()
    except pyodbc.Error:  # the link may be gone; the next statement says so
        pass

"""Pooled pyodbc connections whose every call runs in a gevent thread pool.

pyodbc is blocking C code (it releases the GIL while the driver works). Running it on
the gevent hub would freeze every call in the process for as long as one query takes;
so the hub only hands out connections and waits on a ThreadResult with a deadline,
and the driver call runs in a worker thread.

Pool bookkeeping (idle list, count) is touched only from the hub, never from a worker
thread, so it needs no locks. When a caller's deadline passes while its query is
still running, the caller gets QueryTimeout at once; the worker finishes in its own
time and a hub callback then returns (or discards) the connection.

unixODBC's own pooling is switched off (pyodbc.pooling = False): a pool we can see
and reason about beats one configured in odbcinst.ini.
"""
from __future__ import annotations

import collections
import re
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import gevent
import pyodbc
from gevent.event import Event
from gevent.threadpool import ThreadPool

from fsapp.log import get_logger

from .dialects import Dialect, dialect_from_dbms
from .errors import QueryError, QueryTimeout, StoreError, StoreUnavailable

pyodbc.pooling = False
log = get_logger("fsapp.store.pool")

# Native error codes that mean "connection gone" although the SQLSTATE says HY000.
_MYSQL_GONE = re.compile(r"\((2002|2003|2006|2013|2055)\)")


def describe_odbc(odbc: str) -> str:
    """The connection string with passwords masked, for logs and error messages."""
    return re.sub(r"(?i)((?:pwd|password)\s*=\s*)(\{[^}]*\}|[^;]*)", r"\1***", odbc)


@dataclass
class Conn:
    raw: Any                       # pyodbc.Connection
    dialect: Dialect
    dbms_name: str
    created: float = field(default_factory=time.monotonic)
    timeout_set: float | None = None   # statement timeout currently set on the session
    broken: bool = False
    uses: int = 0


class ConnectionPool:
    """At most `size` connections to one database; callers wait up to their deadline."""

    def __init__(self, name: str, odbc: str, threads: ThreadPool, *, size: int = 5,
                 connect_timeout: float = 5.0, query_timeout: float = 10.0,
                 dialect: Dialect | None = None):
        self.name = name
        self.odbc = odbc
        self.threads = threads
        self.size = size
        self.connect_timeout = connect_timeout
        self.query_timeout = query_timeout
        self.dialect = dialect              # from config/driver name; confirmed on connect
        self.dbms_name = ""
        self._idle: list[Conn] = []
        self._count = 0                     # connections open or being opened
        # callers waiting for a connection, first come first served: a released connection
        # wakes one of them, not all (with hundreds of calls waiting, waking every one of
        # them for each release was a cost that grew with the square of the queue)
        self._waiters: collections.deque[Event] = collections.deque()

    # --- connections -------------------------------------------------------------------
    def _open(self) -> Conn:  # runs in a worker thread
        try:
            raw = pyodbc.connect(self.odbc, autocommit=True, timeout=max(1, int(round(self.connect_timeout))))
        except pyodbc.Error as exc:
            raise StoreUnavailable(f"connection {self.name!r} ({describe_odbc(self.odbc)}): "
                                   f"cannot connect: {_message(exc)}") from None
        dbms = raw.getinfo(pyodbc.SQL_DBMS_NAME) or ""
        dialect = self.dialect or dialect_from_dbms(dbms)
        if dialect.name in ("sqlite",):
            # pyodbc returns str for sqlite TEXT; decode as UTF-8 like every other driver.
            raw.setdecoding(pyodbc.SQL_CHAR, encoding="utf-8")
        elif dialect.name == "mysql":
            # MariaDB Connector/ODBC hands long wide-character values back in chunks that
            # pyodbc's default UTF-16 decoding misaligns after ~256 bytes (a menu path came
            # back as 'm椀氀戀漀...'); speaking UTF-8 both ways avoids the wide path entirely.
            raw.setdecoding(pyodbc.SQL_CHAR, encoding="utf-8")
            raw.setdecoding(pyodbc.SQL_WCHAR, encoding="utf-8")
            raw.setencoding(encoding="utf-8")
        return Conn(raw, dialect, dbms)

    def _checkout(self, deadline: float) -> tuple[Conn, bool]:
        """Return (connection, reused). Waits on the hub, never blocks it."""
        while True:
            if self._idle:
                return self._idle.pop(), True
            if self._count < self.size:
                self._count += 1
                try:
                    conn = self._in_thread(self._open, deadline, what="connect")
                except BaseException:
                    self._count -= 1
                    self._wake()
                    raise
                self.dialect, self.dbms_name = conn.dialect, conn.dbms_name
                return conn, False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise QueryTimeout(f"connection {self.name!r}: all {self.size} pooled connections busy "
                                   f"until the deadline; raise pool_size or check for slow queries")
            waiter = Event()
            self._waiters.append(waiter)
            try:
                waiter.wait(remaining)
            except BaseException:                  # killed while waiting (a hung-up call)
                if waiter.is_set():
                    self._wake()                   # woken, but leaving: the next one's turn
                else:
                    self._waiters.remove(waiter)
                raise
            if not waiter.is_set():
                self._waiters.remove(waiter)       # the deadline passed: QueryTimeout above

    def _wake(self, n: int = 1) -> None:
        for _ in range(min(n, len(self._waiters))):
            self._waiters.popleft().set()

    def _checkin(self, conn: Conn) -> None:
        if conn.broken:
            self._count -= 1
            self.threads.spawn(_close_quietly, conn)
        else:
            self._idle.append(conn)
        self._wake()

    def discard_idle(self) -> None:
        """After a lost connection the idle ones are probably dead too (server restart)."""
        stale, self._idle = self._idle, []
        self._count -= len(stale)
        for conn in stale:
            self.threads.spawn(_close_quietly, conn)
        self._wake(len(self._waiters))

    def close(self) -> None:
        self.discard_idle()

    # --- running work --------------------------------------------------------------------
    def _in_thread(self, fn: Callable, deadline: float, *args, what: str = "query",
                   on_done: Callable | None = None):
        # Exceptions travel back as values: gevent's pool would print a traceback for
        # every expected failure (a refused connection, a rejected query) otherwise.
        result = self.threads.spawn(_capture, fn, *args)
        if on_done is not None:
            result.rawlink(on_done)
        remaining = deadline - time.monotonic()
        try:
            ok, value = result.get(timeout=max(0.0, remaining))
        except gevent.Timeout:
            raise QueryTimeout(f"connection {self.name!r}: {what} did not finish within its deadline") from None
        if not ok:
            raise value
        return value

    def run(self, work: Callable[[Conn, float], Any], timeout: float | None = None) -> Any:
        """Run work(conn, timeout) in a worker thread on a pooled connection.

        Connection-level failures come back as StoreUnavailable. If the failure happened
        on a reused idle connection (e.g. the server restarted since), it is retried once
        on a fresh connection: every statement fsapp sends is a read or an idempotent
        write, so the retry is safe.
        """
        timeout = self.query_timeout if timeout is None else timeout
        # The DB-side statement timeout fires first; the hub-side deadline is the backstop
        # for drivers that ignore it (and for connect, which has its own timeout).
        deadline = time.monotonic() + timeout + min(2.0, timeout / 2) + self.connect_timeout
        for attempt in (1, 2):
            conn, reused = self._checkout(deadline)
            done = lambda _result, conn=conn: self._checkin(conn)  # noqa: E731
            try:
                return self._in_thread(_guarded, deadline, conn, work, timeout, on_done=done)
            except StoreUnavailable:
                if conn.broken:
                    self.discard_idle()
                if attempt == 1 and reused and conn.broken and time.monotonic() < deadline:
                    log.info("retrying on a fresh connection", extra={"connection": self.name})
                    continue
                raise

    def stats(self) -> dict:
        return {"open": self._count, "idle": len(self._idle), "size": self.size}


def _capture(fn: Callable, *args) -> tuple[bool, Any]:
    try:
        return True, fn(*args)
    except Exception as exc:  # noqa: BLE001 - re-raised on the hub by _in_thread
        _release_frames(exc)
        return False, exc


def _release_frames(exc: BaseException) -> None:
    """Drop the local variables of the frames an exception from a worker thread carries
    (its traceback, and those of the exceptions it was raised from or during), here in
    the worker thread. Those locals hold cursors: carried to the hub, a cursor was freed
    there, later, whenever the exception was, and if its connection was being closed by
    another thread at that moment (a broken or idle one, store.close()) pyodbc set
    "The cursor's connection was closed" during the deallocation, an error that then
    surfaced in whatever greenlet ran next (seen once in a loaded test run, inside a
    connect's wait). Freed here, a cursor goes while its connection is still checked out."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        traceback.clear_frames(e.__traceback__)
        todo += [e.__cause__, e.__context__]


def _close_quietly(conn: Conn) -> None:
    try:
        conn.raw.close()
    except Exception:  # noqa: BLE001 - closing a dead connection may fail in many ways
        pass


def _message(exc: BaseException) -> str:
    if isinstance(exc, pyodbc.Error) and len(exc.args) >= 2:
        return re.sub(r"\s+", " ", str(exc.args[1])).strip()
    return str(exc)


def _sqlstate(exc: BaseException) -> str:
    return str(exc.args[0]) if isinstance(exc, pyodbc.Error) and exc.args else ""


def set_timeout(conn: Conn, seconds: float) -> None:
    if conn.timeout_set == seconds:
        return
    stmt = conn.dialect.timeout_statement(seconds, conn.dbms_name)
    if stmt:
        conn.raw.cursor().execute(stmt).close()
    else:
        conn.raw.timeout = max(1, int(round(seconds)))
    conn.timeout_set = seconds


def _guarded(conn: Conn, work: Callable[[Conn, float], Any], timeout: float) -> Any:
    """In the worker thread: run work, then sort a failure into unavailable vs rejected."""
    conn.uses += 1
    try:
        set_timeout(conn, timeout)
        return work(conn, timeout)
    except pyodbc.Error as exc:
        raise classify(conn, exc, timeout) from None


def classify(conn: Conn, exc: pyodbc.Error, timeout: float) -> StoreError:
    """In the worker thread: what a driver error means. QueryTimeout, StoreUnavailable
    (the link is gone: conn is marked broken) or QueryError (the statement was refused on
    a live link)."""
    state, msg = _sqlstate(exc), _message(exc)
    if conn.dialect.is_timeout(state, msg):
        return QueryTimeout(f"query timed out after {timeout:g}s: {msg}")
    if state.startswith("08") or _MYSQL_GONE.search(msg) or state in ("57P01", "57P02", "57P03"):
        conn.broken = True
        return StoreUnavailable(f"connection lost: {msg}")
    # Is it the statement or the link? Ask the link.
    try:
        conn.raw.cursor().execute(conn.dialect.ping_sql).fetchall()
    except pyodbc.Error:
        conn.broken = True
        return StoreUnavailable(f"connection lost: {msg}")
    return QueryError(f"[{state}] {msg}")

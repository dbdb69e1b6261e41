"""The Store: named queries, fsapp's own tables and the durable outbox, on pyodbc.

    store = Store(connections={"main": "Driver={SQLite3};Database=var/fsapp.db",
                               "billing": {"odbc": "DSN=billing;Uid=ivr;Pwd=${BILLING_PWD}",
                                           "pool_size": 4, "query_timeout": 3}},
                  queries_dir="queries", spool_dir="var/spool")
    rows = store.query("utility.accounts_by_caller", {"caller": "13800138000"})
    store.write("survey_answer", {...}, key=f"{call.uuid}:q1")
    serial = store.next_ticket_serial()

Every database call runs in a gevent thread pool (see pool.py). A circuit breaker per
connection stops hammering a dead database. Writes of what callers left go through
the outbox (outbox.py): written directly when the database answers, spooled to disk
when it does not, replayed exactly once by a background greenlet.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Callable

import gevent
import pyodbc
from gevent.event import Event
from gevent.lock import RLock
from gevent.threadpool import ThreadPool

from fsapp.log import get_logger

from . import migrations, schema
from .breaker import CircuitBreaker
from .connections import parse_connection, sqlite_path, sqlite_prepare
from .dialects import Dialect, Table, dialect_from_connection_string, get_dialect
from .errors import QueryError, StoreConfigError, StoreError, StoreUnavailable
from .group_commit import GroupCommitter
from .inserts import insert_groups, insert_row
from .outbox import Outbox, Record, ReplayReport
from .pool import Conn, ConnectionPool, describe_odbc
from .queries import NamedQuery, QueryCatalog
from .rows import now as _now
from .rows import prepare_row
from .serial_alloc import SerialAllocator
from .serials import MAX_NUMBER
from .sqlexec import fetch, split_script

log = get_logger("fsapp.store")

WriteStatus = str  # "written" | "duplicate" (key already stored) | "spooled"


class Store:
    def __init__(self, connections: dict[str, Any], queries_dir: str | os.PathLike | None = None,
                 spool_dir: str | os.PathLike = "var/spool", *, default: str = "main", threads: int = 10,
                 connect_timeout: float = 5.0, query_timeout: float = 10.0, serial_block: int = 100,
                 breaker_failures: int = 3, breaker_cooldown: float = 2.0, replay_interval: float = 1.0,
                 start: bool = True):
        if not connections:
            raise StoreConfigError("no database connections configured: add [store.connections.main]")
        self.specs = {name: parse_connection(name, value) for name, value in connections.items()}
        if default not in self.specs:
            raise StoreConfigError(f"[store] default = {default!r} names no connection; "
                                   f"configured: {', '.join(self.specs)}")
        self.default = default
        # What "now" is for row stamps (created_at, accepted_at, ...) and for the `now` /
        # `today` query defaults: the wall clock, or one the caller pins (the demo runs at a
        # fixed moment, and its tickets must not look overdue against a different clock).
        self.clock: Callable[[], dt.datetime] = _now
        self.catalog = QueryCatalog(queries_dir)
        self.threads = ThreadPool(max(1, threads))
        self.pools: dict[str, ConnectionPool] = {}
        self.breakers: dict[str, CircuitBreaker] = {}
        # SQLite files that did not exist when the store opened: SQLite creates them empty
        # on first connect, which is right for a new install and wrong for a typo
        self.new_sqlite_files: dict[str, Path] = {}
        for name, spec in self.specs.items():
            dialect = get_dialect(spec.dialect) if spec.dialect else dialect_from_connection_string(spec.odbc)
            if dialect and dialect.name == "sqlite":
                path = sqlite_path(spec.odbc)
                if path is not None and not path.exists():
                    self.new_sqlite_files[name] = path
            odbc = sqlite_prepare(spec.odbc) if dialect and dialect.name == "sqlite" else spec.odbc
            self.pools[name] = ConnectionPool(
                name, odbc, self.threads, size=spec.pool_size,
                connect_timeout=spec.connect_timeout or connect_timeout,
                query_timeout=spec.query_timeout or query_timeout, dialect=dialect)
            self.breakers[name] = CircuitBreaker(name, breaker_failures, breaker_cooldown)
        self.spool_dir = Path(spool_dir)
        self.outbox = Outbox(self.spool_dir)
        self.serials = SerialAllocator(self.spool_dir / "serials.state", serial_block, self._reserve_serials)
        self.replay_interval = replay_interval
        # per connection: calls that failed because the server was unavailable (the
        # fsapp_db_errors_total metric; fsapp.live reads it, the store imports nothing of it)
        self.unavailable_errors: dict[str, int] = {}
        # write_many's rows go through one committer: writes that arrive together share a
        # transaction (all on the default connection, where write_many writes)
        self.committer = GroupCommitter(self._write_batch)
        self._replay_lock = RLock()
        self._wake = Event()
        self._replayer: gevent.Greenlet | None = None
        self._closed = False
        if start:
            self.start()

    @classmethod
    def from_config(cls, cfg, **overrides) -> "Store":
        s = cfg.section("store")
        kwargs = dict(default=s["default"], threads=s["threads"], connect_timeout=s["connect_timeout"],
                      query_timeout=s["query_timeout"], serial_block=s["serial_block"],
                      breaker_failures=s["breaker_failures"], breaker_cooldown=s["breaker_cooldown"])
        kwargs.update(overrides)
        return cls(s["connections"], queries_dir=s["queries"], spool_dir=s["spool"], **kwargs)

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        """Start the outbox replayer (drains rows left by a crashed run too)."""
        if self._replayer is None or self._replayer.dead:
            self._replayer = gevent.spawn(self._replay_loop)
            self._wake.set()
            gevent.spawn(self._top_up_serials)   # a spare block on hand before any outage

    def _top_up_serials(self) -> None:
        """Reserve a spare block of ticket serials, unless fsapp's tables do not exist yet
        (a new database before `fsapp db init`: nothing to warn about, and a serial is
        reserved when one is first needed). A database that cannot be reached at all is
        the outage the spare block is for: the allocator says so and retries."""
        try:
            if self.schema_version() is None:
                log.debug("no fsapp tables yet (`fsapp db init`): no spare serial block reserved")
                return
        except StoreError:
            pass
        self.serials.ensure_spare()

    def close(self) -> None:
        self._closed = True
        self.committer.finish(timeout=30)      # writes already queued are written or spooled
        if self._replayer is not None:
            self._replayer.kill(block=True, timeout=5)
        self.serials.stop()
        self.outbox.close()
        for pool in self.pools.values():
            pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- running SQL -------------------------------------------------------------------
    def pool(self, connection: str | None = None) -> ConnectionPool:
        name = connection or self.default
        if name not in self.pools:
            raise StoreConfigError(f"no connection named {name!r}: add [store.connections.{name}] "
                                   f"(configured: {', '.join(self.pools)})")
        return self.pools[name]

    def dialect(self, connection: str | None = None) -> Dialect:
        pool = self.pool(connection)
        if pool.dialect is None:       # DSN only: ask the server once
            self.run(lambda conn, _t: None, connection)
        return pool.dialect

    def run(self, work: Callable[[Conn, float], Any], connection: str | None = None,
            timeout: float | None = None) -> Any:
        """Run work(conn, timeout) in the thread pool, under the connection's circuit breaker."""
        name = connection or self.default
        pool, breaker = self.pool(name), self.breakers[name]
        breaker.before_call()
        try:
            result = pool.run(work, timeout)
        except StoreUnavailable:
            breaker.failure()
            self.unavailable_errors[name] = self.unavailable_errors.get(name, 0) + 1
            raise
        except StoreError:
            breaker.neutral()
            raise
        except BaseException:
            breaker.neutral()
            raise
        breaker.success()
        return result

    def execute(self, sql: str, params: tuple | list = (), connection: str | None = None,
                timeout: float | None = None) -> list[dict]:
        """Run one SQL statement (admin use: migrations, scripts). Flows use named queries."""
        return self.run(lambda conn, _t: fetch(conn, sql, list(params)), connection, timeout)

    def execute_script(self, text: str, connection: str | None = None, timeout: float = 120) -> int:
        """Run a ;-separated SQL script (schema and seed files); returns the statement count."""
        statements = split_script(text)

        def work(conn: Conn, _t):
            cur = conn.raw.cursor()
            for i, sql in enumerate(statements, 1):
                try:
                    cur.execute(sql)
                except pyodbc.Error as exc:
                    raise QueryError(f"statement {i} failed: {exc.args[1] if len(exc.args) > 1 else exc}\n"
                                     f"{sql[:300]}") from None
            return len(statements)
        return self.run(work, connection, timeout)

    # --- named queries -----------------------------------------------------------------
    def query_names(self) -> list[str]:
        return self.catalog.names()

    def with_queries(self, directory) -> "Store":
        """This store (the same connections, threads, outbox and serials) answering named
        queries from `directory` as it is now. A flow reload takes one, so new calls get
        the edited queries while calls in progress keep the view they started with."""
        import copy
        view = copy.copy(self)
        view.catalog = QueryCatalog(directory)
        return view

    def named_query(self, name: str) -> NamedQuery:
        return self.catalog.get(name)

    def query(self, name: str, params: dict | None = None, connection: str | None = None,
              timeout: float | None = None) -> list[dict]:
        q = self.catalog.get(name)
        args = q.bind(params, self.clock())
        target = connection or q.connection or self.default
        if target not in self.pools:
            raise StoreConfigError(f"query {name} ({q.source}) runs on connection {target!r}, which is "
                                   f"not configured: add [store.connections.{target}]")
        rows = self.run(lambda conn, _t: fetch(conn, q.sql, args), target, timeout)
        return [q.convert_row(r) for r in rows]

    def query_one(self, name: str, params: dict | None = None, connection: str | None = None,
                  timeout: float | None = None) -> dict | None:
        rows = self.query(name, params, connection, timeout)
        return rows[0] if rows else None

    # --- fsapp's own tables ------------------------------------------------------------
    def describe(self, connection: str | None = None) -> str:
        """A connection for messages: its name and connection string, passwords masked."""
        name = connection or self.default
        return f"{name!r} ({describe_odbc(self.specs[name].odbc)})"

    def schema_version(self, connection: str | None = None) -> int | None:
        """The applied migration version, or None when fsapp's tables do not exist yet."""
        def work(conn: Conn, _t):
            cur = conn.raw.cursor()
            try:
                cur.execute("SELECT MAX(version) FROM fsapp_schema_version")
            except pyodbc.Error:
                # Missing table (any dialect's wording) vs. broken link: the ping decides.
                cur = conn.raw.cursor()
                cur.execute(conn.dialect.ping_sql).fetchall()
                return None
            row = cur.fetchone()
            return None if row is None or row[0] is None else int(row[0])
        return self.run(work, connection)

    def migrate(self, connection: str | None = None, *, require_empty: bool = False) -> list[int]:
        """Apply pending migrations; return the versions applied."""
        current = self.schema_version(connection)
        if require_empty and current is not None:
            raise StoreConfigError(f"connection {connection or self.default!r} already has fsapp tables "
                                   f"(schema version {current}); use `fsapp db migrate` to upgrade")
        if current is not None and current > migrations.LATEST:
            raise StoreConfigError(f"database schema version {current} is newer than this fsapp "
                                   f"({migrations.LATEST}); upgrade fsapp")

        def work(conn: Conn, _t):
            applied = []
            steps: list[tuple[int | None, list[str], str]] = []
            if current is None:
                steps.append((None, migrations.bootstrap_statements(conn.dialect), "version table"))
            for m in migrations.MIGRATIONS:
                if current is None or m.version > current:
                    steps.append((m.version, m.statements(conn.dialect), m.description))
            for version, statements, description in steps:
                transactional = conn.dialect.transactional_ddl
                conn.raw.autocommit = not transactional
                try:
                    cur = conn.raw.cursor()
                    for sql in statements:
                        try:
                            cur.execute(sql)
                        except pyodbc.Error as exc:
                            raise QueryError(f"migration {version or 0} ({description}) failed at:\n{sql}\n"
                                             f"{exc.args[1] if len(exc.args) > 1 else exc}") from None
                    if version is not None:
                        cur.execute("INSERT INTO fsapp_schema_version (version, description, applied_at) "
                                    "VALUES (?, ?, ?)", version, description[:200], _now())
                        applied.append(version)
                    if transactional:
                        conn.raw.commit()
                except BaseException:
                    if transactional:
                        conn.raw.rollback()
                    raise
                finally:
                    conn.raw.autocommit = True
            return applied
        applied = self.run(work, connection, timeout=120)
        if applied:
            log.info("schema migrated", extra={"connection": connection or self.default,
                                               "versions": ",".join(map(str, applied))})
        return applied

    # --- ticket serials ----------------------------------------------------------------
    def next_ticket_serial(self) -> str:
        """8 digits, the last a Luhn check digit (fsapp.store.serials); unique across workers."""
        return self.serials.next()

    def _reserve_serials(self, block: int, name: str = "ticket") -> int:
        def work(conn: Conn, _t):
            cur = conn.raw.cursor()
            for _ in range(50):
                row = cur.execute("SELECT next_value FROM fsapp_serial_blocks WHERE name = ?", name).fetchone()
                if row is None:
                    try:
                        cur.execute("INSERT INTO fsapp_serial_blocks (name, next_value, updated_at) "
                                    "VALUES (?, ?, ?)", name, 1, _now())
                    except pyodbc.Error:
                        # Another worker created it first? (SQLite's driver reports that as
                        # HY000, not IntegrityError.) If the row is still missing, it was not that.
                        if cur.execute("SELECT 1 FROM fsapp_serial_blocks WHERE name = ?", name).fetchone() is None:
                            raise
                    continue
                start = int(row[0])
                if start + block - 1 > MAX_NUMBER:
                    raise QueryError(f"ticket serial numbers exhausted (next {start}, max {MAX_NUMBER})")
                cur.execute("UPDATE fsapp_serial_blocks SET next_value = ?, updated_at = ? "
                            "WHERE name = ? AND next_value = ?", start + block, _now(), name, start)
                if cur.rowcount == 1:
                    return start
            raise QueryError("could not reserve a serial block after 50 attempts (heavy contention)")
        return self.run(work, self.default)

    # --- durable writes ----------------------------------------------------------------
    def write(self, kind: str, row: dict, key: str) -> WriteStatus:
        """Record what a caller left. Returns "written", "duplicate" or "spooled"; never loses it.

        When this returns, the row is either committed or fsync'd in the spool. Bad rows
        (unknown kind/column, missing required value) raise ValueError at once.
        """
        return self.write_many([(kind, row, key)])[0]

    def write_many(self, rows: list[tuple[str, dict, str]]) -> list[WriteStatus]:
        """Record several rows, each (kind, row, key), in one transaction (one commit):
        what a call's node visits cost at the end of the call. Writes that arrive while
        the previous one is being committed share the next transaction (group_commit.py).
        Each row's status is what write() would say; none is lost (a row the database
        does not take is spooled). A bad row raises ValueError before anything is written."""
        stamp = self.clock()
        prepared = [(kind, *prepare_row(kind, row, key, stamp=stamp), key) for kind, row, key in rows]
        if not prepared:
            return []
        return self.committer.submit(prepared)

    def _write_batch(self, groups: list[list[tuple[str, Table, dict, str]]]) -> list[list[WriteStatus]]:
        """The committer's work, on the hub: every group's rows (each group one write_many's,
        (kind, table, row, key)) in one transaction in a worker thread; the rows the
        database did not take spooled, with one fsync for the batch. Per group, per row,
        its status."""
        items = [[(table, out, key) for _kind, table, out, key in group] for group in groups]
        try:
            outcomes = self.run(lambda conn, timeout: insert_groups(conn, items, timeout))
        except StoreError as exc:       # the database did not answer: the whole batch
            outcomes = [[exc] * len(group) for group in groups]
        refused = [(kind, key, out, outcome)
                   for group, answers in zip(groups, outcomes)
                   for (kind, _table, out, key), outcome in zip(group, answers)
                   if isinstance(outcome, StoreError)]
        if refused:
            self.outbox.append_many([(kind, key, out) for kind, key, out, _ in refused])
            self._wake.set()
            log.warning("write spooled to the outbox", extra={"rows": len(refused), "kind": refused[0][0],
                                                               "key": refused[0][1], "error": str(refused[0][3])})
        return [["spooled" if isinstance(o, StoreError) else "written" if o else "duplicate" for o in answers]
                for answers in outcomes]

    def _insert(self, table: Table, row: dict, key: str, connection: str | None = None) -> bool:
        """Insert if no row has this key. True if inserted, False if it was already there."""
        return self.run(lambda conn, _t: insert_row(conn, table, row, key), connection)

    # --- outbox replay -----------------------------------------------------------------
    def _apply(self, record: Record) -> None:
        table = schema.WRITE_KINDS[record.kind]
        self._insert(table, record.row, record.key)

    def replay_outbox(self, dead: bool = False) -> ReplayReport:
        """Drain the spool now (also what the background replayer does)."""
        with self._replay_lock:
            if dead:
                self.outbox.requeue_dead()
            report = self.outbox.replay(self._apply)
        if report.replayed or report.dead:
            log.info("outbox replayed", extra={"rows": report.replayed, "dead": report.dead,
                                               "stopped": report.stopped or "drained"})
        return report

    def _replay_loop(self) -> None:
        while not self._closed:
            self._wake.wait(self.replay_interval)
            self._wake.clear()
            if not self.outbox.has_pending():
                continue
            breaker = self.breakers[self.default]
            if breaker.state == "open":
                gevent.sleep(min(breaker.retry_in(), self.replay_interval))
                continue
            try:
                report = self.replay_outbox()
            except Exception:  # noqa: BLE001 - the replayer must survive anything and retry
                log.exception("outbox replay failed; will retry")
                gevent.sleep(self.replay_interval)
                continue
            if report.busy_segments and not report.stopped:
                gevent.sleep(self.replay_interval)  # another process holds a segment; look again later

    def outbox_status(self) -> dict:
        status = self.outbox.status()
        status["breaker"] = self.breakers[self.default].state
        return status


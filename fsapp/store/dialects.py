"""Everything that differs between SQL dialects, in one place.

fsapp talks to every database through pyodbc with qmark (`?`) parameters; what still
differs is DDL types, auto-increment, the idempotent insert used by the outbox, how a
query timeout is set, and which errors mean "the query took too long".

| dialect    | tested against a real server        | idempotent insert                    |
|------------|-------------------------------------|--------------------------------------|
| sqlite     | yes (SQLite ODBC driver "SQLite3")  | INSERT ... ON CONFLICT DO NOTHING    |
| postgresql | yes (psqlodbc "PostgreSQL Unicode") | INSERT ... ON CONFLICT DO NOTHING    |
| mysql      | yes (MariaDB Connector/ODBC)        | INSERT ... ON DUPLICATE KEY UPDATE   |
| mssql      | no: DDL/DML generated, parsed only  | MERGE ... WITH (HOLDLOCK)            |
| oracle     | no: DDL/DML generated, parsed only  | MERGE ... USING (SELECT .. FROM dual)|
"""
from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field

from .errors import StoreConfigError


@dataclass(frozen=True)
class Column:
    name: str
    type: str            # id | str | text | int | bigint | decimal | datetime | date
    length: int = 0      # str/text: characters; decimal: precision
    scale: int = 0       # decimal only
    nullable: bool = True
    primary_key: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    short: str                      # for constraint/index names (Oracle: 30 chars max)
    columns: tuple[Column, ...]
    unique: tuple[str, ...] = ()    # single-column unique constraints
    indexes: tuple[tuple[str, ...], ...] = field(default=())

    def column(self, name: str) -> Column | None:
        return self._by_name.get(name)

    @functools.cached_property
    def _by_name(self) -> dict[str, Column]:
        # every row written checks its columns here: a dict, not a walk down the tuple
        by_name: dict[str, Column] = {}
        for c in self.columns:
            by_name.setdefault(c.name, c)
        return by_name

    @functools.cached_property
    def writable(self) -> dict[str, Column]:
        """The columns a written row may give, by name: all but the id and the idempotency key."""
        return {name: c for name, c in self._by_name.items() if c.type != "id" and name not in ("id", "idem_key")}

    def extended(self, columns: tuple[Column, ...] = (), indexes: tuple[tuple[str, ...], ...] = ()) -> "Table":
        """The table as a later migration leaves it (the earlier definition stays what
        the shipped migration created)."""
        return Table(self.name, self.short, self.columns + columns, self.unique, self.indexes + indexes)


@dataclass(frozen=True)
class Dialect:
    name: str
    tested: bool
    types: dict
    table_suffix: str = ""
    ping_sql: str = "SELECT 1"
    transactional_ddl: bool = False

    # --- DDL ---------------------------------------------------------------------------
    def column_type(self, col: Column) -> str:
        template = self.types[col.type]
        return template.format(n=col.length, p=col.length, s=col.scale)

    def column_spec(self, col: Column) -> str:
        spec = f"{col.name} {self.column_type(col)}"
        if col.type == "id":
            return spec
        if not col.nullable or col.primary_key:
            spec += " NOT NULL"
        if col.primary_key:
            spec += " PRIMARY KEY"
        return spec

    def create_table(self, table: Table) -> list[str]:
        lines = [self.column_spec(col) for col in table.columns]
        for name in table.unique:
            lines.append(f"CONSTRAINT uq_{table.short}_{name} UNIQUE ({name})")
        body = ",\n  ".join(lines)
        statements = [f"CREATE TABLE {table.name} (\n  {body}\n){self.table_suffix}"]
        statements.extend(self.create_index(table, cols) for cols in table.indexes)
        return statements

    def create_index(self, table: Table, cols: tuple[str, ...]) -> str:
        return f"CREATE INDEX ix_{table.short}_{'_'.join(cols)} ON {table.name} ({', '.join(cols)})"

    def add_column(self, table: Table, col: Column) -> str:
        """A nullable column added by a later migration (NOT NULL would need a default)."""
        if not col.nullable:
            raise AssertionError(f"{table.name}.{col.name}: an added column must be nullable")
        if self.name == "mssql":
            return f"ALTER TABLE {table.name} ADD {self.column_spec(col)}"
        if self.name == "oracle":
            return f"ALTER TABLE {table.name} ADD ({self.column_spec(col)})"
        return f"ALTER TABLE {table.name} ADD COLUMN {self.column_spec(col)}"

    # --- report SQL --------------------------------------------------------------------
    def epoch_seconds(self, column: str) -> str:
        """Seconds since 1970-01-01 of a naive timestamp column, read as it is stored
        (no time zone applied), with the milliseconds: what period buckets and durations
        are computed from inside the database."""
        if self.name == "sqlite":
            return f"((julianday({column}) - 2440587.5) * 86400.0)"
        if self.name == "postgresql":
            return f"date_part('epoch', {column})"   # double precision; EXTRACT gives slower numeric
        if self.name == "mysql":
            # not UNIX_TIMESTAMP(): that applies the session time zone
            return f"(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', {column}) / 1000000.0)"
        if self.name == "mssql":
            return f"(DATEDIFF_BIG(MILLISECOND, '1970-01-01', {column}) / 1000.0)"
        return (f"((CAST({column} AS DATE) - DATE '1970-01-01') * 86400 "
                f"+ EXTRACT(SECOND FROM {column}) - TRUNC(EXTRACT(SECOND FROM {column})))")

    def floor(self, expr: str) -> str:
        """Largest integer not above a non-negative number (SQLite may lack FLOOR; a cast
        truncates there, while PostgreSQL and MariaDB casts round)."""
        return f"CAST({expr} AS INTEGER)" if self.name == "sqlite" else f"FLOOR({expr})"

    def add_seconds(self, column: str, seconds: str) -> str:
        """A timestamp `seconds` (an SQL expression, e.g. ?) after `column`."""
        if self.name == "sqlite":
            # the ODBC driver stores 'YYYY-MM-DD HH:MM:SS.fff'; strftime keeps that shape
            return f"strftime('%Y-%m-%d %H:%M:%f', {column}, '+' || ({seconds}) || ' seconds')"
        if self.name == "postgresql":
            return f"({column} + ({seconds}) * INTERVAL '1 second')"
        if self.name == "mysql":
            return f"({column} + INTERVAL ({seconds}) SECOND)"
        if self.name == "mssql":
            return f"DATEADD(SECOND, {seconds}, {column})"
        return f"({column} + NUMTODSINTERVAL({seconds}, 'SECOND'))"

    def timestamp_literal(self, t: dt.datetime) -> str:
        """A timestamp fsapp computed itself (never outside data) as an SQL literal."""
        text = t.isoformat(" ", "milliseconds")
        if self.name == "sqlite":
            return f"'{text}'"
        if self.name == "mssql":
            return f"CAST('{text}' AS DATETIME2(3))"
        return f"TIMESTAMP '{text}'"

    def greatest(self, a: str, b: str) -> str:
        return f"MAX({a}, {b})" if self.name == "sqlite" else f"GREATEST({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"MIN({a}, {b})" if self.name == "sqlite" else f"LEAST({a}, {b})"

    # --- DML ---------------------------------------------------------------------------
    def insert_ignore(self, table: str, columns: list[str], key: str = "idem_key") -> str:
        """An INSERT that does nothing when a row with the same `key` exists.

        Exactly-once replay rests on it: re-inserting a spooled row that already made it
        into the database (crash between commit and spool truncation) is a no-op.
        """
        cols = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        if self.name in ("sqlite", "postgresql"):
            return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({key}) DO NOTHING"
        if self.name == "mysql":
            # Not INSERT IGNORE: that would also swallow truncation and NOT NULL errors.
            return f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON DUPLICATE KEY UPDATE {key} = {key}"
        src = ", ".join(f"? AS {c}" for c in columns)
        values = ", ".join(f"src.{c}" for c in columns)
        if self.name == "mssql":
            return (f"MERGE INTO {table} WITH (HOLDLOCK) AS tgt USING (SELECT {src}) AS src "
                    f"ON tgt.{key} = src.{key} WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values});")
        if self.name == "oracle":
            return (f"MERGE INTO {table} tgt USING (SELECT {src} FROM dual) src "
                    f"ON (tgt.{key} = src.{key}) WHEN NOT MATCHED THEN INSERT ({cols}) VALUES ({values})")
        raise AssertionError(self.name)

    @property
    def multi_row_insert(self) -> bool:
        """insert_ignore_rows works here (MERGE, as written above, takes one source row)."""
        return self.name in ("sqlite", "postgresql", "mysql")

    def insert_ignore_rows(self, table: str, columns: list[str], rows: int,
                           key: str = "idem_key") -> str:
        """insert_ignore for `rows` rows in one statement (`VALUES (...), (...)`).

        Each row of a statement costs the driver a bind and an execute; a call's node
        visits are 18 rows with the same columns, so one statement instead of 18.
        """
        assert self.multi_row_insert, self.name
        single = self.insert_ignore(table, columns, key)
        one = "(" + ", ".join("?" for _ in columns) + ")"
        head, _, tail = single.partition(f"VALUES {one}")
        return f"{head}VALUES {', '.join([one] * rows)}{tail}"

    def adapt_params(self, values: list) -> list:
        """MariaDB Connector/ODBC drops the fraction of a bound TIMESTAMP: send text instead."""
        if self.name != "mysql":
            return values
        return [v.isoformat(" ", "milliseconds") if isinstance(v, dt.datetime) and v.microsecond else v
                for v in values]

    # --- timeouts ----------------------------------------------------------------------
    def timeout_statement(self, seconds: float, dbms_name: str = "") -> str | None:
        """SQL that sets the session's statement timeout, or None to use the ODBC attribute.

        psqlodbc rejects SQL_ATTR_QUERY_TIMEOUT on the connection and MariaDB's driver
        accepts but ignores it, so those two get a session variable instead.
        """
        if self.name == "postgresql":
            return f"SET statement_timeout = {max(1, int(seconds * 1000))}"
        if self.name == "mysql":
            if "mysql" in dbms_name.lower() and "maria" not in dbms_name.lower():
                return f"SET SESSION max_execution_time = {max(1, int(seconds * 1000))}"
            return f"SET SESSION max_statement_time = {max(0.001, round(seconds, 3))}"
        return None

    def is_timeout(self, sqlstate: str, message: str) -> bool:
        if sqlstate in ("HYT00", "HYT01", "57014"):
            return True
        return self.name == "mysql" and bool(re.search(r"\((1969|3024)\)", message))


_SQLITE = {"id": "INTEGER PRIMARY KEY AUTOINCREMENT", "str": "VARCHAR({n})", "text": "VARCHAR({n})",
           "int": "INTEGER", "bigint": "BIGINT", "decimal": "DECIMAL({p},{s})",
           "datetime": "TIMESTAMP", "date": "DATE"}
_POSTGRES = {"id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "str": "VARCHAR({n})",
             "text": "VARCHAR({n})", "int": "INTEGER", "bigint": "BIGINT", "decimal": "NUMERIC({p},{s})",
             "datetime": "TIMESTAMP(3)", "date": "DATE"}
_MYSQL = {"id": "BIGINT AUTO_INCREMENT PRIMARY KEY", "str": "VARCHAR({n})", "text": "VARCHAR({n})",
          "int": "INT", "bigint": "BIGINT", "decimal": "DECIMAL({p},{s})",
          "datetime": "DATETIME(3)", "date": "DATE"}
# NVARCHAR: callers' names and summaries are Chinese; VARCHAR would depend on the collation.
_MSSQL = {"id": "BIGINT IDENTITY(1,1) PRIMARY KEY", "str": "NVARCHAR({n})", "text": "NVARCHAR({n})",
          "int": "INT", "bigint": "BIGINT", "decimal": "DECIMAL({p},{s})",
          "datetime": "DATETIME2(3)", "date": "DATE"}
# Oracle: VARCHAR2 is limited to 4000 bytes; long Chinese text (3 bytes a character in
# AL32UTF8) goes to NVARCHAR2 (2 bytes a character), which holds 2000 characters.
_ORACLE = {"id": "NUMBER(19) GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY", "str": "VARCHAR2({n} CHAR)",
           "text": "NVARCHAR2({n})", "int": "NUMBER(10)", "bigint": "NUMBER(19)",
           "decimal": "NUMBER({p},{s})", "datetime": "TIMESTAMP(3)", "date": "DATE"}

DIALECTS: dict[str, Dialect] = {
    "sqlite": Dialect("sqlite", True, _SQLITE, transactional_ddl=True),
    "postgresql": Dialect("postgresql", True, _POSTGRES, transactional_ddl=True),
    "mysql": Dialect("mysql", True, _MYSQL, table_suffix=" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"),
    "mssql": Dialect("mssql", False, _MSSQL),
    "oracle": Dialect("oracle", False, _ORACLE, ping_sql="SELECT 1 FROM dual"),
}
ALIASES = {"postgres": "postgresql", "pg": "postgresql", "mariadb": "mysql", "sqlserver": "mssql",
           "sql server": "mssql", "tsql": "mssql", "sqlite3": "sqlite"}


def get_dialect(name: str) -> Dialect:
    key = ALIASES.get(name.lower(), name.lower())
    if key not in DIALECTS:
        raise StoreConfigError(f"unknown SQL dialect {name!r}; known: {', '.join(DIALECTS)}")
    return DIALECTS[key]


def dialect_from_dbms(dbms_name: str) -> Dialect:
    """Map ODBC SQL_DBMS_NAME ('PostgreSQL', 'MariaDB', 'SQLite', ...) to a dialect."""
    low = dbms_name.lower()
    for needle, name in (("postgres", "postgresql"), ("maria", "mysql"), ("mysql", "mysql"),
                         ("sqlite", "sqlite"), ("sql server", "mssql"), ("oracle", "oracle")):
        if needle in low:
            return DIALECTS[name]
    raise StoreConfigError(f"database reports DBMS name {dbms_name!r}, which fsapp has no dialect for; "
                           f"set dialect = one of {', '.join(DIALECTS)} on the connection")


def dialect_from_connection_string(odbc: str) -> Dialect | None:
    """Guess from the Driver= name; None when only a DSN is given (ask the server then)."""
    m = re.search(r"(?i)(?:^|;)\s*driver\s*=\s*\{?([^};]*)", odbc)
    if not m:
        return None
    driver = m.group(1).lower()
    for needle, name in (("postgres", "postgresql"), ("maria", "mysql"), ("mysql", "mysql"),
                         ("sqlite", "sqlite"), ("sql server", "mssql"), ("freetds", "mssql"),
                         ("oracle", "oracle")):
        if needle in driver:
            return DIALECTS[name]
    return None

"""The errors a flow's `on_error` branch catches.

    StoreError
    ├── StoreUnavailable      the database cannot answer now: unreachable, connection lost,
    │   ├── CircuitOpen       circuit breaker open (we stopped trying for a while),
    │   └── QueryTimeout      or the query/pool wait ran past its deadline
    ├── QueryError            the database answered but rejected the statement or its values
    │   └── UnknownQuery      no such named query (the message names the queries dir)
    └── StoreConfigError      bad connection settings or a bad .sql file (file:line named)

Reads raise these to the caller; writes through the outbox never lose the row on
StoreUnavailable: they spool it instead.
"""
from __future__ import annotations


class StoreError(Exception):
    """Base of everything fsapp.store raises on purpose."""


class StoreUnavailable(StoreError):
    """The database did not answer: the caller should take its error branch now."""


class CircuitOpen(StoreUnavailable):
    """Recent attempts failed; no new attempt is made until the cool-down has passed."""


class QueryTimeout(StoreUnavailable):
    """The query (or the wait for a pooled connection) ran past its deadline."""


class QueryError(StoreError):
    """The database rejected the statement or its values (a bug in a query or a row)."""


class UnknownQuery(QueryError, KeyError):
    """A named query that no .sql file defines."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class StoreConfigError(StoreError, ValueError):
    """Bad configuration: a connection string, a .sql file; the message says where."""

"""Enterprise SQL for fsapp: pyodbc in a gevent thread pool, named queries from .sql
files, fsapp's own tables with per-dialect migrations, and a durable outbox.

See docs/databases.md. The contract other packages code against (docs/architecture.md):

    store = Store.from_config(cfg)   # or Store(connections={...}, queries_dir, spool_dir)
    store.query(name, params, connection=None, timeout=None) -> list[dict]
    store.query_one(...) -> dict | None
    store.query_names() -> list[str]
    store.write(kind, row, key=...) -> "written" | "spooled"
    store.next_ticket_serial() -> str        # fsapp.store.serials.is_valid_serial(s)
"""
from .errors import (CircuitOpen, QueryError, QueryTimeout, StoreConfigError, StoreError,
                     StoreUnavailable, UnknownQuery)
from .serials import is_valid_serial
from .store import Store

__all__ = ["Store", "StoreError", "StoreUnavailable", "CircuitOpen", "QueryTimeout", "QueryError",
           "UnknownQuery", "StoreConfigError", "is_valid_serial"]

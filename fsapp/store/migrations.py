"""Schema migrations for fsapp's own tables, one list for every dialect.

Each migration is a version number, a description and a list of steps; a step is a
Table to create or a callable `dialect -> [sql, ...]` for anything else (add a column,
an index). The applied version is kept in fsapp_schema_version. Append new migrations;
never edit one that has shipped.

On PostgreSQL and SQLite a migration runs in one transaction (their DDL is
transactional); on MariaDB, SQL Server and Oracle each DDL statement commits on its
own, so a migration interrupted half-way must be finished by hand (the error says which
statement failed).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import schema
from .dialects import Dialect, Table


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    steps: tuple[Table | Callable[[Dialect], list[str]], ...]

    def statements(self, dialect: Dialect) -> list[str]:
        out: list[str] = []
        for step in self.steps:
            out.extend(dialect.create_table(step) if isinstance(step, Table) else step(dialect))
        return out


def _extend(before: Table, after: Table) -> Callable[[Dialect], list[str]]:
    """The ALTER TABLE / CREATE INDEX statements that turn `before` into `after`."""
    def statements(dialect: Dialect) -> list[str]:
        added = [c for c in after.columns if before.column(c.name) is None]
        return ([dialect.add_column(after, c) for c in added]
                + [dialect.create_index(after, cols) for cols in after.indexes if cols not in before.indexes])
    return statements


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tickets, recordings, survey answers, call records, queue events, node visits, "
                 "serial blocks", (
        schema.TICKETS, schema.RECORDINGS, schema.SURVEY_ANSWERS, schema.CALL_RECORDS_V1,
        schema.QUEUE_EVENTS_V1, schema.NODE_VISITS_V1, schema.SERIAL_BLOCKS,
    )),
    Migration(2, "complete call records for the reports: offers, agent states, talk and wrap-up "
                 "times, node inputs, report indexes", (
        _extend(schema.CALL_RECORDS_V1, schema.CALL_RECORDS_V2),
        _extend(schema.QUEUE_EVENTS_V1, schema.QUEUE_EVENTS),
        _extend(schema.NODE_VISITS_V1, schema.NODE_VISITS),
        schema.OFFERS, schema.AGENT_STATES,
    )),
    Migration(3, "outbound campaign attempts", (schema.CAMPAIGN_ATTEMPTS,)),
    Migration(4, "report interval summaries (15-minute sums per queue, agent and node) and their coverage", (
        schema.QUEUE_INTERVALS, schema.AGENT_INTERVALS, schema.NODE_INTERVALS, schema.REPORT_ROLLUPS,
    )),
    Migration(5, "report daily summaries (the interval sums per day, queue, agent and node)", (
        schema.QUEUE_DAYS, schema.AGENT_DAYS, schema.NODE_DAYS,
    )),
    Migration(6, "call records written by the flow runtime: how the flow part ended and the node path", (
        _extend(schema.CALL_RECORDS_V2, schema.CALL_RECORDS),
    )),
)

LATEST = MIGRATIONS[-1].version


def bootstrap_statements(dialect: Dialect) -> list[str]:
    """The version table itself, created before migration 1."""
    return dialect.create_table(schema.SCHEMA_VERSION)


def full_ddl(dialect: Dialect) -> str:
    """Every statement from an empty database to LATEST, as a script (`fsapp db migrate --sql`)."""
    lines = [f"-- fsapp schema version {LATEST} for {dialect.name}"
             f"{'' if dialect.tested else ' (generated; not tested against a real server)'}"]
    for sql in bootstrap_statements(dialect):
        lines.append(sql + ";")
    for m in MIGRATIONS:
        lines.append(f"-- migration {m.version}: {m.description}")
        lines.extend(sql if sql.endswith(";") else sql + ";" for sql in m.statements(dialect))
        lines.append(f"INSERT INTO fsapp_schema_version (version, description, applied_at) "
                     f"VALUES ({m.version}, '{m.description}', CURRENT_TIMESTAMP);")
    return "\n".join(lines) + "\n"

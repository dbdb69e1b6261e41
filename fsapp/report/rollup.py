"""Interval summaries: 15-minute sums per queue, agent and flow node, so that a month
report reads thousands of summary rows instead of millions of records (docs/reports.md).

`rollup()` (the CLI's `fsapp report rollup`) computes the sums with the very statements
the reports run on the records (sql.py, bucketed by 15 minutes) and stores them with
INSERT ... SELECT, a day at a time, each day in one transaction that first deletes the
day's summaries: running it again, or over a range again (--from), rewrites the same rows.

An interval is rolled up once it is closed: every record that can still change its sums
has arrived. A queue leg belongs to the interval it began in and may end up to a day
later (sql.SPAN_SLACK); first-call resolution looks `fcr_window_h` hours ahead. So an
interval is closed `settle_time(rules)` after its end. Records that arrive later still
(an outbox replayed after a long outage) are taken in by `fsapp report rollup --from`.

How far the summaries go is kept per summary in fsapp_report_rollups as [covered_from,
covered_to); a report reads summaries inside it and the records outside it (split()).
Queue sums depend on the counting rules (service-level seconds, short abandons, FCR
window, internal calls, minimum length): they are kept per rules_key, and a report with
rules nobody rolled up reads the records (the same figures, more slowly).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .periods import Range
from .rules import Rules
from . import sql

INTERVAL = dt.timedelta(minutes=15)
SUMMARY_SCHEMA = 4                    # the migration that added the interval tables
CHUNK = dt.timedelta(days=1)          # one transaction per day of intervals
RECORD_TIMES = (("fsapp_queue_events", "event_at"), ("fsapp_offers", "ring_at"),
                ("fsapp_node_visits", "entered_at"), ("fsapp_agent_states", "changed_at"))


class RollupError(ValueError):
    pass


def rules_key(rules: Rules) -> str:
    """What in the rules changes the queue sums (not the SL target nor its denominator,
    which are applied to the sums afterwards)."""
    return (f"sl{rules.sl_seconds}-short{rules.short_abandon_s}-fcr{rules.fcr_window_h}"
            f"-int{rules.internal_max_digits}-min{rules.min_call_s}")


def summary_names(rules: Rules) -> dict[str, str]:
    return {"queue": f"queue {rules_key(rules)}", "agent": "agent", "node": "node"}


def settle_time(rules: Rules) -> dt.timedelta:
    return max(sql.SPAN_SLACK, dt.timedelta(hours=rules.fcr_window_h))


def floor_interval(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


@dataclass(frozen=True)
class Coverage:
    start: dt.datetime
    end: dt.datetime


def coverage(store, name: str, timeout: float = 120) -> Coverage | None:
    rows = store.execute("SELECT covered_from, covered_to FROM fsapp_report_rollups WHERE name = ?", [name],
                         timeout=timeout)
    return Coverage(_datetime(rows[0]["covered_from"]), _datetime(rows[0]["covered_to"])) if rows else None


def _datetime(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def split(rng: Range, covered: Coverage | None) -> tuple[Range | None, list[Range]]:
    """The part of `rng` the summaries answer (whole intervals inside the coverage) and
    the parts left to the records."""
    if covered is None or floor_interval(rng.start) != rng.start:
        return None, [rng]
    start, end = max(rng.start, covered.start), floor_interval(min(rng.end, covered.end))
    if end <= start:
        return None, [rng]
    raw = [Range(a, b) for a, b in ((rng.start, start), (end, rng.end)) if a < b]
    return Range(start, end), raw


@dataclass
class RollupResult:
    start: dt.datetime | None           # the intervals rewritten: [start, end)
    end: dt.datetime | None
    days: int = 0

    @property
    def summary(self) -> str:
        if self.start is None or self.end is None or self.end <= self.start:
            return "nothing to roll up: no closed interval since the last rollup"
        return f"rolled up {self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M} ({self.days} day(s))"


def rollup(store, rules: Rules | None = None, now: dt.datetime | None = None, since: dt.datetime | None = None,
           until: dt.datetime | None = None, timeout: float = 3600) -> RollupResult:
    """Roll up every closed interval after the current coverage (or from `since`). An
    interval is closed settle_time(rules) after its end, or when it ends before `until`
    (the caller knows no record of it is still to come)."""
    from .run import check_schema
    rules = rules or Rules()
    now = now or dt.datetime.now()
    check_schema(store, SUMMARY_SCHEMA, "the interval summaries")
    names = summary_names(rules)
    closed_to = floor_interval(until if until is not None else now - settle_time(rules))
    covered = {part: coverage(store, name, timeout) for part, name in names.items()}
    if since is not None:
        start = floor_interval(since)
        gaps = [p for p, c in covered.items() if c is not None and start > c.end]
        if gaps:
            raise RollupError(f"--from {since:%Y-%m-%d %H:%M} would leave a gap after the {gaps[0]} summaries, "
                              f"which end at {covered[gaps[0]].end:%Y-%m-%d %H:%M}: start there or earlier")
    elif all(c is not None for c in covered.values()):
        start = min(c.end for c in covered.values())
    else:
        first = _first_record(store, timeout)
        if first is None:
            return RollupResult(None, None)
        start = floor_interval(first)
    if start >= closed_to:
        return RollupResult(start, start)
    days, at = 0, start
    while at < closed_to:
        end = min(at + CHUNK, closed_to)
        _roll_chunk(store, rules, Range(at, end), now, names, covered, start, timeout)
        at, days = end, days + 1
    return RollupResult(start, closed_to, days)


def _first_record(store, timeout: float) -> dt.datetime | None:
    firsts = []
    for table, column in RECORD_TIMES:
        row = store.execute(f"SELECT MIN({column}) AS first FROM {table}", timeout=timeout)[0]
        if row["first"] is not None:
            firsts.append(_datetime(row["first"]))
    return min(firsts, default=None)


def chunk_statements(d, rules: Rules, chunk: Range, now: dt.datetime) -> list[tuple[str, list]]:
    """Delete the chunk's summaries, then insert them again from the records."""
    key = rules_key(rules)               # made of whole numbers: safe as a literal
    interval = d.add_seconds(d.timestamp_literal(chunk.start), f"bucket * {int(INTERVAL.total_seconds())}")
    within = [chunk.start, chunk.end]

    def insert(table: str, select: tuple[str, list], keys: dict[str, str], sums: tuple[str, ...],
               rules_column: bool = False) -> tuple[str, list]:
        """INSERT the select's rows: keys maps a table column to the select's column."""
        fixed = {"rules_key": f"'{key}'"} if rules_column else {}
        columns = {**fixed, "interval_start": interval, **keys, **{c: c for c in sums}}
        text, params = select
        return (f"INSERT INTO {table} ({', '.join(columns)})\nSELECT {', '.join(columns.values())} FROM ({text}) s",
                params)

    queue, agent = {"queue_name": "dim"}, {"agent_id": "dim"}
    q, a, n = "fsapp_queue_intervals", "fsapp_agent_intervals", "fsapp_node_intervals"
    return [
        (f"DELETE FROM {q} WHERE rules_key = ? AND interval_start >= ? AND interval_start < ?", [key, *within]),
        insert(q, sql.queue_sql(d, chunk, "15", rules, "queue_name", order=False), queue, sql.LEG_SUMS, True),
        insert(q, sql.offers_sql(d, chunk, "15", "queue_name", order=False), queue, sql.OFFER_SUMS, True),
        (f"DELETE FROM {a} WHERE interval_start >= ? AND interval_start < ?", within),
        insert(a, sql.offers_sql(d, chunk, "15", "agent_id", order=False), agent, sql.OFFER_SUMS),
        insert(a, sql.handled_sql(d, chunk, "15", order=False), agent, sql.HANDLED_SUMS),
        insert(a, sql.staffed_sql(d, chunk, "15", now, order=False), agent, ("staffed_s",)),
        (f"DELETE FROM {n} WHERE interval_start >= ? AND interval_start < ?", within),
        insert(n, sql.node_sql(d, chunk, "15", per_node=True, order=False), {"flow": "flow", "node": "node"},
               sql.NODE_SUMS),
    ]


def _roll_chunk(store, rules: Rules, chunk: Range, now: dt.datetime, names: dict[str, str],
                covered: dict[str, Coverage | None], start: dt.datetime, timeout: float) -> None:
    """One day of intervals and the coverage that now includes it, in one transaction."""
    def work(conn, _t):
        d = conn.dialect
        statements = chunk_statements(d, rules, chunk, now)
        for part, name in names.items():
            old = covered[part]
            first = min(old.start, start) if old is not None else start
            last = max(old.end, chunk.end) if old is not None else chunk.end
            statements += [("DELETE FROM fsapp_report_rollups WHERE name = ?", [name]),
                           ("INSERT INTO fsapp_report_rollups (name, covered_from, covered_to, updated_at) "
                            "VALUES (?, ?, ?, ?)", [name, first, last, now.replace(microsecond=0)])]
        conn.raw.autocommit = False
        try:
            cur = conn.raw.cursor()
            for text, params in statements:
                cur.execute(text, d.adapt_params(params)) if params else cur.execute(text)
            conn.raw.commit()
        except BaseException:
            conn.raw.rollback()
            raise
        finally:
            conn.raw.autocommit = True
    store.run(work, timeout=timeout)

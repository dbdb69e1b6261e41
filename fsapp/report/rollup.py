"""Interval and daily summaries: 15-minute sums per queue, agent and flow node, and the
same sums per whole day, so that a month report reads thousands of summary rows instead of
millions of records (docs/reports.md).

`rollup()` (the CLI's `fsapp report rollup`) computes the sums with the very statements
the reports run on the records (sql.py, bucketed by 15 minutes) and stores them with
INSERT ... SELECT, a day at a time, each day in one transaction that first deletes the
day's summaries: running it again, or over a range again (--from), rewrites the same rows.
The transaction that writes a day's last intervals also writes the day's sums (the SUM of
its intervals, in SQL): every figure the summaries keep is a sum of per-record counts
(docs/reports.md says why that holds for FCR, calls per node and the SL denominators), so
a day's sums are exactly its intervals' sums, and a report may read either.

An interval is rolled up once it is closed: every record that can still change its sums
has arrived. A queue leg belongs to the interval it began in and ends less than
sql.LEG_SPAN (8 hours) later; first-call resolution looks `fcr_window_h` hours ahead. So
an interval is closed `settle_time(rules)` after its end (by default a day: the FCR
window). Records that arrive later still (an outbox replayed after a long outage) are
taken in by `fsapp report rollup --from`.

How far the summaries go is kept per summary in fsapp_report_rollups as [covered_from,
covered_to); a report reads summaries inside it and the records outside it (split()).
The daily sums have their own coverage (names "day queue ...", "day agent", "day node"):
whole days inside the interval coverage; a report reads them for the whole days inside
it when its buckets are whole days (split_days()).
Queue sums depend on the counting rules (service-level seconds, short abandons, FCR
window, internal calls, minimum length): they are kept per rules_key, and a report with
rules nobody rolled up reads the records (the same figures, more slowly).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .periods import Range
from .rules import Rules
from fsapp.store import schema
from fsapp.store.sqlexec import fetch

from . import sql

INTERVAL = dt.timedelta(minutes=15)
SUMMARY_SCHEMA = 4                    # the migration that added the interval tables
DAILY_SCHEMA = 5                      # ... and the daily tables
DAY = dt.timedelta(days=1)            # one transaction per calendar day of intervals
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


def day_names(rules: Rules) -> dict[str, str]:
    return {part: f"day {name}" for part, name in summary_names(rules).items()}


def settle_time(rules: Rules) -> dt.timedelta:
    return max(sql.LEG_SPAN, dt.timedelta(hours=rules.fcr_window_h))


def floor_interval(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=t.minute - t.minute % 15, second=0, microsecond=0)


def floor_day(t: dt.datetime) -> dt.datetime:
    return dt.datetime(t.year, t.month, t.day)


def ceil_day(t: dt.datetime) -> dt.datetime:
    return t if t == floor_day(t) else floor_day(t) + DAY


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


def whole_day_buckets(rng: Range, by: str) -> bool:
    """Whether no bucket of the report cuts a day in two (then a day's sums fall in one)."""
    return not by.isdigit() and all(b.start == floor_day(b.start) for b in rng.buckets(by)[1:])


def split_days(summed: Range, days: Coverage | None, rng: Range, by: str) -> tuple[Range | None, list[Range]]:
    """The whole days of the summarised part `summed` that the daily sums answer, and the
    parts left to the interval sums."""
    if days is None or not whole_day_buckets(rng, by):
        return None, [summed]
    start, end = max(ceil_day(summed.start), days.start), min(floor_day(summed.end), days.end)
    if end <= start:
        return None, [summed]
    return Range(start, end), [Range(a, b) for a, b in ((summed.start, start), (end, summed.end)) if a < b]


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
    """Roll up every closed interval after the current coverage (or from `since`), and
    every whole day of the coverage into the daily sums. An interval is closed
    settle_time(rules) after its end, or when it ends before `until` (the caller knows no
    record of it is still to come)."""
    from .run import check_schema
    rules = rules or Rules()
    now = now or dt.datetime.now()
    daily = check_schema(store, SUMMARY_SCHEMA, "the interval summaries") >= DAILY_SCHEMA
    names = summary_names(rules)
    closed_to = floor_interval(until if until is not None else now - settle_time(rules))
    covered = {part: coverage(store, name, timeout) for part, name in names.items()}
    days = {part: coverage(store, name, timeout) for part, name in day_names(rules).items()} if daily else None
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
        start = floor_day(first)        # nothing before the first record: its whole day is summed
    count, at = 0, start
    while at < closed_to:
        end = min(floor_day(at) + DAY, closed_to)
        _roll_chunk(store, rules, Range(at, end), now, covered, days, start, timeout)
        at, count = end, count + 1
    if days is not None:
        _fill_days(store, rules, now, covered, days, timeout)
    return RollupResult(start, max(start, closed_to), count)


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


def day_statements(d, rules: Rules, part: str, day: dt.datetime) -> list[tuple[str, list]]:
    """Delete one day's sums of a summary, then insert them again from its intervals."""
    key = rules_key(rules)
    table, source, keys, sums = {
        "queue": ("fsapp_queue_days", "fsapp_queue_intervals", ("queue_name",), schema.QUEUE_SUMS),
        "agent": ("fsapp_agent_days", "fsapp_agent_intervals", ("agent_id",), schema.AGENT_SUMS + ("staffed_s",)),
        "node": ("fsapp_node_days", "fsapp_node_intervals", ("flow", "node"), schema.NODE_SUMS),
    }[part]
    fixed = {"rules_key": f"'{key}'"} if part == "queue" else {}
    where = "rules_key = ? AND " if part == "queue" else ""
    where_params = [key] if part == "queue" else []
    columns = {**fixed, "day_start": d.timestamp_literal(day), **{k: k for k in keys},
               **{c: f"SUM({c})" for c in sums}}
    within = [day, day + DAY]
    return [
        (f"DELETE FROM {table} WHERE {where}day_start = ?", [*where_params, day]),
        (f"INSERT INTO {table} ({', '.join(columns)})\nSELECT {', '.join(columns.values())} FROM {source}\n"
         f"WHERE {where}interval_start >= ? AND interval_start < ?\nGROUP BY {', '.join(keys)}",
         [*where_params, *within]),
    ]


def _coverage_statements(name: str, covered: Coverage, now: dt.datetime) -> list[tuple[str, list]]:
    return [("DELETE FROM fsapp_report_rollups WHERE name = ?", [name]),
            ("INSERT INTO fsapp_report_rollups (name, covered_from, covered_to, updated_at) VALUES (?, ?, ?, ?)",
             [name, covered.start, covered.end, now.replace(microsecond=0)])]


def _with_day(days: Coverage | None, day: dt.datetime) -> Coverage:
    """The daily coverage once `day` is written: kept contiguous (a day apart from it
    starts it afresh; the days left out are read from the intervals until filled)."""
    if days is None or day > days.end or day + DAY < days.start:
        return Coverage(day, day + DAY)
    return Coverage(min(days.start, day), max(days.end, day + DAY))


def _roll_chunk(store, rules: Rules, chunk: Range, now: dt.datetime, covered: dict[str, Coverage | None],
                days: dict[str, Coverage | None] | None, start: dt.datetime, timeout: float) -> None:
    """The intervals of one calendar day (or part of it), the coverage that now includes
    them and, once the day is whole, its daily sums, in one transaction."""
    names, dnames = summary_names(rules), day_names(rules)
    day = floor_day(chunk.start)
    after, days_after = dict(covered), dict(days or {})

    def statements(d) -> list[tuple[str, list]]:
        out = chunk_statements(d, rules, chunk, now)
        for part, old in covered.items():
            new = after[part] = Coverage(min(old.start, start) if old else start,
                                         max(old.end, chunk.end) if old else chunk.end)
            out += _coverage_statements(names[part], new, now)
            if days is not None and new.start <= day and day + DAY <= new.end:
                days_after[part] = _with_day(days[part], day)
                out += day_statements(d, rules, part, day) + _coverage_statements(dnames[part], days_after[part], now)
        return out
    _transaction(store, statements, timeout)
    covered.update(after)
    if days is not None:
        days.update(days_after)


def _fill_days(store, rules: Rules, now: dt.datetime, covered: dict[str, Coverage | None],
               days: dict[str, Coverage | None], timeout: float) -> None:
    """Daily sums of the whole days the interval sums cover and the daily sums do not
    (intervals rolled up before the daily tables existed): from the daily coverage
    outwards, one day a transaction."""
    for part, interval in covered.items():
        if interval is None:
            continue
        first, last = ceil_day(interval.start), floor_day(interval.end)
        have = days[part]
        todo = ([last - DAY * (i + 1) for i in range((last - first) // DAY)] if have is None else
                [have.start - DAY * (i + 1) for i in range(max(0, (have.start - first) // DAY))]
                + [have.end + DAY * i for i in range(max(0, (last - have.end) // DAY))])
        for day in todo:
            new = _with_day(days[part], day)
            _transaction(store, lambda d: day_statements(d, rules, part, day)
                         + _coverage_statements(day_names(rules)[part], new, now), timeout)
            days[part] = new


def _transaction(store, statements, timeout: float) -> None:
    """statements(dialect) run in one transaction."""
    def work(conn, _t):
        d = conn.dialect
        conn.raw.autocommit = False
        try:
            cur = conn.raw.cursor()
            for text in sql.session_settings(d):
                cur.execute(text)
            for text, params in statements(d):
                cur.execute(text, d.adapt_params(params)) if params else cur.execute(text)
            conn.raw.commit()
        except BaseException:
            conn.raw.rollback()
            raise
        finally:
            conn.raw.autocommit = True
    store.run(work, timeout=timeout)


def select(store, statement: tuple[str, list], timeout: float) -> list[dict]:
    """The rows of one report statement, run after sql.session_settings in a transaction
    of its own (a SET LOCAL ends with it)."""
    text, params = statement

    def work(conn, _t):
        settings = sql.session_settings(conn.dialect)
        if not settings:
            return fetch(conn, text, params)
        conn.raw.autocommit = False
        try:
            cur = conn.raw.cursor()
            for setting in settings:
                cur.execute(setting)
            rows = fetch(conn, text, params)
            conn.raw.commit()
            return rows
        except BaseException:
            conn.raw.rollback()
            raise
        finally:
            conn.raw.autocommit = True
    return store.run(work, timeout=timeout)

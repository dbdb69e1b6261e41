"""The report's SQL: one aggregating statement per dimension, run on the customer's database.

Each statement groups in the database and returns sums and counts per (bucket, key); the
ratios (service level, ASA, AHT, ...) are computed from those sums in figures.py. What
differs between databases (epoch seconds of a timestamp, FLOOR, LEAST/GREATEST, adding
seconds to a timestamp) comes from the store's Dialect. Values from outside (dates,
thresholds) are bound as parameters or are numbers this module computed itself.
"""
from __future__ import annotations

import datetime as dt

from fsapp.store.dialects import Dialect

from .periods import Range
from .rules import Rules

EPOCH = dt.datetime(1970, 1, 1)
STAFFED = ("Available", "Available (On Demand)")
# A queue leg (from its first event, mostly `enter`, to its last, mostly `completed` when
# the talk ends) lasts less than this. A report of [start, end) groups the events of
# [start - LEG_SPAN, end + LEG_SPAN): enough to see every event of the legs that began in
# it, and whether a leg seen in it began before it. A shift, not a day: the events of a
# day either side were two thirds of a day report's rows (docs/performance.md, reports).
LEG_SPAN = dt.timedelta(hours=8)
# PostgreSQL's memory for one sort or hash of a report statement. A day read from the
# records groups ~130,000-170,000 queue legs (the events of the day and of LEG_SPAN either
# side): with the server's default 4 MB the grouping spills to disk and takes most of the
# report's time. The legs are grouped by hashing: with hash_mem_multiplier 4 a hash may use
# 4 x work_mem (256 MB) while a sort keeps 64 MB, so the planner hashes them rather than
# sorting ~400,000 rows by call and queue (text compared under the database's collation:
# 0.3-0.5 s more on the bench). Set per transaction (SET LOCAL, set_config(..., true)),
# so the server's own settings hold for everything else; hash_mem_multiplier came with
# PostgreSQL 13, so it is set through pg_settings: on an older server nothing happens.
REPORT_WORK_MEM = "64MB"
REPORT_HASH_MEM_MULTIPLIER = 4


def _epoch(t: dt.datetime) -> float:
    return (t - EPOCH).total_seconds()


def session_settings(d: Dialect) -> list[str]:
    """Statements run first in the transaction of each report statement (and rollup)."""
    if d.name != "postgresql":
        return []
    return [f"SET LOCAL work_mem = '{REPORT_WORK_MEM}'",
            f"SELECT set_config(name, '{REPORT_HASH_MEM_MULTIPLIER}', true) FROM pg_settings "
            f"WHERE name = 'hash_mem_multiplier'"]


def bucket_expr(d: Dialect, rng: Range, by: str, column: str) -> tuple[str, list]:
    """SQL giving the 0-based bucket index of `column` within `rng`, and its parameters."""
    step = rng.fixed_step(by)
    if by == "total":
        return "0", []
    if step is not None:
        origin = int(_epoch(rng.start))
        # + 0.0005: half a millisecond (timestamps are kept to the ms) so that a call at
        # exactly 09:00:00.000 falls in the 09:00 bucket despite floating-point epochs
        return d.floor(f"(({d.epoch_seconds(column)}) - {origin} + 0.0005) / {step}"), []
    buckets = rng.buckets(by)
    arms = " ".join(f"WHEN {column} < ? THEN {i}" for i in range(len(buckets) - 1))
    return f"CASE {arms} ELSE {len(buckets) - 1} END", [b.end for b in buckets[:-1]]


def queue_legs(rng: Range) -> tuple[str, list]:
    """One row per (call, queue): how the call's time in that queue went. A leg belongs to
    the period in which its first event happened (a call entering at 23:59 and answered
    after midnight counts on the first day). A leg lasts less than LEG_SPAN."""
    sql = """
SELECT call_uuid, queue_name,
  MIN(event_at) AS started_at,
  MAX(caller_number) AS caller_number,
  MAX(CASE WHEN event = 'enter' THEN 1 ELSE 0 END) AS entered,
  MAX(CASE WHEN event = 'answered' THEN 1 ELSE 0 END) AS answered,
  MAX(CASE WHEN event = 'answered' THEN wait_ms END) AS answer_wait_ms,
  MAX(CASE WHEN event = 'abandoned' THEN 1 ELSE 0 END) AS abandoned,
  MAX(CASE WHEN event IN ('overflow', 'transfer') THEN 1 ELSE 0 END) AS overflowed,
  MAX(CASE WHEN event = 'timeout' THEN 1 ELSE 0 END) AS timed_out,
  MAX(CASE WHEN event = 'callback' THEN 1 ELSE 0 END) AS callback,
  MAX(CASE WHEN event = 'completed' THEN 1 ELSE 0 END) AS completed,
  MAX(CASE WHEN event = 'completed' THEN talk_ms END) AS talk_ms,
  MAX(CASE WHEN event = 'completed' THEN hold_ms END) AS hold_ms,
  MAX(CASE WHEN event = 'completed' THEN wrap_up_ms END) AS wrap_up_ms,
  MAX(CASE WHEN event <> 'completed' THEN wait_ms END) AS queue_ms
FROM fsapp_queue_events
WHERE event_at >= ? AND event_at < ?
GROUP BY call_uuid, queue_name
HAVING MIN(event_at) >= ? AND MIN(event_at) < ?"""
    return sql, [rng.start - LEG_SPAN, rng.end + LEG_SPAN, rng.start, rng.end]


def _counted(d: Dialect, rules: Rules) -> str:
    """The report rules as a WHERE clause on queue legs (l)."""
    where = []
    if rules.internal_max_digits:
        where.append(f"(l.caller_number IS NULL OR LENGTH(l.caller_number) > {int(rules.internal_max_digits)})")
    if rules.min_call_s:
        where.append(f"COALESCE(l.queue_ms, 0) + COALESCE(l.talk_ms, 0) >= {int(rules.min_call_s) * 1000}")
    return " AND ".join(where) or "1 = 1"


def queue_sql(d: Dialect, rng: Range, by: str, rules: Rules, key: str, within: Range | None = None,
              order: bool = True) -> tuple[str, list]:
    """Per bucket of `rng` and queue (key 'queue_name') or over all queues (key "'all'"),
    of the legs that began `within` a part of the range (default: all of it)."""
    part = within or rng
    legs, legs_params = queue_legs(part)
    bucket, bucket_params = bucket_expr(d, rng, by, "l.started_at")
    window = int(rules.fcr_window_h) * 3600
    # First-call resolution: no `enter` of another call from the same number within the
    # window after the leg began. Most numbers enter a queue once in [part.start, part.end
    # + window), the span every leg's window lies in: for them `single` (one hash join)
    # already says so, and only the legs of numbers seen more than once, or of another
    # call, are looked up one by one (`repeat`, on the caller_number index).
    single = ("SELECT caller_number AS single_caller, MIN(call_uuid) AS single_call FROM fsapp_queue_events "
              "WHERE event = 'enter' AND event_at >= ? AND event_at < ? AND caller_number IS NOT NULL "
              "GROUP BY caller_number HAVING COUNT(*) = 1")
    single_params = [part.start, part.end + dt.timedelta(seconds=window)]
    repeat = (f"SELECT 1 FROM fsapp_queue_events n WHERE n.caller_number = l.caller_number "
              f"AND n.event = 'enter' AND n.call_uuid <> l.call_uuid AND n.event_at > l.started_at "
              f"AND n.event_at <= {d.add_seconds('l.started_at', str(window))}")
    sl_ms, short_ms = int(rules.sl_seconds) * 1000, int(rules.short_abandon_s) * 1000
    sql = f"""
SELECT b AS bucket, k AS dim,
  COUNT(*) AS legs,
  SUM(entered) AS offered,
  SUM(entered * answered) AS answered,
  SUM(entered * abandoned) AS abandoned,
  SUM(CASE WHEN entered = 1 AND abandoned = 1 AND COALESCE(queue_ms, 0) < {short_ms} THEN 1 ELSE 0 END)
    AS short_abandoned,
  SUM(CASE WHEN entered = 1 AND answered = 1 AND answer_wait_ms <= {sl_ms} THEN 1 ELSE 0 END) AS answered_in_sl,
  SUM(CASE WHEN entered = 1 AND answered = 1 THEN answer_wait_ms ELSE 0 END) AS answer_wait_ms,
  SUM(entered * overflowed) AS transferred,
  SUM(entered * timed_out) AS timed_out,
  SUM(entered * callback) AS callbacks_requested,
  SUM(1 - entered) AS callbacks_made,
  SUM((1 - entered) * answered) AS callbacks_answered,
  SUM(completed) AS handled,
  SUM(COALESCE(talk_ms, 0)) AS talk_ms,
  SUM(COALESCE(hold_ms, 0)) AS hold_ms,
  SUM(COALESCE(wrap_up_ms, 0)) AS wrap_up_ms,
  SUM(CASE WHEN entered = 1 AND completed = 1 AND caller_number IS NOT NULL THEN 1 ELSE 0 END) AS fcr_calls,
  SUM(resolved) AS fcr_resolved
FROM (
  SELECT l.*, {bucket} AS b, {key} AS k,
    CASE WHEN l.entered = 1 AND l.completed = 1 AND l.caller_number IS NOT NULL
              AND (s.single_call = l.call_uuid OR NOT EXISTS ({repeat})) THEN 1 ELSE 0 END AS resolved
  FROM ({legs}) l
  LEFT JOIN ({single}) s ON s.single_caller = l.caller_number
  WHERE {_counted(d, rules)}
) x
GROUP BY b, k{_order(order, "b, k")}"""
    return sql, [*bucket_params, *legs_params, *single_params]


def offers_sql(d: Dialect, rng: Range, by: str, key: str, within: Range | None = None,
               order: bool = True) -> tuple[str, list]:
    """Agents rung per bucket and key (queue_name or agent_id): the answer rate."""
    bucket, params = bucket_expr(d, rng, by, "ring_at")
    within = within or rng
    sql = f"""
SELECT b AS bucket, k AS dim, COUNT(*) AS offers,
  SUM(CASE WHEN result = 'answered' THEN 1 ELSE 0 END) AS offers_answered,
  SUM(CASE WHEN result = 'cancelled' THEN 0 ELSE 1 END) AS offers_decided,
  SUM({d.epoch_seconds('ended_at')} - {d.epoch_seconds('ring_at')}) AS ring_s
FROM (SELECT {bucket} AS b, {key} AS k, result, ring_at, ended_at FROM fsapp_offers
      WHERE ring_at >= ? AND ring_at < ?) x
GROUP BY b, k{_order(order, "b, k")}"""
    return sql, [*params, within.start, within.end]


def handled_sql(d: Dialect, rng: Range, by: str, within: Range | None = None,
                order: bool = True) -> tuple[str, list]:
    """Calls each agent finished (talk ended) per bucket, with their handle times."""
    bucket, params = bucket_expr(d, rng, by, "event_at")
    within = within or rng
    sql = f"""
SELECT b AS bucket, agent_id AS dim, COUNT(*) AS handled,
  SUM(COALESCE(talk_ms, 0)) AS talk_ms, SUM(COALESCE(hold_ms, 0)) AS hold_ms,
  SUM(COALESCE(wrap_up_ms, 0)) AS wrap_up_ms
FROM (SELECT {bucket} AS b, agent_id, talk_ms, hold_ms, wrap_up_ms FROM fsapp_queue_events
      WHERE event = 'completed' AND agent_id IS NOT NULL AND event_at >= ? AND event_at < ?) x
GROUP BY b, agent_id{_order(order, "b, agent_id")}"""
    return sql, [*params, within.start, within.end]


def staffed_sql(d: Dialect, rng: Range, by: str, now: dt.datetime, within: Range | None = None,
                order: bool = True) -> tuple[str, list]:
    """Seconds each agent was logged in and available (Available, Available (On Demand))
    per bucket: each status row holds until the agent's next row (or now, or the end of
    the range, whichever is first). The window runs over every row of the table, so the
    status an agent was in when the range began counts too."""
    within = within or rng
    clipped = [(i, max(b.start, within.start), min(b.end, within.end)) for i, b in enumerate(rng.buckets(by))]
    table = " UNION ALL ".join(f"SELECT {i} AS b, {_epoch(start):.0f} AS bs, {_epoch(end):.0f} AS be"
                               for i, start, end in clipped if start < end)
    open_end = f"{_epoch(min(now, within.end)):.3f}"
    start, end = d.epoch_seconds("s.changed_at"), f"COALESCE({d.epoch_seconds('s.next_at')}, {open_end})"
    statuses = ", ".join(f"'{s}'" for s in STAFFED)
    sql = f"""
SELECT k.b AS bucket, s.agent_id AS dim,
  SUM({d.greatest('0', f"{d.least(end, 'k.be')} - {d.greatest(start, 'k.bs')}")}) AS staffed_s
FROM (SELECT agent_id, status, changed_at,
             LEAD(changed_at) OVER (PARTITION BY agent_id ORDER BY changed_at) AS next_at
      FROM fsapp_agent_states) s
JOIN ({table}) k ON {start} < k.be AND {end} > k.bs
WHERE s.status IN ({statuses}) AND s.changed_at < ?
GROUP BY k.b, s.agent_id{_order(order, "k.b, s.agent_id")}"""
    return sql, [within.end]


def node_sql(d: Dialect, rng: Range, by: str, per_node: bool, within: Range | None = None,
             order: bool = True) -> tuple[str, list]:
    """Per bucket and flow (and node): visits, calls, no-input, invalid input, hang-ups.
    Calls are counted from flags the writer sets (a node's first visit in the call:
    node_calls; the call's first node in the flow: flow_calls): a sum, where
    COUNT(DISTINCT call_uuid) would sort every visit of the period."""
    bucket, params = bucket_expr(d, rng, by, "entered_at")
    within = within or rng
    keys = "flow, node" if per_node else "flow"
    sql = f"""
SELECT b AS bucket, {keys}, COUNT(*) AS visits,
  SUM(CASE WHEN revisit = 1 THEN 0 ELSE 1 END) AS node_calls,
  SUM(CASE WHEN flow_entry = 1 THEN 1 ELSE 0 END) AS flow_calls,
  SUM(COALESCE(no_inputs, 0)) AS no_inputs, SUM(COALESCE(invalid_inputs, 0)) AS invalid_inputs,
  SUM(CASE WHEN outcome = 'caller_hangup' THEN 1 ELSE 0 END) AS hangups
FROM (SELECT {bucket} AS b, flow, node, revisit, flow_entry, no_inputs, invalid_inputs, outcome
      FROM fsapp_node_visits WHERE entered_at >= ? AND entered_at < ?) x
GROUP BY b, {keys}{_order(order, f"b, {keys}")}"""
    return sql, [*params, within.start, within.end]


def _order(order: bool, columns: str) -> str:
    # left out where the statement feeds an INSERT (SQL Server refuses ORDER BY in a subquery)
    return f"\nORDER BY {columns}" if order else ""


# --- the interval summaries (fsapp_*_intervals, written by rollup.py) ----------------------------
LEG_SUMS = ("legs", "offered", "answered", "abandoned", "short_abandoned", "answered_in_sl", "answer_wait_ms",
            "transferred", "timed_out", "callbacks_requested", "callbacks_made", "callbacks_answered", "handled",
            "talk_ms", "hold_ms", "wrap_up_ms", "fcr_calls", "fcr_resolved")
OFFER_SUMS = ("offers", "offers_answered", "offers_decided")
HANDLED_SUMS = ("handled", "talk_ms", "hold_ms", "wrap_up_ms")
NODE_SUMS = ("visits", "node_calls", "flow_calls", "no_inputs", "invalid_inputs", "hangups")


def _summary(d: Dialect, rng: Range, by: str, within: Range, daily: bool, part: str, keys: str, groups: str,
             sums: tuple[str, ...], where: str = "", where_params: tuple = ()) -> tuple[str, list]:
    """SUM(sums) per bucket of `rng` and `groups` (named by `keys`, expressions over the
    table) of the summary rows (15-minute, or daily) whose start lies `within` a part of the range."""
    table, start = (f"fsapp_{part}_days", "day_start") if daily else (f"fsapp_{part}_intervals", "interval_start")
    bucket, params = bucket_expr(d, rng, by, start)
    sql = f"""
SELECT b AS bucket, {groups}, {", ".join(f"SUM({c}) AS {c}" for c in sums)}
FROM (SELECT {bucket} AS b, {keys}, {", ".join(sums)} FROM {table}
      WHERE {where}{start} >= ? AND {start} < ?) x
GROUP BY b, {groups}"""
    return sql, [*params, *where_params, within.start, within.end]


def queue_summary_sql(d: Dialect, rng: Range, by: str, rules_key: str, per_queue: bool,
                      within: Range, daily: bool = False) -> tuple[str, list]:
    """The queue sums of the intervals (or days) `within` the range, per bucket of `rng` (and queue)."""
    key = "queue_name" if per_queue else "'all'"
    return _summary(d, rng, by, within, daily, "queue", f"{key} AS dim", "dim", LEG_SUMS + OFFER_SUMS,
                    "rules_key = ? AND ", (rules_key,))


def agent_summary_sql(d: Dialect, rng: Range, by: str, within: Range, daily: bool = False) -> tuple[str, list]:
    return _summary(d, rng, by, within, daily, "agent", "agent_id AS dim", "dim",
                    OFFER_SUMS + HANDLED_SUMS + ("staffed_s",))


def node_summary_sql(d: Dialect, rng: Range, by: str, per_node: bool, within: Range,
                     daily: bool = False) -> tuple[str, list]:
    keys = "flow, node" if per_node else "flow"
    return _summary(d, rng, by, within, daily, "node", keys, keys, NODE_SUMS)

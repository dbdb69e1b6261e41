"""Run a report on a Store: the SQL of sql.py on the store's default connection, figures
from figures.py, one row per (period bucket, queue | agent | flow | node).

    report = run_report(store, "queue", Range.parse("day", "2026-12-07"), by="60", rules=Rules())
    report.rows[0] == {"period": "2026-12-07 08:00", "queue": "hotline", "offered": 12, ...}
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from . import figures, rollup, sql
from .periods import Range
from .rules import Rules

REPORT_SCHEMA = 2          # the migration that added offers, agent states and handle times


class ReportError(Exception):
    pass


DIMENSIONS = {
    # dimension: (key columns shown, figure columns)
    "total": (("queue",), figures.QUEUE_FIGURES),
    "queue": (("queue",), figures.QUEUE_FIGURES),
    "agent": (("agent",), figures.AGENT_FIGURES),
    "flow": (("flow",), figures.FLOW_FIGURES),
    "node": (("flow", "node"), figures.NODE_FIGURES),
}


@dataclass
class Report:
    dimension: str
    range: Range
    by: str
    rules: Rules
    rows: list[dict] = field(default_factory=list)
    total: dict = field(default_factory=dict)      # the whole range, every key
    compare: "Report | None" = None

    @property
    def keys(self) -> tuple[str, ...]:
        return DIMENSIONS[self.dimension][0]

    @property
    def figures(self) -> tuple[str, ...]:
        return DIMENSIONS[self.dimension][1]

    @property
    def columns(self) -> list[str]:
        return ["period", *self.keys, *self.figures]

    def as_dict(self) -> dict:
        out = {"dimension": self.dimension, "from": self.range.start.isoformat(sep=" "),
               "to": self.range.end.isoformat(sep=" "), "by": self.by, "rules": vars(self.rules).copy(),
               "rows": self.rows, "total": self.total}
        if self.compare is not None:
            out["compare"] = self.compare.as_dict()
        return out


def check_schema(store, needed: int, what: str) -> int:
    version = store.schema_version()
    if version is None or version < needed:
        raise ReportError(f"the database of connection {store.default!r} has "
                          f"{'no fsapp tables' if version is None else f'fsapp schema version {version}'}; "
                          f"{what} need version {needed}: run `fsapp db migrate`")
    return version


def run_report(store, dimension: str, rng: Range, by: str = "total", rules: Rules | None = None,
               compare: str | None = None, now: dt.datetime | None = None, timeout: float = 120,
               summaries: bool = True) -> Report:
    """The report of `rng`: from the daily and interval summaries where `fsapp report
    rollup` has written them (and summaries=True), from the records elsewhere; the same figures."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"report by {dimension!r}: one of {', '.join(DIMENSIONS)}")
    rules = rules or Rules()
    now = now or dt.datetime.now()
    dialect = store.dialect()
    version = check_schema(store, REPORT_SCHEMA, "the reports")
    summaries = summaries and version >= rollup.SUMMARY_SCHEMA

    def ask(statement: tuple[str, list]) -> list[dict]:
        return rollup.select(store, statement, timeout)

    def parts(part: str) -> tuple[list[tuple[Range, bool]], list[Range]]:
        """The parts of the range the summaries answer, each with daily=True when the
        daily sums do, and the parts left to the records."""
        covered = rollup.coverage(store, rollup.summary_names(rules)[part], timeout) if summaries else None
        summed, raw = rollup.split(rng, covered)
        if summed is None:
            return [], raw
        days = (rollup.coverage(store, rollup.day_names(rules)[part], timeout)
                if version >= rollup.DAILY_SCHEMA else None)
        whole, intervals = rollup.split_days(summed, days, rng, by)
        return [(whole, True)] * (whole is not None) + [(r, False) for r in intervals], raw

    labels = [b.label for b in rng.buckets(by)]
    report = Report(dimension, rng, by, rules)
    if dimension in ("queue", "total"):
        key = "queue_name" if dimension == "queue" else "'all'"
        summed, raw = parts("queue")
        rows = [r for within, daily in summed
                for r in ask(sql.queue_summary_sql(dialect, rng, by, rollup.rules_key(rules), dimension == "queue",
                                                   within, daily))]
        offers_rows = [r for r in rows if r["offers"]]
        for part in raw:
            rows += ask(sql.queue_sql(dialect, rng, by, rules, key, part))
            offers_rows += ask(sql.offers_sql(dialect, rng, by, key, part))
        sums = [r for r in _merge(rows, ("dim",), sql.LEG_SUMS) if r["legs"]]
        offers = _index(_merge(offers_rows, ("dim",), sql.OFFER_SUMS))
        for row in sums:
            report.rows.append({"period": labels[int(row["bucket"])], "queue": row["dim"],
                                **figures.queue_figures(row, offers.get((int(row["bucket"]), row["dim"])), rules)})
        if sums:    # every sum is additive over buckets and queues: no second scan for the total
            report.total = {"period": rng.label, "queue": "all",
                            **figures.queue_figures(_sum(sums), _sum(offers.values()) or None, rules)}
    elif dimension == "agent":
        summed, raw = parts("agent")
        rows = [r for within, daily in summed for r in ask(sql.agent_summary_sql(dialect, rng, by, within, daily))]
        offers_rows = [r for r in rows if r["offers"]]
        handled_rows = [r for r in rows if r["handled"]]
        staffed_rows = [r for r in rows if r["staffed_s"]]
        for part in raw:
            offers_rows += ask(sql.offers_sql(dialect, rng, by, "agent_id", part))
            handled_rows += ask(sql.handled_sql(dialect, rng, by, part))
            staffed_rows += ask(sql.staffed_sql(dialect, rng, by, now, part))
        offers = _index(_merge(offers_rows, ("dim",), sql.OFFER_SUMS))
        handled = _index(_merge(handled_rows, ("dim",), sql.HANDLED_SUMS))
        staffed = {k: r["staffed_s"] for k, r in _index(_merge(staffed_rows, ("dim",), ("staffed_s",))).items()}
        for bucket, agent in sorted(set(offers) | set(handled) | set(staffed)):
            report.rows.append({"period": labels[bucket], "agent": agent,
                                **figures.agent_figures(offers.get((bucket, agent)), handled.get((bucket, agent)),
                                                        staffed.get((bucket, agent)))})
        report.total = {"period": rng.label, "agent": "all",
                        **figures.agent_figures(_sum(offers.values()), _sum(handled.values()),
                                                sum(float(v or 0) for v in staffed.values()))}
    else:
        per_node = dimension == "node"
        keys = ("flow", "node") if per_node else ("flow",)
        summed, raw = parts("node")
        rows = [r for within, daily in summed
                for r in ask(sql.node_summary_sql(dialect, rng, by, per_node, within, daily))]
        for part in raw:
            rows += ask(sql.node_sql(dialect, rng, by, per_node, part))
        merged = _merge(rows, keys, sql.NODE_SUMS)
        for row in merged:
            row["calls"] = row["node_calls" if per_node else "flow_calls"]
            report.rows.append({"period": labels[int(row["bucket"])], **{k: row[k] for k in keys},
                                **figures.node_figures(row)})
        if merged:
            total = _sum(merged)
            total["calls"] = total["flow_calls"]     # calls that entered the flow, each once
            report.total = {"period": rng.label, **{k: "all" for k in report.keys}, **figures.node_figures(total)}
    if compare:
        report.compare = run_report(store, dimension, rng.compared(compare), by, rules, None, now, timeout,
                                    summaries)
    return report


def _merge(rows: list[dict], keys: tuple[str, ...], sums: tuple[str, ...]) -> list[dict]:
    """Rows of the same bucket and keys (from the summaries and from the records) with
    their `sums` added up, in bucket and key order."""
    out: dict[tuple, dict] = {}
    for row in rows:
        at = (int(row["bucket"]), *(row[k] for k in keys))
        into = out.setdefault(at, {"bucket": at[0], **dict(zip(keys, at[1:]))})
        for column in sums:
            into[column] = into.get(column, 0) + float(row[column] or 0)
    return [out[k] for k in sorted(out)]


def _index(rows: list[dict]) -> dict[tuple[int, str], dict]:
    return {(int(r["bucket"]), r["dim"]): r for r in rows}


def _sum(rows) -> dict:
    """Column sums of additive figures (counts, milliseconds, seconds)."""
    out: dict = {}
    for row in rows:
        for k, v in row.items():
            if k not in ("bucket", "dim", "flow", "node"):
                out[k] = out.get(k, 0) + float(v or 0)
    return out

"""A Report as a terminal table (rich), CSV, JSON, or a PNG chart (matplotlib, Agg)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .run import Report

HEADINGS = {
    "short_abandoned": "short ab.", "abandon_rate": "aband. %", "service_level": "SL %", "asa_s": "ASA s",
    "aht_s": "AHT s", "answer_rate": "answer %", "transferred": "transf.", "timed_out": "timeout", "fcr": "FCR %",
    "callbacks_requested": "cb req.", "callbacks_made": "cb made", "callbacks_answered": "cb ans.",
    "offers_answered": "offers ans.", "talk_s": "talk s", "hold_s": "hold s", "wrap_up_s": "wrap-up s",
    "staffed_s": "staffed s", "occupancy": "occup. %", "no_inputs": "no input", "invalid_inputs": "invalid",
    "hangups": "hang-ups",
}


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def to_table(report: Report, console=None, columns=None) -> str:
    """The report as a rich table (returned as text; printed when a console is given).
    `columns`: only these of the report's columns, in its order (a narrow terminal)."""
    from rich.console import Console
    from rich.table import Table
    out = io.StringIO()
    console = console or Console(file=out, width=240, force_terminal=False, color_system=None)
    for part, title in _parts(report):
        table = Table(title=title, title_justify="left")
        shown = [c for c in part.columns if columns is None or c in columns]
        for col in shown:
            table.add_column(HEADINGS.get(col, col), justify="left" if col in ("period", *part.keys) else "right")
        for row in part.rows:
            table.add_row(*(_cell(row.get(c)) for c in shown))
        if part.total and len(part.rows) != 1:
            table.add_row(*(_cell(part.total.get(c)) for c in shown), style="bold")
        console.print(table)
    return out.getvalue()


def _parts(report: Report):
    rules = report.rules
    extra = (f", SL {rules.sl_target:g}/{rules.sl_seconds} over {rules.sl_denominator}"
             if report.dimension in ("queue", "total") else "")
    yield report, f"{report.dimension} report {report.range.label} by {report.by}{extra}"
    if report.compare is not None:
        yield report.compare, f"compared with {report.compare.range.label}"


def to_csv(report: Report) -> str:
    out = io.StringIO()
    compare = report.compare is not None
    writer = csv.DictWriter(out, fieldnames=(["range"] if compare else []) + report.columns,
                            extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for part, _ in _parts(report):
        for row in part.rows:
            writer.writerow({**row, **({"range": part.range.label} if compare else {})})
    return out.getvalue()


def to_json(report: Report) -> str:
    return json.dumps(report.as_dict(), ensure_ascii=False, indent=1)


def to_chart(report: Report, path: str | Path) -> Path:
    """queue/total: offered vs answered per bucket and the service level against its
    target; agent: occupancy per agent; flow/node: a funnel of visits with hang-ups."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    path = Path(path)
    periods = sorted({r["period"] for r in report.rows})
    xs = list(range(len(periods)))
    ticks = [p[-5:] if len(periods) > 1 and len(p) > 10 else p for p in periods]

    def per_key(key: str, figure: str) -> dict[str, list]:
        lines: dict[str, list] = {}
        for r in report.rows:
            lines.setdefault(r[key], [None] * len(periods))[periods.index(r["period"])] = r[figure]
        return lines
    if report.dimension in ("queue", "total"):
        offered = [sum(r["offered"] for r in report.rows if r["period"] == p) for p in periods]
        answered = [sum(r["answered"] for r in report.rows if r["period"] == p) for p in periods]
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
        top.bar([x - 0.2 for x in xs], offered, 0.4, label="offered")
        top.bar([x + 0.2 for x in xs], answered, 0.4, label="answered")
        top.set_ylabel("calls")
        top.legend()
        for queue, values in per_key("queue", "service_level").items():
            bottom.plot(xs, [float("nan") if v is None else v for v in values], marker="o", label=f"SL % {queue}")
        bottom.axhline(report.rules.sl_target, linestyle="--", color="grey",
                       label=f"target {report.rules.sl_target:g}/{report.rules.sl_seconds}")
        bottom.set_ylabel("service level %")
        bottom.set_ylim(0, 105)
        bottom.legend(fontsize=7)
        bottom.set_xticks(xs, ticks, rotation=60, fontsize=7)
        top.set_title(f"{report.dimension} {report.range.label}")
    elif report.dimension == "agent":
        fig, ax = plt.subplots(figsize=(10, 4))
        for agent, values in per_key("agent", "occupancy").items():
            ax.plot(xs, [float("nan") if v is None else v for v in values], marker="o", label=agent)
        ax.set_ylabel("occupancy %")
        ax.set_xticks(xs, ticks, rotation=60, fontsize=7)
        ax.legend(fontsize=7)
        ax.set_title(f"agents {report.range.label}")
    else:
        label = (lambda r: f"{r['flow']}.{r['node']}") if report.dimension == "node" else (lambda r: r["flow"])
        totals: dict[str, list[int]] = {}
        for r in report.rows:
            t = totals.setdefault(label(r), [0, 0])
            t[0] += r["visits"]
            t[1] += r["hangups"]
        names = sorted(totals, key=lambda n: -totals[n][0])
        fig, ax = plt.subplots(figsize=(10, max(3, 0.35 * len(names) + 1)))
        ax.barh(names, [totals[n][0] for n in names], label="visits")
        ax.barh(names, [totals[n][1] for n in names], label="caller hung up here")
        ax.invert_yaxis()
        ax.legend()
        ax.set_title(f"per-node funnel {report.range.label}")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path

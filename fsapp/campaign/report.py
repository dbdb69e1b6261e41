"""Status and reports of a campaign, computed from its attempt log (pure), rendered as
rich tables, CSV and a matplotlib chart (Agg backend: no display needed)."""
from __future__ import annotations

import csv
import datetime as dt
from collections import Counter

from fsapp.campaign.model import OUTCOMES

PLACED = frozenset(OUTCOMES) - {"invalid_number", "excluded"}   # outcomes of a call actually placed


def status_summary(campaign, counts: dict, control: dict, attempts: list[dict], now: float,
                   window_s: float = 300.0) -> dict:
    placed = [a for a in attempts if a.get("outcome") in PLACED]
    recent = [a for a in placed if now - float(a.get("started_at") or 0) <= window_s]
    out = {
        "campaign": campaign.name, "status": control.get("status"),
        "dialled": len(placed), "answered": sum(1 for a in placed if a.get("answered")),
        "completed": counts.get("completed", 0), "pending": counts.get("pending", 0),
        "in_progress": counts.get("in_progress", 0), "in_retry": counts.get("retry", 0),
        "failed": counts.get("failed", 0), "excluded": counts.get("excluded", 0),
        "invalid": counts.get("invalid", 0), "contacts": sum(counts.values()),
        "rate_per_min": round(len(recent) * 60.0 / window_s, 2),
        "target_per_min": campaign.pacing.calls_per_minute,
        "states": dict(counts),
    }
    assist = getattr(campaign, "agents", None)
    if assist is not None:
        from fsapp.campaign.policy import abandon_rate, over_abandon_cap
        answered, abandoned = abandon_rate(attempts, now, assist.window_s)
        out.update(abandoned=abandoned, abandon_rate=round(abandoned / answered, 4) if answered else 0.0,
                   abandon_cap=assist.max_abandon_rate,
                   held=over_abandon_cap(answered, abandoned, assist.max_abandon_rate))
    return out


def status_table(summary: dict):
    from rich.table import Table
    table = Table(title=f"campaign {summary['campaign']} ({summary['status']})")
    table.add_column("contacts")
    table.add_column("", justify="right")
    for label, key in (("dialled", "dialled"), ("answered", "answered"), ("completed", "completed"),
                       ("pending", "pending"), ("in progress", "in_progress"), ("in retry", "in_retry"),
                       ("failed", "failed"), ("excluded", "excluded"), ("invalid", "invalid")):
        table.add_row(label, str(summary[key]))
    table.add_row("rate per minute (target)", f"{summary['rate_per_min']:g} ({summary['target_per_min']:g})")
    if "abandon_rate" in summary:
        held = " - no new calls" if summary["held"] else ""
        table.add_row("abandoned, 24 h (cap)", f"{summary['abandoned']} = {summary['abandon_rate']:.1%} "
                                               f"({summary['abandon_cap']:.1%}){held}")
    return table


def _hour(epoch, tz) -> str:
    return dt.datetime.fromtimestamp(float(epoch), tz).strftime("%Y-%m-%d %H:00")


def build_report(campaign, attempts: list[dict], tz=None) -> dict:
    """Per-outcome counts and per-hour rows; hours in `tz` (the campaign calendar's zone,
    where its calling window is; default: this host's)."""
    outcomes = Counter(a.get("outcome") for a in attempts)
    hours: dict[str, Counter] = {}
    for a in attempts:
        if a.get("outcome") not in PLACED:
            continue
        bucket = hours.setdefault(_hour(a["started_at"], tz), Counter())
        bucket["dialled"] += 1
        bucket["answered"] += 1 if a.get("answered") else 0
        bucket["completed"] += 1 if a.get("outcome") == "completed" else 0
    per_hour = []
    for hour in sorted(hours):
        b = hours[hour]
        per_hour.append({"hour": hour, "dialled": b["dialled"], "answered": b["answered"],
                         "completed": b["completed"],
                         "contact_rate": round(b["answered"] / b["dialled"], 3) if b["dialled"] else 0.0,
                         "completion_rate": round(b["completed"] / b["dialled"], 3) if b["dialled"] else 0.0})
    return {"campaign": campaign.name, "attempts": len(attempts),
            "outcomes": {o: outcomes.get(o, 0) for o in OUTCOMES}, "per_hour": per_hour}


def report_tables(data: dict):
    from rich.table import Table
    outcomes = Table(title=f"campaign {data['campaign']}: {data['attempts']} attempts by outcome")
    outcomes.add_column("outcome")
    outcomes.add_column("attempts", justify="right")
    for outcome, n in data["outcomes"].items():
        outcomes.add_row(outcome, str(n))
    hourly = Table(title="per hour")
    for column in ("hour", "dialled", "answered", "completed", "contact rate", "completion rate"):
        hourly.add_column(column, justify="right" if column != "hour" else "left")
    for row in data["per_hour"]:
        hourly.add_row(row["hour"], str(row["dialled"]), str(row["answered"]), str(row["completed"]),
                       f"{row['contact_rate']:.1%}", f"{row['completion_rate']:.1%}")
    return [outcomes, hourly]


def write_csv(data: dict, path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["hour", "dialled", "answered", "completed", "contact_rate",
                                                    "completion_rate"])
        writer.writeheader()
        writer.writerows(data["per_hour"])


def draw_chart(data: dict, path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    hours = [row["hour"][5:] for row in data["per_hour"]]
    fig, left = plt.subplots(figsize=(9, 4.5))
    left.bar(hours, [row["dialled"] for row in data["per_hour"]], color="#c8d6e5", label="dialled")
    left.bar(hours, [row["answered"] for row in data["per_hour"]], color="#54a0ff", label="answered")
    left.set_ylabel("calls per hour")
    right = left.twinx()
    right.plot(hours, [row["contact_rate"] * 100 for row in data["per_hour"]], color="#ee5253", marker="o",
               label="contact rate %")
    right.set_ylim(0, 100)
    right.set_ylabel("contact rate %")
    left.set_title(f"campaign {data['campaign']}")
    left.tick_params(axis="x", rotation=45)
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles=handles, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)

"""Operators' figures (docs/reports.md): service level, ASA, AHT, abandonment, answer
rate, occupancy, first-call resolution and per-node counts, per queue, agent, flow and
node and per period, aggregated by SQL on the customer's database from fsapp's records."""
from .periods import Range
from .rules import Rules
from .run import Report, run_report

__all__ = ["Range", "Report", "Rules", "run_report"]

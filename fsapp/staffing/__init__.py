"""Staffing: how many agents a call volume needs for a service level (Erlang C, and
Erlang A once callers give up). See docs/reports.md#staffing."""
from .erlang import QueueFigures, erlang_a, erlang_b, erlang_c
from .plan import Demand, Need, StaffingError, Target, read_forecast, required, table

__all__ = ["Demand", "Need", "QueueFigures", "StaffingError", "Target", "erlang_a", "erlang_b", "erlang_c",
           "read_forecast", "required", "table"]

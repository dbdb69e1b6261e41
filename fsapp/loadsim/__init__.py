"""Load simulation: fsapp's real routing core (fsapp.routing's Dispatcher, strategies,
policy and memory backend) on a virtual clock, against synthetic or replayed calls.
See docs/reports.md#simulating-the-routing."""
from .engine import Leg, LoadSimulation, SimCall

__all__ = ["Leg", "LoadSimulation", "SimCall"]

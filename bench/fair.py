"""What every fair benchmark here shares: CPU time of this process (the machine is
shared; wall time measures the neighbours), sides run in alternating order, each figure
repeated and printed as min / median / max."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def cpu_seconds(fn: Callable[[], object]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def alternate(sides: dict[str, Callable[[], object]], repeat: int) -> dict[str, list[float]]:
    """Run each side `repeat` times, the order reversed every round (A B, B A, ...);
    returns the CPU seconds of each run by side."""
    if repeat < 3:
        raise ValueError("repeat must be >= 3 (min/median/max)")
    names = list(sides)
    out: dict[str, list[float]] = {n: [] for n in names}
    for round_ in range(repeat):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            out[name].append(cpu_seconds(sides[name]))
    return out


def spread(values: list[float], scale: float = 1.0, fmt: str = "{:.2f}") -> str:
    """'min / median / max' of values * scale."""
    v = [x * scale for x in values]
    return " / ".join(fmt.format(x) for x in (min(v), statistics.median(v), max(v)))


def ratios(num: list[float], den: list[float]) -> list[float]:
    """Per-round ratios (round i of one side against round i of the other)."""
    return [a / b for a, b in zip(num, den) if b]

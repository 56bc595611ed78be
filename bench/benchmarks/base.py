"""The interface every benchmark implements, and the registry that collects them.

To add a benchmark, create a module in this package that calls register(Benchmark(...));
it is discovered automatically. A benchmark's setup(ctx, target) brings the target into
the state it needs (mounted, unmounted, ...) and returns the Cases to time on it; the
runner interleaves the cases of all targets (ABCABC...) and reports medians.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from targets import Target
from tree import Tree

# A timed function returns (seconds, count) or (seconds, count, extra-dict for the JSON).
TimedResult = tuple[float, int] | tuple[float, int, dict]


@dataclass
class Context:
    tree: Tree
    targets: dict[str, Target]  # display order
    work: str
    quick: bool
    deadline: float             # time.monotonic() by which benchmarking must end

    def command_timeout(self) -> float:
        """Kill any single command that would overrun the run's deadline by more than a minute."""
        return max(30.0, self.deadline - time.monotonic() + 60.0)


@dataclass
class Case:
    """One row of the results: a timed operation on one target."""
    target: Target
    timed: Callable[[], TimedResult]
    variant: str = ""                                # distinguishes several cases on one target
    warmup: Callable[[], None] | None = None         # untimed, once before the first round
    before_each: Callable[[], None] | None = None    # untimed, before every timed run

    @property
    def label(self) -> str:
        return f"{self.target.name} ({self.variant})" if self.variant else self.target.name

    @property
    def short_label(self) -> str:
        return self.variant or self.target.name


@dataclass
class Benchmark:
    name: str
    unit: str                  # "<things>/s": metric = count/seconds (higher is better); "s": seconds
    applies_to: tuple[str, ...]  # target kinds: "native", "mergerfs", "estuary"
    setup: Callable[[Context, Target], list[Case]]
    description: str = ""
    order: int = 100           # run order among the selected benchmarks (lower runs first)
    notes: list[str] = field(default_factory=list)

    @property
    def is_rate(self) -> bool:
        return self.unit.endswith("/s")

    def metric(self, seconds: float, count: int) -> float:
        return count / seconds if self.is_rate else seconds


def format_metric(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


REGISTRY: dict[str, Benchmark] = {}


def register(bench: Benchmark) -> Benchmark:
    assert bench.name not in REGISTRY, f"duplicate benchmark {bench.name}"
    REGISTRY[bench.name] = bench
    return bench

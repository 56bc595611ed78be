"""The interface every benchmark implements, and the registry that collects them.

To add a benchmark, create a module in this package that calls register(Benchmark(...));
it is discovered automatically. A benchmark's setup(ctx, target) brings the target into
the state it needs (mounted, unmounted, ...) and returns the Cases to time on it; the
runner interleaves the cases of all targets (ABCABC...) and reports medians.

A benchmark with `parts` measures several things per round (e.g. create, stat, ... on the
same files): each Case then has one stage function per part instead of `timed`, the runner
runs the stages part by part across all targets (create on A, B, C; stat on A, B, C; ...),
and every part is reported as its own benchmark named "<benchmark>-<part>".
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
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
    bin_dir: str = ""
    options: SimpleNamespace = field(default_factory=SimpleNamespace)  # benchmark knobs from the CLI
    shared: dict = field(default_factory=dict)  # state benchmarks share (e.g. the scratch pools)
    notes: list[str] = field(default_factory=list)  # the running benchmark's notes (set by the runner)

    def command_timeout(self) -> float:
        """Kill any single command that would overrun the run's deadline by more than a minute."""
        return max(30.0, self.deadline - time.monotonic() + 60.0)


@dataclass
class Case:
    """One row of the results: a timed operation on one target."""
    target: Target
    timed: Callable[[], TimedResult] | None = None   # single-part benchmarks
    variant: str = ""                                # distinguishes several cases on one target
    warmup: Callable[[], None] | None = None         # untimed, once before the first round
    before_each: Callable[[], None] | None = None    # untimed, before every timed run (every round)
    stages: dict[str, Callable[[], TimedResult]] = field(default_factory=dict)  # part name -> timed
    after_each: Callable[[], None] | None = None     # untimed, after the last stage of a round

    @property
    def label(self) -> str:
        return f"{self.target.name} ({self.variant})" if self.variant else self.target.name

    @property
    def short_label(self) -> str:
        return self.variant or self.target.name


def is_rate(unit: str) -> bool:
    """Throughput units (higher is better); anything else is a duration in seconds."""
    return unit.endswith("/s") or unit == "IOPS"


@dataclass(frozen=True)
class Goal:
    """A target from the issue: Estuary's median at least min_ratio x the baseline's
    ("mergerfs" = its better config, "native" = the native directory)."""
    baseline: str
    min_ratio: float

    def describe(self) -> str:
        return f">={self.min_ratio:g}x {self.baseline}"


@dataclass(frozen=True)
class Part:
    name: str
    unit: str
    description: str = ""
    goals: tuple[Goal, ...] = ()
    alt_unit: str | None = None  # a second view of each sample, from its extra["alt"]


@dataclass
class Benchmark:
    name: str
    unit: str                  # "<things>/s" or "IOPS": metric = count/seconds (higher is better); "s": seconds
    applies_to: tuple[str, ...]  # target kinds: "native", "mergerfs", "estuary"
    setup: Callable[[Context, Target], list[Case]]
    description: str = ""
    order: int = 100           # run order among the selected benchmarks (lower runs first)
    notes: list[str] = field(default_factory=list)
    goals: tuple[Goal, ...] = ()
    alt_unit: str | None = None
    parts: tuple[Part, ...] = ()  # non-empty: a multi-part benchmark (see the module docstring)
    weight: float = 1.0        # share of the run's time budget relative to other benchmarks
    quick_rounds: int | None = None  # cap on rounds with --quick
    min_rounds: int = 1        # rounds run whatever the time budget (a goal set as a median of N)

    @property
    def is_rate(self) -> bool:
        return is_rate(self.unit)

    def metric(self, seconds: float, count: float) -> float:
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


def part_views(bench: Benchmark) -> list[tuple[str | None, Benchmark]]:
    """(part name, the Benchmark to report it as) for every part; (None, bench) without parts."""
    if not bench.parts:
        return [(None, bench)]
    return [(p.name, Benchmark(name=f"{bench.name}-{p.name}", unit=p.unit, applies_to=bench.applies_to,
                               setup=bench.setup, description=p.description or bench.description,
                               order=bench.order, goals=p.goals, alt_unit=p.alt_unit))
            for p in bench.parts]

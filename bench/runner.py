"""Runs one benchmark: setup per target, warm-ups, then interleaved timed rounds within a time budget."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import procs
from benchmarks import Benchmark, Case, Context
from benchmarks.base import format_metric


@dataclass
class Row:
    """Results of one case (or of a target whose setup failed)."""
    label: str
    target: str
    kind: str
    short_label: str
    samples: list[dict] = field(default_factory=list)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.samples)

    @property
    def median(self) -> float | None:
        return statistics.median(s["metric"] for s in self.samples) if self.samples else None


@dataclass
class BenchResult:
    bench: Benchmark
    rows: list[Row] = field(default_factory=list)
    rounds: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _fail(row: Row, e: BaseException) -> None:
    row.failure = f"failed: {e}"
    print(f"  {row.label}: {row.failure}")


def _setup(bench: Benchmark, ctx: Context, rows: list[Row]) -> list[tuple[Case, Row]]:
    """Set up every applicable target, adding its rows; a target that fails gets one failed row."""
    cases = []
    for target in ctx.targets.values():
        if target.kind not in bench.applies_to:
            continue
        try:
            target_cases = bench.setup(ctx, target)
        except Exception as e:
            rows.append(Row(target.name, target.name, target.kind, target.name))
            _fail(rows[-1], e)
            continue
        for case in target_cases:
            rows.append(Row(case.label, target.name, target.kind, case.short_label))
            cases.append((case, rows[-1]))
    return cases


def _warm_up(cases: list[tuple[Case, Row]]) -> None:
    for case, row in cases:
        if case.warmup is None:
            continue
        try:
            procs.sync()
            case.warmup()
        except Exception as e:
            _fail(row, e)


def _timed_run(bench: Benchmark, case: Case, row: Row) -> float:
    """One timed run; returns the wall time it cost including untimed preparation."""
    start = time.monotonic()
    try:
        if case.before_each:
            case.before_each()
        procs.sync()  # earlier phases may have written (index, state dir, generation)
        seconds, count, *extra = case.timed()
        row.samples.append({"seconds": seconds, "count": count,
                            "metric": bench.metric(seconds, count),
                            **({"extra": extra[0]} if extra else {})})
    except Exception as e:
        _fail(row, e)
    return time.monotonic() - start


def run_benchmark(ctx: Context, repeat: int, budget: float, result: BenchResult) -> None:
    """Interleave the cases (ABCABC...) for up to `repeat` rounds; a new round starts only
    if the previous one suggests it fits in `budget` seconds (at least one round always runs).
    Fills `result` as it goes, so an interrupted run still reports what it measured."""
    bench, start = result.bench, time.monotonic()
    print(f"== {bench.name} (budget {budget:.0f}s, up to {repeat} rounds)")
    try:
        cases = _setup(bench, ctx, result.rows)
        _warm_up(cases)
        last_round = 0.0
        for rounds_done in range(repeat):
            live = [(c, r) for c, r in cases if r.failure is None]
            if not live:
                break
            if rounds_done > 0 and time.monotonic() - start + last_round > budget:
                result.notes.append(f"stopped after {rounds_done} of {repeat} rounds: time budget")
                print(f"  note: {result.notes[-1]}")
                break
            last_round = sum(_timed_run(bench, c, r) for c, r in live)
            result.rounds = rounds_done + 1
            summary = ", ".join(f"{r.short_label} {format_metric(r.samples[-1]['metric'])}"
                                for _, r in live if r.ok)
            print(f"  round {result.rounds}: {summary} {bench.unit}")
    except BaseException:
        result.notes.append(f"interrupted after {result.rounds} of {repeat} rounds")
        raise
    finally:
        result.seconds = time.monotonic() - start

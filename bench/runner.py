"""Runs one benchmark: setup per target, warm-ups, then interleaved timed rounds within a time budget."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import procs
from benchmarks import Benchmark, Case, Context
from benchmarks.base import format_metric, part_views


@dataclass
class Row:
    """Results of one case (or of a target whose setup failed); of one part of it for
    multi-part benchmarks."""
    label: str
    target: str
    kind: str
    short_label: str
    part: str | None = None
    samples: list[dict] = field(default_factory=list)
    failure: str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and bool(self.samples)

    @property
    def median(self) -> float | None:
        return statistics.median(s["metric"] for s in self.samples) if self.samples else None

    @property
    def alt_median(self) -> float | None:
        alts = [s["extra"]["alt"] for s in self.samples if "alt" in s.get("extra", {})]
        return statistics.median(alts) if alts else None


@dataclass
class BenchResult:
    bench: Benchmark
    rows: list[Row] = field(default_factory=list)
    rounds: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# One case and its rows, by part name (None for single-part benchmarks).
CaseRows = tuple[Case, dict[str | None, Row]]


def _fail(row: Row, e: BaseException | str) -> None:
    row.failure = e if isinstance(e, str) else f"failed: {e}"
    where = f"{row.label} [{row.part}]" if row.part else row.label
    print(f"  {where}: {row.failure}")


def _setup(bench: Benchmark, ctx: Context, rows: list[Row]) -> list[CaseRows]:
    """Set up every applicable target, adding its rows; a target that fails gets failed rows."""
    parts = [name for name, _ in part_views(bench)]
    cases = []
    for target in ctx.targets.values():
        if target.kind not in bench.applies_to:
            continue
        try:
            target_cases = bench.setup(ctx, target)
        except Exception as e:
            for part in parts:
                rows.append(Row(target.name, target.name, target.kind, target.name, part))
                _fail(rows[-1], e)
            continue
        for case in target_cases:
            case_rows = {}
            for part in parts:
                # case.target may stand in for `target` (e.g. the same kind of fs over scratch silos).
                rows.append(Row(case.label, case.target.name, case.target.kind, case.short_label, part))
                case_rows[part] = rows[-1]
            cases.append((case, case_rows))
    return cases


def _fail_case(case_rows: dict[str | None, Row], e: BaseException) -> None:
    for row in case_rows.values():
        if row.failure is None:
            _fail(row, e)


def _warm_up(cases: list[CaseRows]) -> None:
    for case, case_rows in cases:
        if case.warmup is None:
            continue
        try:
            procs.sync()
            case.warmup()
        except Exception as e:
            _fail_case(case_rows, e)


def _record(view: Benchmark, row: Row, result: tuple) -> None:
    seconds, count, *extra = result
    row.samples.append({"seconds": seconds, "count": count, "metric": view.metric(seconds, count),
                        **({"extra": extra[0]} if extra else {})})


def _timed_run(bench: Benchmark, case: Case, row: Row) -> float:
    """One timed run of a single-part case; returns the wall time it cost including untimed preparation."""
    start = time.monotonic()
    try:
        if case.before_each:
            case.before_each()
        procs.sync()  # earlier phases may have written (index, state dir, generation)
        _record(bench, row, case.timed())
    except Exception as e:
        _fail(row, e)
    return time.monotonic() - start


def _staged_round(bench: Benchmark, live: list[CaseRows]) -> None:
    """One round of a multi-part benchmark: before_each on every case, then each part on
    every case in turn, then after_each. A failing stage fails its row (which is not run
    again); a failing before_each fails the whole case."""
    ready = []
    for case, case_rows in live:
        try:
            if case.before_each:
                case.before_each()
            ready.append((case, case_rows))
        except Exception as e:
            _fail_case(case_rows, e)
    for part, view in part_views(bench):
        for case, case_rows in ready:
            row = case_rows[part]
            if row.failure is not None:
                continue
            try:
                procs.sync()
                _record(view, row, case.stages[part]())
            except Exception as e:
                _fail(row, e)
    for case, case_rows in ready:
        if case.after_each:
            try:
                case.after_each()
            except Exception as e:  # cleanup only: report, keep the measurements
                print(f"  {case.label}: cleanup after the round failed: {e}")


def _round_summary(bench: Benchmark, live: list[CaseRows], rounds: int) -> None:
    for part, view in part_views(bench):
        rows = [case_rows[part] for _, case_rows in live]
        summary = ", ".join(f"{r.short_label} {format_metric(r.samples[-1]['metric'])}"
                            for r in rows if r.ok and len(r.samples) == rounds)
        title = f"round {rounds}" + (f" {part}" if part else "")
        print(f"  {title}: {summary or '(nothing measured)'} {view.unit}")


def run_benchmark(ctx: Context, repeat: int, budget: float, result: BenchResult) -> None:
    """Interleave the cases (ABCABC...) for up to `repeat` rounds; a new round starts only
    if the previous one suggests it fits in `budget` seconds (at least `bench.min_rounds`, one
    by default, always run; --quick caps them too).
    Fills `result` as it goes, so an interrupted run still reports what it measured."""
    bench, start = result.bench, time.monotonic()
    if ctx.quick and bench.quick_rounds:
        repeat = min(repeat, bench.quick_rounds)
    print(f"== {bench.name} (budget {budget:.0f}s, up to {repeat} rounds)")
    ctx.notes = result.notes  # setup() may explain its choices here
    try:
        cases = _setup(bench, ctx, result.rows)
        _warm_up(cases)
        last_round = 0.0
        for rounds_done in range(repeat):
            live = [(c, rows) for c, rows in cases if any(r.failure is None for r in rows.values())]
            if not live:
                break
            must = bench.min_rounds if not ctx.quick else 1
            if rounds_done >= max(1, must) and time.monotonic() - start + last_round > budget:
                result.notes.append(f"stopped after {rounds_done} of {repeat} rounds: time budget")
                print(f"  note: {result.notes[-1]}")
                break
            round_start = time.monotonic()
            if bench.parts:
                _staged_round(bench, live)
            else:
                for case, case_rows in live:
                    _timed_run(bench, case, case_rows[None])
            last_round = time.monotonic() - round_start
            result.rounds = rounds_done + 1
            _round_summary(bench, live, result.rounds)
    except BaseException:
        result.notes.append(f"interrupted after {result.rounds} of {repeat} rounds")
        raise
    finally:
        result.seconds = time.monotonic() - start

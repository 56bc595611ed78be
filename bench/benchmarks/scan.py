"""Index scans: `estuary scan` on an empty and on a populated index, beside find(1)."""

from __future__ import annotations

from targets import EstuaryTarget, Target

from ._find import find_case
from .base import Benchmark, Case, Context, register


def _scan_case(ctx: Context, estuary: EstuaryTarget, fresh: bool) -> Case:
    # `estuary scan` works directly on the index; with a daemon running it would go
    # through (and compete with) the daemon, so both scan benchmarks run with it stopped.
    estuary.down()
    if reason := estuary.missing_binaries():
        raise RuntimeError(reason)

    def timed():
        seconds, entries, report = estuary.scan(ctx.command_timeout())
        return seconds, entries, {"reported": report}

    def populate() -> None:
        estuary.scan(ctx.command_timeout())

    if fresh:
        return Case(estuary, timed, "scan", before_each=estuary.wipe_state)
    # The warm-up scan fills the index if it is empty, so every timed scan is a rescan.
    return Case(estuary, timed, "rescan", warmup=populate)


def setup_initial(ctx: Context, target: Target) -> list[Case]:
    if isinstance(target, EstuaryTarget):
        return [_scan_case(ctx, target, fresh=True)]
    return [find_case(ctx, target, stat=True, variant="find -printf"),
            find_case(ctx, target, stat=False, variant="find")]


def setup_rescan(ctx: Context, target: Target) -> list[Case]:
    assert isinstance(target, EstuaryTarget)
    return [_scan_case(ctx, target, fresh=False)]


register(Benchmark(
    name="scan-initial",
    unit="entries/s",
    applies_to=("estuary", "native"),
    setup=setup_initial,
    order=10,
    description="estuary scan on an empty state dir (no daemon) vs warm find over the silos "
                "with per-entry stat (find -printf '%i %s %T@ %m') and without (plain find)",
))

register(Benchmark(
    name="scan-rescan",
    unit="entries/s",
    applies_to=("estuary",),
    setup=setup_rescan,
    order=20,
    description="estuary scan again on an already-populated index of the unchanged tree (no daemon)",
))

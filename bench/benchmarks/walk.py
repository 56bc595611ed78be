"""Metadata walk of the whole namespace through each target, warm cache."""

from __future__ import annotations

from targets import Target

from ._find import find_case
from .base import Benchmark, Case, Context, register


def setup_walk(ctx: Context, target: Target) -> list[Case]:
    target.up()
    return [find_case(ctx, target, stat=True)]


register(Benchmark(
    name="walk",
    unit="entries/s",
    applies_to=("native", "mergerfs", "estuary"),
    setup=setup_walk,
    order=30,
    description="find MOUNT -printf '%i %s %T@ %m' (stats every entry), one warm-up pass per target; "
                "native walks all silo dirs, so merged directories count once per silo",
))

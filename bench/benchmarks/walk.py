"""Metadata walk of a sample of the namespace through each target, warm cache."""

from __future__ import annotations

import math
import os

from targets import Target
from tree import FILES_PER_LEAF

from ._find import find_case
from .base import Benchmark, Case, Context, register

FILES_PER_TOP = FILES_PER_LEAF * 100  # a top-level directory tNNNN holds 100 leaves


def sample_tops(ctx: Context) -> list[str]:
    """The first top-level directories of the tree that together hold about --walk-files
    files (all of them for a smaller tree); the same names on every target."""
    tops = math.ceil(ctx.tree.params.files / FILES_PER_TOP)
    wanted = max(1, min(tops, round(ctx.options.walk_files / FILES_PER_TOP)))
    return [f"t{n:04d}" for n in range(wanted)]


def setup_walk(ctx: Context, target: Target) -> list[Case]:
    target.up()
    tops = sample_tops(ctx)
    whole = len(tops) == math.ceil(ctx.tree.params.files / FILES_PER_TOP)
    if whole:
        roots = target.roots()
    else:  # a top dir is missing from a silo that holds none of its leaves
        roots = [os.path.join(r, t) for r in target.roots() for t in tops if os.path.isdir(os.path.join(r, t))]
        note = (f"sample: {len(tops)} of {math.ceil(ctx.tree.params.files / FILES_PER_TOP)} top-level "
                f"directories (t0000..t{len(tops) - 1:04d}, ~{len(tops) * FILES_PER_TOP:,} files)")
        if note not in ctx.notes:
            ctx.notes.append(note)
    return [find_case(ctx, target, stat=True, roots=roots)]


register(Benchmark(
    name="walk",
    unit="entries/s",
    applies_to=("native", "mergerfs", "estuary"),
    setup=setup_walk,
    order=30,
    description="find ROOTS -printf '%i %s %T@ %m' (stats every entry) over a sample of about "
                "--walk-files files, one warm-up pass per target; native walks every silo's copy "
                "of the sampled dirs, so merged directories count once per silo",
))

"""find(1) as a baseline: the same traversal on every target, counted once, timed to /dev/null."""

from __future__ import annotations

import procs
from targets import Target

from .base import Case, Context

# Prints fields that need a full stat, like Estuary's scan collects (inode, size, mtime, mode).
STAT_FORMAT = r"%i %s %T@ %m\n"


def find_command(roots: list[str], stat: bool) -> list[str]:
    return ["find", *roots, *(["-printf", STAT_FORMAT] if stat else [])]


def find_case(ctx: Context, target: Target, stat: bool = True, variant: str = "",
              roots: list[str] | None = None) -> Case:
    """A Case whose warm-up pass counts the entries and whose timed passes go to /dev/null."""
    cmd = find_command(roots if roots is not None else target.roots(), stat)
    entries: list[int] = []

    def warmup() -> None:
        entries[:] = [procs.count_output_lines(cmd, ctx.command_timeout())]

    def timed() -> tuple[float, int]:
        if not entries:
            warmup()
        return procs.timed(cmd, ctx.command_timeout()), entries[0]

    return Case(target, timed, variant, warmup=warmup)

"""Metadata operation rates on many empty files in one directory, through each target.

Per round and target, in a fresh directory round-NN on the target's scratch pool (see
scratch.py): create N files (open O_CREAT|O_EXCL + close), lstat each, read the directory
(os.scandir, names only), rename each within the directory, unlink each. The phases run
part by part across the targets (create on every target, then stat on every target, ...),
each preceded by sync and a short settle. The pools live on a fresh journaled ext4 (see
scratch.py for why not on the VM's root fs). "Warm" stat means the silo's own caches are warm
(the files were just created). Each target runs with its default kernel caches: mergerfs's
1 s timeouts have expired after the settle, so every lstat reaches its daemon; Estuary keeps
names and attributes for 60 s because it invalidates them itself when something changes behind
the mount (docs/decisions.md, "Long kernel caches"), so a repeated lstat costs no round trip.
Run Estuary with `-o entry_timeout=1,attr_timeout=1,negative_timeout=0` to compare without that.
"""

from __future__ import annotations

import os
import time

from scratch import phase_settle, pool_note, scratch, transport_note
from targets import Target

from .base import Benchmark, Case, Context, Goal, Part, register

CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
GOALS = (Goal("mergerfs", 1.5),)  # the issue: every metadata rate >= 1.5x mergerfs's better config


class MetaRun:
    """The files of one target across the phases of a round; phases that fail midway leave
    `paths` naming exactly the files that exist, so later phases and cleanup stay correct."""

    def __init__(self, target: Target, root: str, files: int):
        self.target, self.root, self.files = target, root, files
        self.round = 0
        self.dir: str | None = None
        self.paths: list[str] = []

    def before_each(self) -> None:
        self.round += 1
        self.dir = os.path.join(self.root, f"round-{self.round:02d}")
        self.paths = []
        os.mkdir(self.dir)

    def _need_files(self, phase: str) -> None:
        if self.dir is None or len(self.paths) != self.files:
            raise RuntimeError(f"not run: {phase} needs the {self.files:,} files the create phase makes")

    def create(self):
        settled = phase_settle()
        paths = [f"{self.dir}/f{i:06d}" for i in range(self.files)]
        opn, close, done = os.open, os.close, 0
        start = time.perf_counter()
        try:
            for done in range(len(paths)):  # noqa: B007 (done says how far a failure got)
                close(opn(paths[done], CREATE_FLAGS, 0o644))
            done = len(paths)
            seconds = time.perf_counter() - start
        finally:
            self.paths = paths[:done]
        return seconds, self.files, {"settle_seconds": settled}

    def stat(self):
        self._need_files("stat")
        settled = phase_settle()
        lstat, start = os.lstat, time.perf_counter()
        for path in self.paths:
            lstat(path)
        return time.perf_counter() - start, len(self.paths), {"settle_seconds": settled}

    def readdir(self):
        self._need_files("readdir")
        settled = phase_settle()
        start = time.perf_counter()
        with os.scandir(self.dir) as it:
            entries = sum(1 for _ in it)
        seconds = time.perf_counter() - start
        if entries != self.files:
            raise RuntimeError(f"readdir returned {entries:,} entries, expected {self.files:,}")
        return seconds, entries, {"settle_seconds": settled}

    def rename(self):
        self._need_files("rename")
        settled = phase_settle()
        new = [f"{self.dir}/r{i:06d}" for i in range(len(self.paths))]
        rename, old, done = os.rename, self.paths, 0
        start = time.perf_counter()
        try:
            for done in range(len(old)):  # noqa: B007
                rename(old[done], new[done])
            done = len(old)
            seconds = time.perf_counter() - start
        finally:
            self.paths = new[:done] + old[done:]
        return seconds, len(new), {"settle_seconds": settled}

    def unlink(self):
        if self.dir is None or not self.paths:
            raise RuntimeError("not run: no files to unlink")
        settled = phase_settle()
        paths, unlink, done = self.paths, os.unlink, 0
        start = time.perf_counter()
        try:
            for done in range(len(paths)):  # noqa: B007
                unlink(paths[done])
            done = len(paths)
            seconds = time.perf_counter() - start
        finally:
            self.paths = paths[done:]
        return seconds, len(paths), {"settle_seconds": settled}

    def after_each(self) -> None:
        """Untimed cleanup of whatever a failed phase left, through the target."""
        for path in self.paths:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        self.paths = []
        if self.dir is not None:
            os.rmdir(self.dir)
            self.dir = None


def setup_metadata(ctx: Context, target: Target) -> list[Case]:
    stand_in = scratch(ctx).target(target)
    stand_in.up()
    files = ctx.options.meta_files
    run = MetaRun(stand_in, stand_in.roots()[0], files)
    stages = {"create": run.create, "stat": run.stat, "readdir": run.readdir,
              "rename": run.rename, "unlink": run.unlink}
    if pool_note(ctx) not in ctx.notes:
        ctx.notes.append(pool_note(ctx))
    note = (f"{files:,} empty files in one fresh directory per round on a scratch pool per target; "
            f"each phase after sync + a >=1 s settle")
    if note not in ctx.notes:
        ctx.notes.append(note)
    if (transport := transport_note(stand_in)) and transport not in ctx.notes:
        ctx.notes.append(transport)
    return [Case(stand_in, stages=stages, before_each=run.before_each, after_each=run.after_each)]


register(Benchmark(
    name="metadata",
    unit="ops/s",
    applies_to=("native", "mergerfs", "estuary"),
    setup=setup_metadata,
    order=40,
    weight=2.5,
    quick_rounds=1,
    description="create/stat/readdir/rename/unlink rates on N empty files in one directory "
                "(--meta-files), through each target's scratch pool",
    parts=(
        Part("create", "creates/s", "open(O_CREAT|O_EXCL) + close of each file in a fresh directory", GOALS),
        Part("stat", "stats/s", "lstat of each file (FUSE kernel caches expired)", GOALS),
        Part("readdir", "entries/s", "one os.scandir pass over the directory (names only)", GOALS),
        Part("rename", "renames/s", "rename of each file within the directory", GOALS),
        Part("unlink", "unlinks/s", "unlink of each file", GOALS),
    ),
))

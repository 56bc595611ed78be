"""Index queries: `estuary find` on the index of the cached tree, beside GNU find over its silos.

The pool, "bench" like the main target (same silos, same markers) but with its own state
(WORK/state-find, config WORK/estuary-find.toml), is scanned once with the daemon stopped and
reused while the tree and the tag layout are unchanged; it is never mounted: `estuary find
CONFIG --root /` answers from the index and prints paths under the pool root.

Before that scan, 1% of the files carry a tag set natively on the backing files
(`user.project=apollo` on every file f{n} with n % 100 == 7, via os.setxattr), so the scan
imports it. This is done once per cached tree and recorded in TREE_ROOT/.bench-find-tags.json.

Parts (warm cache, one warm-up pass per case which also checks both print the same number of
paths):
  tag:  estuary find --tag project=apollo --larger 2048 --type f   (~0.5% of the files)
        vs find SILOS -type f -size +2048c -name '*07'
        GNU find cannot test an xattr: it is given the tagged files' name pattern instead,
        which only works because the benchmark chose which files to tag. Reading the tag for
        real (find ... -print0 | xargs -0 getfattr) is timed once during set-up and reported
        as a note.
  size: estuary find --larger 2048 --type f   (about half the files: a walk of the whole index)
        vs find SILOS -type f -size +2048c
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time

import procs
from targets import EstuaryPool, EstuaryTarget, Target
from tree import FILES_PER_LEAF, Tree, leaf_holders, leaf_path

from .base import Benchmark, Case, Context, Goal, Part, register

TAG_KEY = "project"
TAG_VALUE = "apollo"
TAG_EVERY, TAG_REMAINDER = 100, 7      # files f{n} with n % 100 == 7 carry the tag: 1%
NAME_PATTERN = "*07"                   # ... which is what their names end in
LARGER = 2048                          # bytes: --larger 2048 == -size +2048c (strictly larger)
TAG_MARKER = ".bench-find-tags.json"
TAG_LAYOUT = {"xattr": f"user.{TAG_KEY}", "value": TAG_VALUE, "every": TAG_EVERY, "remainder": TAG_REMAINDER}


def _tag_tree(tree: Tree) -> None:
    """Sets the tag on 1% of the files in the silos, once per cached tree."""
    marker = os.path.join(tree.root, TAG_MARKER)
    try:
        with open(marker) as f:
            if json.load(f) == TAG_LAYOUT:
                return
    except (OSError, ValueError):
        pass
    start = time.monotonic()
    tagged = 0
    params = tree.params
    for n, holders in enumerate(leaf_holders(params)):
        first = n * FILES_PER_LEAF
        for i in range(min(FILES_PER_LEAF, params.files - first)):
            if (first + i) % TAG_EVERY != TAG_REMAINDER:
                continue
            silo = tree.silo_paths[holders[i % len(holders)]]
            os.setxattr(os.path.join(silo, leaf_path(n), f"f{first + i:07d}"), f"user.{TAG_KEY}", TAG_VALUE.encode())
            tagged += 1
    procs.sync()
    with open(marker, "w") as f:
        json.dump(TAG_LAYOUT, f)
    print(f"  find: tagged {tagged:,} files ({TAG_LAYOUT['xattr']}={TAG_VALUE}) in {time.monotonic() - start:.1f}s")


def _index_ready(state_dir: str, files: int) -> bool:
    """Whether the state dir holds a complete index of the tree with the tag index (0003)."""
    path = os.path.join(state_dir, "index.db")
    if not os.path.exists(path):
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            applied = {r[0] for r in db.execute("SELECT name FROM migrations")}
            regular = db.execute("SELECT count(*) FROM entries WHERE kind = 1").fetchone()[0]
            tagged = db.execute("SELECT count(*) FROM xattrs WHERE name = ?", (TAG_LAYOUT["xattr"].encode(),)).fetchone()[0]
    except sqlite3.Error:
        return False
    return "0003-tag-index" in applied and regular == files and tagged == len(range(TAG_REMAINDER, files, TAG_EVERY))


class FindPool:
    """The find benchmark's pool over the cached tree, scanned once."""

    def __init__(self, ctx: Context):
        tree = ctx.tree
        pool = EstuaryPool(name="bench", silos=[(p, "fast") for p in tree.silo_paths],
                           state_dir=os.path.join(ctx.work, "state-find"),
                           config_path=os.path.join(ctx.work, "estuary-find.toml"),
                           identity=f"{tree.params.key}-find-v1")
        self.estuary = EstuaryTarget(pool, os.path.join(ctx.work, "mnt-find"), ctx.bin_dir,
                                     os.path.join(ctx.work, "logs", "estuaryfs-find.log"), name="estuary")
        self.ctx = ctx
        self.ready = False
        self.getfattr_note: str | None = None

    def ensure(self) -> None:
        if self.ready:
            return
        if reason := self.estuary.missing_binaries():
            raise RuntimeError(reason)
        _tag_tree(self.ctx.tree)
        self.estuary.prepare()
        if not _index_ready(self.estuary.state_dir, self.ctx.tree.params.files):
            seconds, entries, _ = self.estuary.scan(self.ctx.command_timeout())
            print(f"  find: scanned {entries:,} entries into {self.estuary.state_dir} in {seconds:.1f}s")
            if not _index_ready(self.estuary.state_dir, self.ctx.tree.params.files):
                raise RuntimeError(f"the index in {self.estuary.state_dir} lacks files or tags after the scan")
        self.ready = True

    def estuary_command(self, tagged: bool) -> list[str]:
        tag = ["--tag", f"{TAG_KEY}={TAG_VALUE}"] if tagged else []
        return [self.estuary.cli_bin, "find", self.estuary.config_path, "--root", "/", *tag,
                "--larger", str(LARGER), "--type", "f"]


def find_command(roots: list[str], tagged: bool) -> list[str]:
    return ["find", *roots, "-type", "f", "-size", f"+{LARGER}c", *(["-name", NAME_PATTERN] if tagged else [])]


def _getfattr_note(roots: list[str], expected: int, timeout: float) -> str:
    """Times the tag test done for real with GNU tools: find | xargs getfattr."""
    cmd = ("find " + " ".join(f"'{r}'" for r in roots) + f" -type f -size +{LARGER}c -print0"
           f" | xargs -0 getfattr --absolute-names -n user.{TAG_KEY} 2>/dev/null"
           f" | grep -c '^user.{TAG_KEY}=\"{TAG_VALUE}\"$'")
    start = time.perf_counter()
    try:
        out = subprocess.run(["sh", "-c", cmd], capture_output=True, text=True, timeout=timeout).stdout.strip()
    except subprocess.TimeoutExpired:
        return f"GNU find | xargs getfattr (reads the tag of every file over {LARGER} B): over {timeout:.0f}s"
    seconds = time.perf_counter() - start
    found = int(out) if out.isdigit() else -1
    check = "" if found == expected else f", but found {found:,} instead of {expected:,}"
    return (f"GNU find reading the tag for real, `find SILOS -type f -size +{LARGER}c -print0 | xargs -0 getfattr "
            f"-n user.{TAG_KEY}` (one run, not in the table): {seconds:.2f}s{check}")


def _counted_case(ctx: Context, target: Target, commands: dict[str, list[str]], variant: str,
                  counts: dict[str, dict[str, int]], before=None) -> Case:
    """A case with one stage per part; its warm-up counts the paths each command prints."""
    mine: dict[str, int] = {}
    counts[target.kind] = mine

    def warmup() -> None:
        if before:
            before()
        for part, cmd in commands.items():
            mine[part] = procs.count_output_lines(cmd, ctx.command_timeout())
        _check_counts(counts)

    def stage(part: str):
        def timed() -> tuple[float, int]:
            if part not in mine:
                warmup()
            return procs.timed(commands[part], ctx.command_timeout()), mine[part]
        return timed

    return Case(target, variant=variant, warmup=warmup, stages={p: stage(p) for p in commands})


def _check_counts(counts: dict[str, dict[str, int]]) -> None:
    """Both tools must print the same number of paths for a part, or the comparison is void."""
    native, estuary = counts.get("native", {}), counts.get("estuary", {})
    for part in native.keys() & estuary.keys():
        if native[part] != estuary[part]:
            raise RuntimeError(f"{part}: estuary find printed {estuary[part]:,} paths, find {native[part]:,}")


def setup_find(ctx: Context, target: Target) -> list[Case]:
    pool: FindPool = ctx.shared.setdefault("find-pool", FindPool(ctx))
    counts: dict[str, dict[str, int]] = ctx.shared.setdefault("find-counts", {})
    if target.kind == "estuary":
        pool.ensure()
        if ctx.tree.params.files < 1_000_000:
            ctx.notes.append(f"the >=10x goal is set for the 1,000,000-file tree; on {ctx.tree.params.files:,} files "
                             "the CLI's start-up (~20 ms) is most of estuary find's time")
        cmds = {"tag": pool.estuary_command(True), "size": pool.estuary_command(False)}
        return [_counted_case(ctx, target, cmds, "estuary find (index)", counts)]
    roots = list(ctx.tree.silo_paths)
    cmds = {"tag": find_command(roots, True), "size": find_command(roots, False)}

    def note_getfattr() -> None:
        if pool.getfattr_note is None:
            expected = sum(1 for n in range(TAG_REMAINDER, ctx.tree.params.files, TAG_EVERY)
                           if ((n * 2654435761) % 4097) > LARGER)
            pool.getfattr_note = _getfattr_note(roots, expected, min(600.0, ctx.command_timeout()))
            ctx.notes.append(pool.getfattr_note)
            print(f"  note: {pool.getfattr_note}")

    return [_counted_case(ctx, target, cmds, "GNU find", counts, before=note_getfattr)]


register(Benchmark(
    name="find",
    unit="s",
    applies_to=("native", "estuary"),
    setup=setup_find,
    order=35,
    description="estuary find on the index of the cached tree (no mount, no silo access) vs GNU find "
                "over the silos, warm cache, output to /dev/null",
    parts=(
        Part("tag", "s", f"files tagged {TAG_KEY}={TAG_VALUE} (1%) and larger than {LARGER} B: "
                         f"estuary find --tag {TAG_KEY}={TAG_VALUE} --larger {LARGER} --type f vs "
                         f"find SILOS -type f -size +{LARGER}c -name '{NAME_PATTERN}' (find cannot test "
                         f"xattrs: it is handed the tagged files' name pattern)",
             goals=(Goal("native", 10.0),)),
        Part("size", "s", f"files larger than {LARGER} B (about half; a walk of the whole index): "
                          f"estuary find --larger {LARGER} --type f vs find SILOS -type f -size +{LARGER}c"),
    ),
    notes=["GNU find has no xattr test: its find-tag row selects the tagged files by their name pattern "
           "(-name '*07'), which only the benchmark knows; the getfattr note shows what testing the tag costs it"],
))

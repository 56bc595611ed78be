"""Synthetic silo tree: deterministic layout, fast generation, cached by parameters.

Layout (per logical leaf directory n, ~FILES_PER_LEAF files each):
    t{n // 100:04d}/d{k:02d}                 for k = n % 100 < 50   (depth 2)
    t{n // 100:04d}/g{k // 10 - 5}/e{k % 10}  for k = n % 100 >= 50  (depth 3)

Every leaf has a "home" silo; about a third of the leaves also exist in one or two
more silos, and their files are dealt round-robin across the holders. Top-level and
group directories therefore appear in many silos, so a union view must merge them.
File names are unique across silos (no shadowing), so every layer agrees on the
number of files. Sizes are 0..4096 bytes, derived arithmetically (no RNG per file).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass

LAYOUT_VERSION = 1
FILES_PER_LEAF = 100
MARKER = ".bench-tree.json"


@dataclass(frozen=True)
class TreeParams:
    files: int
    silos: int
    seed: int = 1
    layout: int = LAYOUT_VERSION

    @property
    def key(self) -> str:
        return f"f{self.files}-s{self.silos}-seed{self.seed}-v{self.layout}"


@dataclass
class Tree:
    params: TreeParams
    root: str             # WORK/silos/<key>
    silo_paths: list[str]  # root/s0 .. root/s{K-1}
    generated: bool        # False when reused from cache
    gen_seconds: float     # generation time (0 when cached)


def leaf_path(n: int) -> str:
    top, k = divmod(n, 100)
    if k < 50:
        return f"t{top:04d}/d{k:02d}"
    return f"t{top:04d}/g{k // 10 - 5}/e{k % 10}"


def leaf_holders(params: TreeParams) -> list[list[int]]:
    """For each leaf, the silos holding it (home silo first). Deterministic in seed."""
    rng = random.Random(params.seed)
    leaves = -(-params.files // FILES_PER_LEAF)
    holders = []
    for _ in range(leaves):
        home = rng.randrange(params.silos)
        extra = rng.choice((0, 0, 0, 0, 1, 2)) if params.silos > 1 else 0
        others = rng.sample([s for s in range(params.silos) if s != home], min(extra, params.silos - 1))
        holders.append([home, *others])
    return holders


def _write_silo(args: tuple[TreeParams, str, int]) -> int:
    """Create every directory and file that lives in one silo. Runs in a worker process."""
    params, silo_dir, silo = args
    payload = b"x" * 4096
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    written = 0
    for n, holders in enumerate(leaf_holders(params)):
        if silo not in holders:
            continue
        first = n * FILES_PER_LEAF
        count = min(FILES_PER_LEAF, params.files - first)
        mine = [i for i in range(count) if holders[i % len(holders)] == silo]
        if not mine:
            continue
        d = os.path.join(silo_dir, leaf_path(n))
        os.makedirs(d, exist_ok=True)
        for i in mine:
            fd = os.open(f"{d}/f{first + i:07d}", flags, 0o644)
            size = ((first + i) * 2654435761) % 4097
            if size:
                os.write(fd, payload[:size])
            os.close(fd)
        written += len(mine)
    return written


def _read_marker(root: str) -> dict | None:
    try:
        with open(os.path.join(root, MARKER)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _cpu_busy_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies from /proc/stat; iowait counts as busy (writeback is what we wait for)."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    busy = user + nice + system + iowait + irq + softirq
    return busy, busy + idle + steal


def settle(min_seconds: float, max_seconds: float, idle_below: float = 0.10, quiet_needed: int = 3) -> float:
    """Flush dirty data, then wait until ext4's background work (e.g. unwritten-extent
    conversion after mass creates) has died down: `quiet_needed` consecutive seconds under
    `idle_below` CPU use, at least min_seconds, at most max_seconds. Returns the seconds waited."""
    start = time.monotonic()
    subprocess.run(["sync"], check=True)
    quiet = 0
    busy0, total0 = _cpu_busy_jiffies()
    while True:
        time.sleep(1.0)
        busy1, total1 = _cpu_busy_jiffies()
        share = (busy1 - busy0) / max(1, total1 - total0)
        busy0, total0 = busy1, total1
        quiet = quiet + 1 if share < idle_below else 0
        waited = time.monotonic() - start
        if waited >= max_seconds or (quiet >= quiet_needed and waited >= min_seconds):
            return waited


def ensure_tree(work: str, params: TreeParams, log=print) -> Tree:
    """Return the cached tree for these params, generating it (in parallel per silo) if needed."""
    root = os.path.join(work, "silos", params.key)
    silo_paths = [os.path.join(root, f"s{i}") for i in range(params.silos)]
    if _read_marker(root) == asdict(params):
        log(f"tree: reusing cached {root}")
        return Tree(params, root, silo_paths, False, 0.0)

    if os.path.exists(root):  # partial or stale generation: start over
        log(f"tree: removing incomplete {root}")
        shutil.rmtree(root)
    for p in silo_paths:
        os.makedirs(p)
    log(f"tree: generating {params.files:,} files in {params.silos} silos under {root} ...")
    start = time.perf_counter()
    workers = max(1, min(os.cpu_count() or 1, params.silos))
    with ProcessPoolExecutor(workers) as pool:
        total = sum(pool.map(_write_silo, [(params, p, i) for i, p in enumerate(silo_paths)]))
    gen_seconds = time.perf_counter() - start
    assert total == params.files, (total, params.files)
    log(f"tree: wrote {total:,} files in {gen_seconds:.1f}s; syncing and waiting for ext4 to settle")
    big = params.files >= 100_000
    log(f"tree: settled after {settle(5.0 if big else 1.0, 120.0 if big else 10.0):.0f}s")
    # The marker goes last so an interrupted generation is never mistaken for a complete one.
    with open(os.path.join(root, MARKER), "w") as f:
        json.dump(asdict(params), f)
    return Tree(params, root, silo_paths, True, gen_seconds)


def other_cached_trees(work: str, current: Tree) -> list[str]:
    """Trees left by runs with other parameters (never deleted automatically)."""
    base = os.path.join(work, "silos")
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return []
    return [os.path.join(base, n) for n in names if os.path.join(base, n) != current.root]

#!/usr/bin/env python3
"""Metadata operations as a new user measures them (issue 19): Estuary against mergerfs under
both presets of its man page and native ext4, on a tree of many directories and on one large
directory.

    python3 bench/meta.py [--bin-dir .build/release] [--files 20000] [--dirs 100] [--rounds 3]
                          [--shapes tree,flat] [--targets native,mergerfs-off,mergerfs-perf,estuary]
                          [--work /var/tmp/estuary-meta-bench] [--json out.json]

Shapes: "tree" is --files files spread over --dirs directories (one mkdir of the top, then the
directories, untimed), "flat" is --files files in one directory. Per round and shape, each
operation runs on every target before the next operation starts, in an order that rotates
every round: create (open O_CREAT|O_EXCL + close), lstat of each file, one os.scandir pass
over each directory (entries/s), rename of each file within its directory, unlink of each.
Each timed phase is preceded by sync and a settle (>= 1 s, until the CPUs are quiet), and the
mass deletes by a longer one (journaled ext4 is slow to create for a while after them).

Targets (all on one fresh journaled ext4 in a loop-mounted sparse image, so one disk):
  native         a directory of the ext4
  mergerfs-off   mergerfs cache.files=off over two silos (man page preset one)
  mergerfs-perf  mergerfs with the man page's performance list over two silos
  estuary        estuaryfs over two silos, -o allow_other (the daemon checks permissions)
  estuary-kperm  the same with -o default_permissions (the kernel checks them; not run by default)
Every FUSE target is mounted once for the whole run, as a user would. The result per target,
shape and operation is the median over rounds of the rate; the ratio is Estuary's rate over
the better mergerfs preset's rate for that operation (goal: 1.5, readdir 1.0).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mounts import CLEANUP, FuseDaemon, install_handlers, mount_fstype, unmount  # noqa: E402
from tree import settle  # noqa: E402

OPS = ["create", "stat", "readdir", "rename", "unlink"]
GOALS = {"create": 1.5, "stat": 1.5, "readdir": 1.0, "rename": 1.5, "unlink": 1.5}
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
MERGERFS_PRESETS = {
    "mergerfs-off": "cache.files=off",
    "mergerfs-perf": "cache.files=auto-full,cache.attr=10,cache.entry=10,cache.negative_entry=1,"
                     "cache.readdir=true,func.getattr=newest,security_capability=false",
}
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {(done.stderr or done.stdout).strip()[-300:]}")


class Disk:
    """A fresh journaled ext4 in a sparse image, loop-mounted at WORK/fs."""

    def __init__(self, work: str, size_gib: int = 8):
        self.root = os.path.join(work, "fs")
        self.image = os.path.join(work, "meta.img")
        if mount_fstype(self.root) is not None:
            run(["umount", self.root])
        if os.path.exists(self.image):
            os.unlink(self.image)
        with open(self.image, "wb") as f:
            f.truncate(size_gib << 30)
        run(["mkfs.ext4", "-q", "-F", "-N", "1048576", "-E",
             "lazy_itable_init=0,lazy_journal_init=0,nodiscard", self.image])
        os.makedirs(self.root, exist_ok=True)
        run(["mount", "-o", "loop", self.image, self.root])
        CLEANUP.push("meta disk", self.remove)

    def remove(self) -> None:
        CLEANUP.discard("meta disk")
        subprocess.run(["sync"], check=False)
        if mount_fstype(self.root) is not None:
            run(["umount", self.root])
        if os.path.exists(self.image):
            os.unlink(self.image)


class Target:
    def __init__(self, name: str, root: str, daemon: FuseDaemon | None = None):
        self.name, self.root, self.daemon = name, root, daemon

    def up(self) -> None:
        if self.daemon is not None:
            self.daemon.start(120.0)

    def down(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()


def make_targets(disk: Disk, work: str, bin_dir: str, names: list[str]) -> list[Target]:
    targets = []
    logs = os.path.join(work, "logs")
    for name in names:
        base = os.path.join(disk.root, name)
        silos = [os.path.join(base, "s0"), os.path.join(base, "s1")]
        for s in silos:
            os.makedirs(s)
        mnt = os.path.join(work, f"mnt-{name}")
        if name == "native":
            targets.append(Target(name, silos[0]))
        elif name in MERGERFS_PRESETS:
            cmd = ["mergerfs", "-f", "-o", f"{MERGERFS_PRESETS[name]},allow_other,fsname={name}",
                   ":".join(silos), mnt]
            targets.append(Target(name, mnt, FuseDaemon(name, cmd, mnt, "fuse.mergerfs",
                                                         os.path.join(logs, f"{name}.log"))))
        elif name in ("estuary", "estuary-kperm"):
            state = os.path.join(work, f"state-{name}")
            shutil.rmtree(state, ignore_errors=True)
            config = os.path.join(work, f"{name}.toml")
            with open(config, "w") as f:
                f.write(f'[pool]\nname = "{name}"\nstate_dir = "{state}"\n\n'
                        f'[tiers]\norder = ["fast", "bulk"]\n\n'
                        f'[[silo]]\nname = "s0"\npath = "{silos[0]}"\ntier = "fast"\n\n'
                        f'[[silo]]\nname = "s1"\npath = "{silos[1]}"\ntier = "bulk"\n')
            options = "allow_other,default_permissions" if name == "estuary-kperm" else "allow_other"
            cmd = [os.path.join(bin_dir, "estuaryfs"), config, mnt, "-f", "-o", options]
            targets.append(Target(name, mnt, FuseDaemon("estuaryfs", cmd, mnt, "fuse.estuaryfs",
                                                         os.path.join(logs, f"{name}.log"))))
        else:
            raise SystemExit(f"unknown target {name}")
    return targets


class Shape:
    """The files of one shape in one round on one target."""

    def __init__(self, top: str, dirs: int, files: int):
        self.top = top
        self.dirs = [os.path.join(top, f"d{i:03d}") for i in range(dirs)] if dirs > 1 else [top]
        per = files // len(self.dirs)
        self.paths = [f"{d}/f{i:06d}" for d in self.dirs for i in range(per)]
        self.renamed = [f"{d}/r{i:06d}" for d in self.dirs for i in range(per)]

    def prepare(self) -> None:
        os.mkdir(self.top)
        for d in self.dirs:
            if d != self.top:
                os.mkdir(d)

    def create(self) -> tuple[float, int]:
        opn, close = os.open, os.close
        start = time.perf_counter()
        for p in self.paths:
            close(opn(p, CREATE_FLAGS, 0o644))
        return time.perf_counter() - start, len(self.paths)

    def stat(self) -> tuple[float, int]:
        lstat = os.lstat
        start = time.perf_counter()
        for p in self.paths:
            lstat(p)
        return time.perf_counter() - start, len(self.paths)

    def readdir(self) -> tuple[float, int]:
        entries = 0
        start = time.perf_counter()
        for d in self.dirs:
            with os.scandir(d) as it:
                for _ in it:
                    entries += 1
        seconds = time.perf_counter() - start
        if entries != len(self.paths):
            raise RuntimeError(f"readdir found {entries} entries, expected {len(self.paths)}")
        return seconds, entries

    def rename(self) -> tuple[float, int]:
        rename = os.rename
        start = time.perf_counter()
        for old, new in zip(self.paths, self.renamed):
            rename(old, new)
        return time.perf_counter() - start, len(self.paths)

    def unlink(self) -> tuple[float, int]:
        unlink = os.unlink
        start = time.perf_counter()
        for p in self.renamed:
            unlink(p)
        return time.perf_counter() - start, len(self.paths)

    def finish(self) -> None:
        for d in self.dirs:
            if d != self.top:
                os.rmdir(d)
        os.rmdir(self.top)


def phase_settle(long: bool = False) -> None:
    subprocess.run(["sync"], check=False)
    settle(5.0 if long else 1.0, 15.0 if long else 3.0, quiet_needed=2 if long else 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin-dir", default=".build/release")
    p.add_argument("--files", type=int, default=20000)
    p.add_argument("--dirs", type=int, default=100, help="directories of the tree shape")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--shapes", default="tree,flat")
    p.add_argument("--targets", default="native,mergerfs-off,mergerfs-perf,estuary")
    p.add_argument("--work", default="/var/tmp/estuary-meta-bench")
    p.add_argument("--json", help="also write every sample and the summary here")
    args = p.parse_args()
    install_handlers()
    bin_dir = os.path.join(REPO_ROOT, args.bin_dir)
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    shapes = [s for s in args.shapes.split(",") if s]
    names = [t for t in args.targets.split(",") if t]

    disk = Disk(work)
    targets = make_targets(disk, work, bin_dir, names)
    samples = {s: {t.name: {op: [] for op in OPS} for t in targets} for s in shapes}
    try:
        for t in targets:
            t.up()
        for r in range(args.rounds):
            order = targets[r % len(targets):] + targets[:r % len(targets)]
            for shape in shapes:
                dirs = args.dirs if shape == "tree" else 1
                work_of = {t.name: Shape(os.path.join(t.root, f"{shape}-{r:02d}"), dirs, args.files)
                           for t in order}
                for t in order:
                    work_of[t.name].prepare()
                for op in OPS:
                    for t in order:
                        phase_settle()
                        seconds, count = getattr(work_of[t.name], op)()
                        samples[shape][t.name][op].append(count / seconds)
                    print(f"round {r + 1}/{args.rounds} {shape:4s} {op:8s} " +
                          "  ".join(f"{t.name} {samples[shape][t.name][op][-1]:>10,.0f}" for t in targets),
                          flush=True)
                for t in order:
                    work_of[t.name].finish()
                phase_settle(long=True)
    finally:
        for t in targets:
            t.down()
        disk.remove()

    summary = print_table(samples, targets, args)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"argv": sys.argv[1:], "samples": samples, "summary": summary}, f, indent=2)
    return 0


def print_table(samples: dict, targets: list[Target], args) -> dict:
    names = [t.name for t in targets]
    mergers = [n for n in names if n in MERGERFS_PRESETS]
    print(f"\nmedians of {args.rounds} interleaved rounds, {args.files:,} files "
          f"(tree: over {args.dirs} directories; flat: one directory); ops/s (readdir: entries/s)")
    header = f"{'shape':5s} {'op':8s} " + " ".join(f"{n:>14s}" for n in names)
    if "estuary" in names and mergers:
        header += f" {'est/best mfs':>13s} {'goal':>5s}"
    print(header)
    summary: dict = {}
    for shape, per_target in samples.items():
        for op in OPS:
            med = {n: statistics.median(per_target[n][op]) for n in names}
            row = f"{shape:5s} {op:8s} " + " ".join(f"{med[n]:>14,.0f}" for n in names)
            entry = {"medians": med}
            if "estuary" in names and mergers:
                best = max(med[m] for m in mergers)
                ratio = med["estuary"] / best
                entry["ratio"] = ratio
                row += f" {ratio:>13.2f} {'ok' if ratio >= GOALS[op] else 'MISS':>5s}"
            summary.setdefault(shape, {})[op] = entry
            print(row)
    return summary


if __name__ == "__main__":
    sys.exit(main())

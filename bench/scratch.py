"""Scratch pools for the benchmarks that write (metadata, fio).

Every target gets its own small pool, so that one target's files never show up in (or
are indexed by) another:

    WORK/meta-silos/native/s0                       the native directory
    WORK/meta-silos/<mergerfs config>/s0, s1        mounted at WORK/mnt-meta-<config>
    WORK/meta-silos/estuary/s0 (fast), s1 (bulk)    mounted at WORK/mnt-meta-estuary, pool
                                                    "benchmeta", state WORK/state-meta

WORK/meta-silos is a freshly made, journaled ext4 file system in a sparse image
(WORK/meta.img, loop-mounted with direct I/O to the image) for every harness run; it is
unmounted and the image deleted when the harness exits. Why not
a directory on WORK's own file system: the benchmark VM's root fs is ext4 *without a
journal*, and there ext4 skips inodes freed in the last 60 s (360 s while their
inode-table block is dirty) on every allocation, scanning past each of them: creating
20,000 files within minutes of deleting 20,000 runs 3-20x slower, depending on which block
group the new directory lands in. No settle short of six minutes fixes that, a journal
does (the check is skipped on journaled ext4, like most real silo disks). If the loop
mount is not possible the pools fall back to WORK's file system and the run says so.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import procs
from mounts import CLEANUP, mount_fstype, unmount
from targets import (MERGERFS_CONFIGS, EstuaryPool, EstuaryTarget, FuseTarget, MergerfsTarget,
                     NativeTarget, Target)
from tree import settle

GiB = 1 << 30


def phase_settle() -> float:
    """Before a timed phase: flush, and wait at least a second (so mergerfs's FUSE entry/attr
    caches filled by the previous phase, 1 s timeouts, have expired; Estuary keeps its own,
    see benchmarks/metadata.py) and until the CPUs have been
    quiet for a second (at most 4 s). Returns the seconds waited."""
    return settle(1.0, 4.0, quiet_needed=1)


def _run(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:2])}: {(proc.stderr or proc.stdout).strip()[-300:]}")


def _has_journal(path: str) -> bool | None:
    """Whether the ext4 file system holding path has a journal (None: not ext4 / unknown)."""
    try:
        out = subprocess.run(["findmnt", "-no", "FSTYPE,SOURCE", "-T", path],
                             capture_output=True, text=True, timeout=10).stdout.split()
        if len(out) < 2 or out[0] != "ext4":
            return None
        dev = os.path.basename(out[1])
        return any(name.startswith(dev + "-") for name in os.listdir("/proc/fs/jbd2"))
    except (OSError, subprocess.SubprocessError):
        return None


class Scratch:
    def __init__(self, work: str, bin_dir: str, image_bytes: int):
        self.work = work
        self.root = os.path.join(work, "meta-silos")
        self.image = os.path.join(work, "meta.img")
        self.image_bytes = image_bytes
        self.fs: str | None = None   # what the pools live on, for the report
        self._fresh = False
        self.silos: dict[str, list[str]] = {"native": [os.path.join(self.root, "native", "s0")]}
        targets: list[Target] = [NativeTarget(self.silos["native"])]
        for c in MERGERFS_CONFIGS:
            self.silos[c.name] = [os.path.join(self.root, c.name, s) for s in ("s0", "s1")]
            targets.append(MergerfsTarget(c, self.silos[c.name], os.path.join(work, f"mnt-meta-{c.name}"),
                                          os.path.join(work, "logs", f"meta-{c.name}.log")))
        self.silos["estuary"] = [os.path.join(self.root, "estuary", s) for s in ("s0", "s1")]
        pool = EstuaryPool(name="benchmeta", silos=list(zip(self.silos["estuary"], ("fast", "bulk"))),
                           state_dir=os.path.join(work, "state-meta"),
                           config_path=os.path.join(work, "estuary-meta.toml"), identity="benchmeta-v1",
                           tier_order=("fast", "bulk"))
        targets.append(EstuaryTarget(pool, os.path.join(work, "mnt-meta-estuary"), bin_dir,
                                     os.path.join(work, "logs", "estuaryfs-meta.log")))
        self.targets = {t.name: t for t in targets}

    @property
    def estuary(self) -> EstuaryTarget:
        return self.targets["estuary"]

    def target(self, main: Target) -> Target:
        """The scratch stand-in for one of the tree's targets (same name and kind)."""
        self._ensure_fresh()
        return self.targets[main.name]

    def first_silo(self, target: Target) -> str:
        """Where new files land: s0 ("fast" for Estuary, first found for mergerfs ff)."""
        return self.silos[target.name][0]

    def _ensure_fresh(self) -> None:
        if self._fresh:
            return
        for t in self.targets.values():  # our own, or left mounted by a killed run
            t.down()
            if isinstance(t, FuseTarget) and mount_fstype(t.mountpoint) is not None:
                unmount(t.mountpoint)
        self._unmount_fs()
        try:
            self._make_fs()
        except (OSError, RuntimeError, subprocess.SubprocessError) as e:
            print(f"scratch: no loop-mounted ext4 ({e}); the pools go on {self.work}'s own file system")
            shutil.rmtree(self.root, ignore_errors=True)
            self.fs = f"directory on {self.work}'s file system (loop mount failed: {e})"
            if _has_journal(self.work) is False:
                self.fs += "; ext4 without a journal: creates after mass deletes run slow for minutes"
        self.estuary.wipe_state()
        for paths in self.silos.values():
            for p in paths:
                os.makedirs(p)
        self.estuary.prepare()
        self._fresh = True

    def _make_fs(self) -> None:
        """A fresh journaled ext4 in a sparse image, loop-mounted at self.root."""
        if os.path.exists(self.image):
            os.unlink(self.image)
        with open(self.image, "wb") as f:
            f.truncate(self.image_bytes)
        # Inode tables and journal written now, so no lazy-init thread runs during the benchmarks.
        _run(["mkfs.ext4", "-q", "-F", "-L", "estuary-bench", "-N", "1048576", "-E",
              "lazy_itable_init=0,lazy_journal_init=0,nodiscard", self.image])
        shutil.rmtree(self.root, ignore_errors=True)  # files of a fallback run, hidden by the mount
        os.makedirs(self.root)
        _run(["mount", "-o", "loop", self.image, self.root])
        CLEANUP.push("scratch fs", self._unmount_fs)
        device = subprocess.run(["findmnt", "-no", "SOURCE", self.root], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        # Written pages then reach the image without a second copy in the page cache.
        dio = subprocess.run(["losetup", "--direct-io=on", device], capture_output=True, timeout=30)
        self.fs = (f"ext4 with journal on {device} (sparse {self.image_bytes // GiB} GiB image {self.image}"
                   f"{', direct I/O' if dio.returncode == 0 else ''})")

    def _unmount_fs(self) -> None:
        CLEANUP.discard("scratch fs")
        if mount_fstype(self.root) is None:
            return
        for t in self.targets.values():
            t.down()
        subprocess.run(["sync"], check=False)
        _run(["umount", self.root])  # never lazily: the image is rewritten next run
        try:
            os.unlink(self.image)  # up to a few GiB of fio files
        except OSError:
            pass

    def down(self) -> None:
        for t in self.targets.values():
            t.down()


def scratch(ctx) -> Scratch:
    """The run's scratch pools (created on first use, shared by the writing benchmarks)."""
    if "scratch" not in ctx.shared:
        # Each target keeps three fio files (read, sequential write, random write); mergerfs
        # refuses to create files on a branch with less than minfreespace (default 4 GiB) free.
        fio_bytes = 3 * (len(MERGERFS_CONFIGS) + 2) * ctx.options.fio_size
        ctx.shared["scratch"] = Scratch(ctx.work, ctx.bin_dir, max(32 * GiB, fio_bytes * 5 // 4 + 8 * GiB))
    return ctx.shared["scratch"]


def pool_note(ctx) -> str:
    return f"scratch pools: {scratch(ctx).fs}"


def transport_note(target) -> str | None:
    """How a mounted Estuary target receives requests (io_uring or /dev/fuse), from its status."""
    if getattr(target, "kind", "") != "estuary":
        return None
    try:
        _, out = procs.timed_capture([target.cli_bin, "status", target.config_path, "--json"], 30.0)
        transport = str(json.loads(out).get("transport", "an unknown transport"))
        if transport.endswith(("requests", "request")):  # the count changes; the shape does not
            transport = transport.rsplit(", ", 1)[0]
        return f"estuary requests through {transport}"
    except Exception as e:  # a report line must not fail the run
        return f"estuary transport unknown ({str(e)[:120]})"

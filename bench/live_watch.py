#!/usr/bin/env python3
"""Live assimilation bench (issue 18): how soon a change made in a silo, behind the mount,
shows through the mount, and what watching costs the mount's own metadata rates.

    python3 bench/live_watch.py [--bin-dir .build/release] [--samples 200] [--burst 20000]
                                [--burst-dirs 1] [--meta-files 5000] [--log FILE] [--rounds 3] [--work /var/tmp/estuary-watch-bench]

lag: one file created in a silo, then lstat through the mount until it answers (p50, p99 of
--samples). applied/s: --burst files created in a silo at once (spread over --burst-dirs new
directories), until listings through the mount count them all; and the seconds from the last
create to that point (the issue's bound is 1 s). overhead: create + stat + unlink of --meta-files files through the
mount, watching on vs off (`watch = false`), rounds interleaved; goal under 5%.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Pool:
    def __init__(self, work: str, name: str, watch: bool, bin_dir: str, log: str | None = None):
        self.root = os.path.join(work, name)
        shutil.rmtree(self.root, ignore_errors=True)
        self.mnt = os.path.join(self.root, "mnt")
        self.silos = [os.path.join(self.root, "silos", s) for s in ("a", "b")]
        for d in [self.mnt] + self.silos:
            os.makedirs(d)
        lines = [f'[pool]\nname = "{name}"\nstate_dir = "{self.root}/state"\n']
        for i, s in enumerate(self.silos):
            lines.append(f'[[silo]]\nname = "s{i}"\npath = "{s}"\ntier = "t"\n' + ("" if watch else "watch = false\n"))
        self.config = os.path.join(self.root, "pool.toml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines))
        self.binary = os.path.join(bin_dir, "estuaryfs")
        self.process: subprocess.Popen | None = None
        self.log = log
        self.options: list[str] = []   # more -o options for the daemon

    def mount(self) -> None:
        options = (["-o", "log_level=debug"] if self.log else []) + self.options
        log = open(self.log, "w") if self.log else subprocess.DEVNULL
        self.process = subprocess.Popen([self.binary, self.config, self.mnt, "-f"] + options,
                                        stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if os.path.ismount(self.mnt) and os.stat(self.mnt).st_ino == 1:
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.mnt} did not mount")

    def unmount(self) -> None:
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        if self.process:
            self.process.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def wait_visible(path: str, limit: float = 10.0) -> float:
    start = time.monotonic()
    while True:
        try:
            os.lstat(path)
            return time.monotonic() - start
        except FileNotFoundError:
            if time.monotonic() - start > limit:
                raise RuntimeError(f"{path} not visible after {limit} s")
            time.sleep(0.001)


def lag(pool: Pool, samples: int) -> list[float]:
    os.makedirs(os.path.join(pool.silos[1], "lag"))
    wait_visible(os.path.join(pool.mnt, "lag"))
    lags = []
    for i in range(samples):
        name = f"f{i}"
        with open(os.path.join(pool.silos[1], "lag", name), "w"):
            pass
        lags.append(wait_visible(os.path.join(pool.mnt, "lag", name)))
    return lags


def burst(pool: Pool, count: int, dirs: int) -> tuple[float, float, float]:
    """Creates `count` files in `dirs` new directories of a silo as fast as Python can;
    returns creates applied per second (first create to all listed through the mount), the
    seconds the creates took, and the seconds from the last create to all listed."""
    directories = [os.path.join(pool.silos[0], "burst", f"d{d}") for d in range(dirs)]
    for d in directories:
        os.makedirs(d)
    start = time.monotonic()
    for i in range(count):
        os.close(os.open(os.path.join(directories[i % dirs], f"f{i}"), os.O_CREAT | os.O_WRONLY, 0o644))
    made = time.monotonic()
    seen = [os.path.join(pool.mnt, "burst", f"d{d}") for d in range(dirs)]
    while True:
        try:
            if sum(len(os.listdir(d)) for d in seen) == count:
                end = time.monotonic()
                return count / (end - start), made - start, end - made
        except FileNotFoundError:
            pass
        if time.monotonic() - start > 300:
            raise RuntimeError("burst not visible after 300 s")
        time.sleep(0.01)


def metadata(pool: Pool, files: int, round_: int) -> float:
    directory = os.path.join(pool.mnt, f"meta{round_}")
    os.mkdir(directory)
    start = time.monotonic()
    for i in range(files):
        os.close(os.open(os.path.join(directory, f"f{i}"), os.O_CREAT | os.O_WRONLY, 0o644))
    for i in range(files):
        os.lstat(os.path.join(directory, f"f{i}"))
    for i in range(files):
        os.unlink(os.path.join(directory, f"f{i}"))
    seconds = time.monotonic() - start
    os.rmdir(directory)
    return 3 * files / seconds


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin-dir", default=".build/release")
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--burst", type=int, default=20_000)
    p.add_argument("--burst-dirs", type=int, default=1)
    p.add_argument("--meta-files", type=int, default=5_000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--work", default="/var/tmp/estuary-watch-bench")
    p.add_argument("--log", help="the watching daemon's log, at debug level (each batch applied), to this file")
    args = p.parse_args()
    bin_dir = args.bin_dir if os.path.isabs(args.bin_dir) else os.path.join(REPO_ROOT, args.bin_dir)
    on = Pool(args.work, "watch-on", True, bin_dir, args.log)
    off = Pool(args.work, "watch-off", False, bin_dir)
    try:
        on.mount()
        off.mount()
        lags = sorted(lag(on, args.samples))
        p50 = statistics.median(lags)
        p99 = lags[min(len(lags) - 1, int(len(lags) * 0.99))]
        rate, made, tail = burst(on, args.burst, args.burst_dirs)
        rates: dict[str, list[float]] = {"on": [], "off": []}
        for r in range(args.rounds):
            for label, pool in (("on", on), ("off", off)):
                rates[label].append(metadata(pool, args.meta_files, r))
        med_on, med_off = statistics.median(rates["on"]), statistics.median(rates["off"])
        overhead = (med_off - med_on) / med_off * 100
        print(f"live-watch lag: p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms ({args.samples} creates behind the mount)")
        print(f"live-watch applied: {rate:,.0f} creates/s behind the mount, until all listed ({args.burst:,} files "
              f"in {args.burst_dirs} directories, made in {made:.1f} s); all listed {tail:.2f} s after the last create")
        print(f"live-watch overhead: mount metadata {med_on:,.0f} ops/s watching vs {med_off:,.0f} ops/s not "
              f"({overhead:+.1f}%, goal under 5%; create+stat+unlink of {args.meta_files:,} files, median of {args.rounds})")
    finally:
        for pool in (on, off):
            try:
                pool.unmount()
            except Exception as error:  # keep tearing down the other pool
                print(f"unmount {pool.mnt}: {error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

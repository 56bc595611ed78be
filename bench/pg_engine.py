#!/usr/bin/env python3
"""Index engine bench (issue 16): one node, the same pool on the PostgreSQL engine and on the
SQLite engine, metadata operations through the mount.

    python3 bench/pg_engine.py [--bin-dir .build/release] [--files 2000] [--rounds 5]
                               [--lag-samples 200] [--work /var/tmp/estuary-pg-bench] [--json out.json]

Each round mounts a fresh pool per engine (engines alternate, so drift hits both) and runs,
in one directory: create (open O_CREAT + close), stat of every file, readdir of the directory
(--files/20 times), rename of every file, unlink of every file. The result per engine is the
median over rounds of microseconds per operation; the ratio is PostgreSQL's rate over
SQLite's (1.0 = as fast, 0.5 = half the rate).

Live watching is off in every pool (`watch = false`: a second node would take the first one's
writes in the silos for changes behind the mount). The kernel's caches are off for the
per-operation run (entry, attribute and negative timeouts 0), so every
stat and lookup reaches the daemon: what is measured is the daemon and its index, not the
kernel's dcache. The daemon answers stat and readdir from its own caches on both engines.

Two nodes: a second daemon mounts the PostgreSQL pool (same silos and database, a state
directory of its own, kernel caches at their defaults); a file created through the first mount
is looked for through the second until it shows (lstat every 0.2 ms): visibility lag p50 and
p99 over --lag-samples creates.

PostgreSQL is a throwaway server (initdb + pg_ctl in a temporary directory, unix socket only,
default durability settings), started and stopped by this script, as the tests do.
JuiceFS publishes for its PostgreSQL engine (as a reference point, other hardware and a
network hop): create 844 us, lookup 375 us, getattr 350 us per operation.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

OPS = ["create", "stat", "readdir", "rename", "unlink"]


class PostgresServer:
    """initdb + pg_ctl start in a temporary directory; as the postgres user when root."""

    def __init__(self, work: str):
        versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                          key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
        if not versions:
            sys.exit("bench-pg needs a PostgreSQL server: install the Debian package postgresql (make bench-deps)")
        self.bin = os.path.dirname(versions[-1])
        self.dir = tempfile.mkdtemp(prefix="estuary-pg-bench-", dir=work)
        self.as_postgres = os.getuid() == 0
        if self.as_postgres:
            account = pwd.getpwnam("postgres")
            os.chown(self.dir, account.pw_uid, account.pw_gid)
        self._run("initdb", "-D", self.dir + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C")
        options = f"-c listen_addresses='' -c unix_socket_directories='{self.dir}' -c max_connections=200"
        self._run("pg_ctl", "-D", self.dir + "/data", "-l", self.dir + "/server.log", "-w", "-o", options, "start")

    def _run(self, program: str, *args: str) -> str:
        argv = [os.path.join(self.bin, program), *args]
        if self.as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed: {done.stdout}")
        return done.stdout

    def create_database(self, name: str) -> str:
        self._run("psql", "-X", "-q", "-h", self.dir, "-U", "postgres", "-d", "postgres", "-c", f'CREATE DATABASE "{name}"')
        return f"postgresql://postgres@/{name}?host={self.dir}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", self.dir + "/data", "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


class Pool:
    def __init__(self, work: str, name: str, bin_dir: str, index: str | None, silos: list[str] | None = None,
                 cache_options: str = "entry_timeout=0,attr_timeout=0,negative_timeout=0", pool_name: str | None = None):
        self.root = os.path.join(work, name)
        shutil.rmtree(self.root, ignore_errors=True)
        self.mnt = os.path.join(self.root, "mnt")
        self.silos = silos or [os.path.join(self.root, "silos", s) for s in ("a", "b")]
        self.cache_options = cache_options
        for d in [self.mnt] + self.silos:
            os.makedirs(d, exist_ok=True)
        lines = [f'[pool]\nname = "{pool_name or name}"\nstate_dir = "{self.root}/state"\n' + (f'index = "{index}"\n' if index else "")]
        for i, s in enumerate(self.silos):
            lines.append(f'[[silo]]\nname = "s{i}"\npath = "{s}"\ntier = "t"\nwatch = false\n')
        self.config = os.path.join(self.root, "pool.toml")
        with open(self.config, "w") as f:
            f.write("\n".join(lines))
        self.binary = os.path.join(bin_dir, "estuaryfs")
        self.process: subprocess.Popen | None = None

    def mount(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, self.config, self.mnt, "-f"] + (["-o", self.cache_options] if self.cache_options else []),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if os.path.ismount(self.mnt) and os.stat(self.mnt).st_ino == 1:
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"estuaryfs exited with {self.process.returncode}")
            time.sleep(0.02)
        raise RuntimeError(f"{self.mnt} did not mount")

    def unmount(self, remove: bool = True) -> None:
        subprocess.run(["fusermount3", "-u", self.mnt], check=False)
        if self.process:
            self.process.wait(timeout=60)
        if remove:
            shutil.rmtree(self.root, ignore_errors=True)


def visibility_lag(server: PostgresServer, work: str, bin_dir: str, samples: int) -> list[float]:
    """Seconds from a create through node A until node B's lstat finds the name."""
    index = server.create_database("bench_two_nodes")
    # One pool (the silos' markers name it), mounted by two daemons with their own state.
    a = Pool(work, "node-a", bin_dir, index, cache_options="", pool_name="shared")
    b = Pool(work, "node-b", bin_dir, index, silos=a.silos, cache_options="", pool_name="shared")
    a.mount()
    lags = []
    try:
        b.mount()
        try:
            os.mkdir(os.path.join(a.mnt, "lag"))
            deadline = time.monotonic() + 10
            while not os.path.isdir(os.path.join(b.mnt, "lag")) and time.monotonic() < deadline:
                time.sleep(0.001)
            os.listdir(os.path.join(b.mnt, "lag"))   # B holds the listing and its kernel the directory
            for i in range(samples):
                name = f"f{i:05d}"
                there = os.path.join(b.mnt, "lag", name)
                os.path.exists(there)                 # a negative entry in B's kernel, as a waiting reader has
                start = time.perf_counter()
                os.close(os.open(os.path.join(a.mnt, "lag", name), os.O_CREAT | os.O_WRONLY, 0o644))
                while not os.path.exists(there):
                    if time.perf_counter() - start > 10:
                        raise RuntimeError(f"{name} did not show through the second mount in 10 s")
                    time.sleep(0.0002)
                lags.append(time.perf_counter() - start)
        finally:
            b.unmount(remove=True)
    finally:
        a.unmount()
    return lags


def run_ops(directory: str, files: int) -> dict[str, float]:
    """Microseconds per operation for each of OPS, in one directory."""
    os.mkdir(directory)
    names = [os.path.join(directory, f"f{i:06d}") for i in range(files)]
    result: dict[str, float] = {}

    start = time.perf_counter()
    for name in names:
        os.close(os.open(name, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o644))
    result["create"] = (time.perf_counter() - start) / files * 1e6

    start = time.perf_counter()
    for name in names:
        os.stat(name)
    result["stat"] = (time.perf_counter() - start) / files * 1e6

    listings = max(1, files // 20)
    start = time.perf_counter()
    for _ in range(listings):
        with os.scandir(directory) as entries:
            for _entry in entries:
                pass
    result["readdir"] = (time.perf_counter() - start) / listings * 1e6

    start = time.perf_counter()
    for name in names:
        os.rename(name, name + ".r")
    result["rename"] = (time.perf_counter() - start) / files * 1e6

    start = time.perf_counter()
    for name in names:
        os.unlink(name + ".r")
    result["unlink"] = (time.perf_counter() - start) / files * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", default=".build/release")
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lag-samples", type=int, default=200, help="two-node visibility samples (0: skip)")
    parser.add_argument("--work", default="/var/tmp/estuary-pg-bench")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    os.makedirs(args.work, exist_ok=True)

    server = PostgresServer(args.work)
    samples: dict[str, dict[str, list[float]]] = {e: {op: [] for op in OPS} for e in ("sqlite", "postgresql")}
    try:
        for round_number in range(args.rounds):
            order = ["sqlite", "postgresql"] if round_number % 2 == 0 else ["postgresql", "sqlite"]
            for engine in order:
                index = server.create_database(f"bench_{round_number}") if engine == "postgresql" else None
                pool = Pool(args.work, f"{engine}-{round_number}", args.bin_dir, index)
                pool.mount()
                try:
                    times = run_ops(os.path.join(pool.mnt, "d"), args.files)
                finally:
                    pool.unmount()
                for op in OPS:
                    samples[engine][op].append(times[op])
                print(f"round {round_number + 1}/{args.rounds} {engine:10s} " +
                      " ".join(f"{op} {times[op]:8.1f}" for op in OPS) + "  (us/op; readdir us/listing)", flush=True)
        lags = visibility_lag(server, args.work, args.bin_dir, args.lag_samples) if args.lag_samples > 0 else []
    finally:
        server.stop()

    print(f"\nmedians of {args.rounds} interleaved rounds, {args.files} files in one directory, kernel caches off")
    print(f"{'op':8s} {'sqlite us':>10s} {'postgresql us':>14s} {'pg rate / sqlite rate':>22s}")
    summary = {}
    for op in OPS:
        s = statistics.median(samples["sqlite"][op])
        p = statistics.median(samples["postgresql"][op])
        summary[op] = {"sqlite_us": s, "postgresql_us": p, "ratio": s / p}
        print(f"{op:8s} {s:10.1f} {p:14.1f} {s / p:22.2f}")
    print("reference (JuiceFS on PostgreSQL, published): create 844 us, lookup 375 us, getattr 350 us")
    if lags:
        ordered = sorted(lags)
        p50 = ordered[len(ordered) // 2] * 1e3
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3
        print(f"two nodes: a create through one mount shows through the other after {p50:.2f} ms (p50), "
              f"{p99:.2f} ms (p99), {len(lags)} samples")
        summary["two_node_lag_ms"] = {"p50": p50, "p99": p99, "samples": len(lags)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"files": args.files, "rounds": args.rounds, "samples": samples, "summary": summary}, f, indent=2)


if __name__ == "__main__":
    main()

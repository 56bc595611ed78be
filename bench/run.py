#!/usr/bin/env python3
"""Estuary benchmark harness: Estuary vs mergerfs vs the native silos, side by side.

    python3 bench/run.py [--quick] [--only scan-initial,walk,metadata,fio] [--files N] [--silos K]
                         [--repeat R] [--walk-files N] [--meta-files N]
                         [--fio-size MiB] [--fio-runtime S] [--fio-cold]
                         [--out bench/out/results.json]
                         [--bin-dir .build/release] [--work /var/tmp/estuary-bench]

Relative --out/--bin-dir paths are resolved against the repository root (bench/..).
Everything mounted or started is torn down on exit, Ctrl-C, SIGTERM and SIGHUP.
`--list` shows the benchmarks, their parts and the goals from the issue.

scan-*, walk: the cached synthetic tree (--files, --silos). metadata, fio: small scratch
pools per target on a fresh loop-mounted ext4 (scratch.py), native vs mergerfs (both
configs) vs Estuary, phases interleaved across targets. A benchmark that fails on one
target (e.g. EROFS before Estuary can write) marks that row "failed: ..." and goes on.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from types import SimpleNamespace

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from benchmarks import Context, all_benchmarks  # noqa: E402
from mounts import CLEANUP, install_handlers, mount_fstype, unmount  # noqa: E402
from report import machine_info, results_json, table, write_json  # noqa: E402
from runner import BenchResult, run_benchmark  # noqa: E402
from scratch import Scratch  # noqa: E402
from targets import MERGERFS_CONFIGS, EstuaryTarget, FuseTarget, build_targets  # noqa: E402
from tree import TreeParams, ensure_tree, other_cached_trees  # noqa: E402

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEARDOWN_RESERVE = 30.0  # seconds kept back from the time limit for unmounting and reporting

FULL = {"files": 1_000_000, "repeat": 5, "time_limit": 900.0, "walk_files": 200_000,
        "meta_files": 20_000, "fio_size": 512, "fio_runtime": 10}
QUICK = {"files": 20_000, "repeat": 2, "time_limit": 240.0, "walk_files": 200_000,
         "meta_files": 5_000, "fio_size": 64, "fio_runtime": 5}


def parse_args(argv: list[str]) -> argparse.Namespace:
    names = [b.name for b in all_benchmarks()]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help=f"smoke run: {QUICK['files']:,} files, {QUICK['repeat']} repeats, ~1 minute")
    p.add_argument("--only", help="comma-separated benchmarks to run; a name also selects its family "
                                   f"(scan = scan-*). Default all: {','.join(names)}")
    p.add_argument("--files", type=int, help=f"files in the tree (default {FULL['files']:,})")
    p.add_argument("--silos", type=int, default=10, help="number of silos (default 10)")
    p.add_argument("--seed", type=int, default=1, help="tree layout seed (default 1)")
    p.add_argument("--repeat", type=int, help=f"timed rounds per benchmark (default {FULL['repeat']})")
    p.add_argument("--time-limit", type=float,
                   help=f"seconds for the whole run, tree generation included (default {FULL['time_limit']:.0f}); "
                        "rounds are dropped to fit, but every case runs at least once")
    p.add_argument("--walk-files", type=int,
                   help=f"walk only the first top-level directories holding about this many files "
                        f"(default {FULL['walk_files']:,}; the whole tree if it is smaller)")
    p.add_argument("--meta-files", type=int,
                   help=f"files per round in the metadata benchmark (default {FULL['meta_files']:,}, "
                        f"--quick {QUICK['meta_files']:,})")
    p.add_argument("--fio-size", type=int, metavar="MiB",
                   help=f"fio file size in MiB (default {FULL['fio_size']}, --quick {QUICK['fio_size']})")
    p.add_argument("--fio-runtime", type=int, metavar="S",
                   help=f"seconds per fio job (default {FULL['fio_runtime']}, --quick {QUICK['fio_runtime']})")
    p.add_argument("--fio-cold", action="store_true",
                   help="drop the page cache before every fio read test (default: warm reads)")
    p.add_argument("--out", default="bench/out/results.json", help="JSON results file")
    p.add_argument("--bin-dir", default=".build/release", help="where estuaryfs and estuary live")
    p.add_argument("--work", default="/var/tmp/estuary-bench", help="tree, mounts, state, logs")
    p.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    args = p.parse_args(argv)

    defaults = QUICK if args.quick else FULL
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    try:
        args.only = select(names, args.only)
    except ValueError as e:
        p.error(str(e))
    positive = ("files", "silos", "repeat", "walk_files", "meta_files", "fio_size", "fio_runtime")
    if any(getattr(args, k) < 1 for k in positive):
        p.error(f"{', '.join('--' + k.replace('_', '-') for k in positive)} must be positive")
    args.out = os.path.join(REPO_ROOT, args.out)
    args.bin_dir = os.path.join(REPO_ROOT, args.bin_dir)
    args.work = os.path.abspath(args.work)
    return args


def select(names: list[str], only: str | None) -> list[str]:
    """Benchmarks named in `only`, where "scan" also means every "scan-..." benchmark and a
    part ("metadata-stat") selects the benchmark it belongs to."""
    if not only:
        return names
    parts = {f"{b.name}-{p.name}": b.name for b in all_benchmarks() for p in b.parts}
    chosen = []
    for wanted in filter(None, (w.strip() for w in only.split(","))):
        wanted = parts.get(wanted, wanted)  # a part runs with its whole benchmark
        matches = [n for n in names if n == wanted or n.startswith(wanted + "-")]
        if not matches:
            raise ValueError(f"unknown benchmark '{wanted}'; known: {', '.join(names)}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def clear_stale_mounts(targets: dict) -> None:
    """A harness killed with SIGKILL cannot clean up; its mounts sit on our mountpoints."""
    for target in targets.values():
        if isinstance(target, FuseTarget) and mount_fstype(target.mountpoint) is not None:
            print(f"unmounting stale {target.mountpoint}")
            unmount(target.mountpoint)


def _estuary_json(args, estuary: EstuaryTarget | None) -> dict | None:
    return estuary and {"bin_dir": args.bin_dir, "config": estuary.config_path,
                        "state_dir": estuary.state_dir,
                        "binaries_missing": estuary.missing_binaries(),
                        "mount_failure": estuary.failure,
                        "mount_seconds": estuary.mount_seconds,
                        "log": estuary.log_path}


def document(args, started: str, machine: dict, tree, targets, results, total: float, ctx=None) -> dict:
    estuary: EstuaryTarget = targets["estuary"] if targets else None
    pools: Scratch | None = ctx.shared.get("scratch") if ctx else None
    return {
        "harness": {"argv": sys.argv[1:], "started": started, "total_seconds": round(total, 1),
                    "quick": args.quick, "repeat": args.repeat, "time_limit": args.time_limit,
                    "options": vars(options(args))},
        "machine": machine,
        "tree": tree and {"params": vars(tree.params), "key": tree.params.key, "root": tree.root,
                          "generated_now": tree.generated, "generation_seconds": round(tree.gen_seconds, 1)},
        "mergerfs_configs": [{"target": c.name, "options": c.options} for c in MERGERFS_CONFIGS],
        "estuary": _estuary_json(args, estuary),
        "scratch": pools and {"root": pools.root, "fs": pools.fs,
                              "estuary": _estuary_json(args, pools.estuary)},
        "benchmarks": [entry for r in results for entry in results_json(r)],
    }


def options(args: argparse.Namespace) -> SimpleNamespace:
    """The knobs benchmarks read from ctx.options (sizes in bytes)."""
    return SimpleNamespace(walk_files=args.walk_files, meta_files=args.meta_files,
                           fio_size=args.fio_size << 20, fio_runtime=args.fio_runtime,
                           fio_cold=args.fio_cold)


def main(argv: list[str]) -> int:
    start = time.monotonic()
    install_handlers()
    args = parse_args(argv)
    if args.list:
        for b in all_benchmarks():
            print(f"{b.name:14} {b.unit:10} [{','.join(b.applies_to)}] {b.description}")
            for part in b.parts:
                print(f"  {b.name + '-' + part.name:18} {part.unit:10} {part.description}"
                      + (f" (goal: {', '.join(g.describe() for g in part.goals)})" if part.goals else ""))
        return 0

    machine = machine_info(os.path.dirname(args.work) if not os.path.exists(args.work) else args.work)
    started = machine["date"]
    benches = [b for b in all_benchmarks() if b.name in args.only]
    tree, targets, results, status, ctx = None, {}, [], 0, None
    try:
        os.makedirs(args.work, exist_ok=True)
        tree = ensure_tree(args.work, TreeParams(args.files, args.silos, args.seed))
        for path in other_cached_trees(args.work, tree):
            print(f"tree: note: {path} is cached from other parameters (rm -rf to reclaim space)")
        targets = build_targets(tree, args.work, args.bin_dir)
        clear_stale_mounts(targets)
        if reason := targets["estuary"].missing_binaries():
            print(f"estuary: {reason}; estuary rows will be marked failed")
        deadline = start + args.time_limit - TEARDOWN_RESERVE
        ctx = Context(tree, targets, args.work, args.quick, deadline, args.bin_dir, options(args))
        for i, bench in enumerate(benches):
            # Weighted share of what is left, so time a fast benchmark leaves over goes to later ones.
            share = bench.weight / sum(b.weight for b in benches[i:])
            budget = max(0.0, deadline - time.monotonic()) * share
            results.append(BenchResult(bench))
            run_benchmark(ctx, args.repeat, budget, results[-1])
            # Written after every benchmark so an interrupted run keeps what it measured.
            write_json(args.out, document(args, started, machine, tree, targets, results,
                                          time.monotonic() - start, ctx))
    except (KeyboardInterrupt, SystemExit) as e:
        print(f"\ninterrupted ({type(e).__name__}); cleaning up", file=sys.stderr)
        status = 130 if isinstance(e, KeyboardInterrupt) else (e.code or 1)
    finally:
        CLEANUP.run_all()

    total = time.monotonic() - start
    if results:
        write_json(args.out, document(args, started, machine, tree, targets, results, total, ctx))
        print()
        print(table(results))
        print(f"\n{len(results)} benchmark(s) in {total:.0f}s; JSON: {args.out}")
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

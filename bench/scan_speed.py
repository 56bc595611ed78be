#!/usr/bin/env python3
"""First scan and rescan against `find -printf '%i %s %T@ %m'` over the same silos (issue 19).

    python3 bench/scan_speed.py [--files 200000] [--silos 4] [--rounds 5] [--work DIR] [--bin-dir DIR]

The tree is find_index.py's (directories of 1,000 files dealt over the silos, cached). Per
round, interleaved: find -printf over the silos (warm cache), `estuary scan` into an empty
state dir (first scan), `estuary scan` again (rescan). Wall-clock medians, and the medians of
user+system CPU seconds (the machine may be shared: CPU time is the steadier figure).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from find_index import make_tree  # noqa: E402


def run(cmd: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=200_000)
    p.add_argument("--silos", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--work", default="/var/tmp/estuary-bench-find")
    p.add_argument("--bin-dir", default=os.path.join(repo, ".build/release"))
    args = p.parse_args()
    estuary = os.path.join(args.bin_dir, "estuary")
    silos = make_tree(os.path.join(args.work, f"tree-{args.files}-{args.silos}"), args.files, args.silos)
    state = os.path.join(args.work, f"scan-state-{args.files}-{args.silos}")
    config = os.path.join(args.work, f"scan-{args.files}-{args.silos}.toml")
    with open(config, "w") as f:
        f.write(f'[pool]\nname = "benchfind"\nstate_dir = "{state}"\n\n')
        for k, path in enumerate(silos):
            f.write(f'[[silo]]\nname = "s{k}"\npath = "{path}"\ntier = "fast"\n\n')
    find = ["find", *silos, "-printf", r"%i %s %T@ %m\n"]
    entries = int(subprocess.run(find, stdout=subprocess.PIPE, check=True).stdout.count(b"\n"))
    rows: dict[str, list[tuple[float, float]]] = {"find": [], "scan": [], "rescan": []}
    for _ in range(args.rounds):
        rows["find"].append(run(find))
        shutil.rmtree(state, ignore_errors=True)
        rows["scan"].append(run([estuary, "scan", config]))
        rows["rescan"].append(run([estuary, "scan", config]))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in rows.items()}
    for k, (wall, cpu) in med.items():
        ratio = "" if k == "find" else f"  {med['find'][0] / wall:.2f}x find (wall)  {med['find'][1] / cpu:.2f}x (CPU)"
        print(f"{k:7} {entries / wall / 1000:7.0f}k entries/s  wall {wall:6.2f}s  CPU {cpu:6.2f}s{ratio}")
    print(f"  commands: {' '.join(find[:1])} SILOS -printf '%i %s %T@ %m\\n';  estuary scan {config}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

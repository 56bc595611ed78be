#!/usr/bin/env python3
"""`estuary find` from the index against GNU find over the silos (issue 19).

    python3 bench/find_index.py [--files 1000000] [--silos 4] [--rounds 5] [--work DIR] [--bin-dir DIR]

The tree (cached in WORK/tree-FILES-SILOS): directories t{a:03d}/d{b:03d} of 1,000 files each,
dealt round-robin over the silos; file i of a directory is named f{i}, or f{i}.mkv when
i % 100 == 7, with i * 7919 % 5000 bytes (sparse). So `name ~ "f249"` matches one file per
directory (1,000 over 1,000,000 files), as the issue's query did (800 over 200,000).
A pool over the silos is scanned once (no daemon) and queried offline: `estuary find CONFIG
--root /`. Every case runs once untimed (the page cache warm for both, and both must print
the same number of lines), then ROUNDS interleaved timed rounds; the medians are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

PER_DIR = 1000


def make_tree(root: str, files: int, silos: int) -> list[str]:
    paths = [os.path.join(root, f"s{k}") for k in range(silos)]
    marker = os.path.join(root, ".tree.json")
    layout = {"files": files, "silos": silos, "per_dir": PER_DIR, "version": 1}
    try:
        with open(marker) as f:
            if json.load(f) == layout:
                return paths
    except (OSError, ValueError):
        pass
    subprocess.run(["rm", "-rf", root], check=True)
    start = time.monotonic()
    for d in range((files + PER_DIR - 1) // PER_DIR):
        rel = f"t{d // 100:03d}/d{d % 100:03d}"
        base = os.path.join(paths[d % silos], rel)
        os.makedirs(base)
        for i in range(min(PER_DIR, files - d * PER_DIR)):
            name = f"f{i}.mkv" if i % 100 == 7 else f"f{i}"
            fd = os.open(os.path.join(base, name), os.O_WRONLY | os.O_CREAT, 0o644)
            size = i * 7919 % 5000
            if size:
                os.ftruncate(fd, size)
            os.close(fd)
    subprocess.run(["sync"], check=True)
    with open(marker, "w") as f:
        json.dump(layout, f)
    print(f"tree: {files:,} files in {time.monotonic() - start:.0f}s", flush=True)
    return paths


def lines(cmd: list[str]) -> int:
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True).stdout
    return out.count(b"\n")


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return time.perf_counter() - start


def main() -> int:
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--files", type=int, default=1_000_000)
    p.add_argument("--silos", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--work", default="/var/tmp/estuary-bench-find")
    p.add_argument("--bin-dir", default=os.path.join(repo, ".build/release"))
    p.add_argument("--only", help="comma-separated case names")
    p.add_argument("--json", help="also write every case's medians here (bench/goals.py reads it)")
    args = p.parse_args()
    estuary = os.path.join(args.bin_dir, "estuary")
    silos = make_tree(os.path.join(args.work, f"tree-{args.files}-{args.silos}"), args.files, args.silos)
    state = os.path.join(args.work, f"state-{args.files}-{args.silos}")
    config = os.path.join(args.work, f"find-{args.files}-{args.silos}.toml")
    with open(config, "w") as f:
        f.write(f'[pool]\nname = "benchfind"\nstate_dir = "{state}"\n\n')
        for k, path in enumerate(silos):
            f.write(f'[[silo]]\nname = "s{k}"\npath = "{path}"\ntier = "fast"\n\n')
    # The index is rebuilt when the binary is newer than it (a schema change, e.g. new indexes).
    marker = os.path.join(state, ".scanned")
    if not os.path.exists(marker) or os.path.getmtime(marker) < os.path.getmtime(estuary):
        subprocess.run(["rm", "-rf", state], check=True)
        t = timed([estuary, "scan", config])
        open(os.path.join(state, ".scanned"), "w").close()
        print(f"index: scanned in {t:.1f}s", flush=True)
    find = [estuary, "find", config, "--root", "/"]
    if not os.path.exists(os.path.join(state, ".named")):
        # A scan leaves the name indexes out; the first name query on a pool no daemon serves
        # builds them (a daemon builds them once it serves). Timed here, apart from the cases.
        t = timed(find + ["--where", 'name == "no such name"'])
        open(os.path.join(state, ".named"), "w").close()
        print(f"index: name indexes built by the first name query in {t:.1f}s", flush=True)

    cases = [
        # (name, estuary arguments, GNU find arguments after the silos, what the estuary side must look at)
        ("exact", ["--where", 'name ~ "f249" and mtime < 1d'], ["-name", "f249", "-mtime", "-1"], "index"),
        ("prefix", ["--where", 'name ~ "f24*"'], ["-name", "f24*"], "index"),
        ("suffix", ["--where", 'name ~ "*.mkv"'], ["-name", "*.mkv"], "index"),
        ("substring", ["--where", 'name ~ "*99*"'], ["-name", "*99*"], "index"),
        ("path", ["--where", 'path ~ "/t003/**/f1*"'], ["-path", "*/t003/*/f1*"], "index"),
        ("every-row", ["--larger", "1G"], ["-size", "+1G"], "every row"),
        ("every-row-where", ["--where", "size > 1G"], ["-size", "+1G"], "every row"),
        # The expression's owner test, applied by the engine to every row (EngineCondition).
        ("every-row-eval", ["--where", "uid == 4242"], ["-uid", "4242"], "every row"),
        ("every-row-or", ["--where", 'not (uid == 0 and gid == 0) or size == 4242'], ["(", "!", "(", "-uid", "0", "-gid", "0", ")", "-o", "-size", "4242c", ")"], "every row"),
    ]
    if args.only:
        wanted = set(args.only.split(","))
        cases = [c for c in cases if c[0] in wanted]
    results = []
    for name, mine, theirs, kind in cases:
        ours = find + mine
        gnu = ["find", *silos, *theirs]
        a, b = lines(ours), lines(gnu)
        if a != b:
            print(f"{name}: estuary printed {a:,} lines, find {b:,}", file=sys.stderr)
            return 1
        ts, tg = [], []
        for _ in range(args.rounds):
            ts.append(timed(ours))
            tg.append(timed(gnu))
        ms, mg = statistics.median(ts), statistics.median(tg)
        results.append((name, a, ms, mg, kind))
        print(f"{name:16} {a:>9,} hits  estuary {ms:7.3f}s  GNU find {mg:7.3f}s  {mg / ms:6.1f}x"
              f"  ({args.files / ms / 1e6:.2f}M entries/s)", flush=True)
        print(f"  estuary: estuary {' '.join(ours[1:])}\n  find: find SILOS {' '.join(theirs)}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"files": args.files, "silos": args.silos, "rounds": args.rounds,
                       "cases": [{"name": n, "hits": h, "estuary_s": e, "find_s": g, "kind": k}
                                 for n, h, e, g, k in results]}, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())

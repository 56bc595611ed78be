#!/usr/bin/env python3
"""What serving /metrics costs the mount's own requests (issue 20: the hot paths must pay
nothing measurable for it).

    python3 bench/metrics_overhead.py [--bin-dir .build/release] [--files 5000] [--rounds 7]

Two pools of two silos each, one mounted with `-o metrics=127.0.0.1:PORT` and scraped once a
second while the bench runs, one without; create + lstat + unlink of --files files through
each mount, rounds interleaved, medians and the ratio. bench/metrics-cost.c measures the
counters alone, per request.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import live_watch  # noqa: E402  (the pool harness and the metadata loop)


class Pool(live_watch.Pool):
    def __init__(self, work: str, name: str, bin_dir: str, metrics_port: int | None):
        super().__init__(work, name, True, bin_dir)
        if metrics_port:
            self.options = ["-o", f"metrics=127.0.0.1:{metrics_port}"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin-dir", default=".build/release")
    p.add_argument("--files", type=int, default=5_000)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--work", default="/var/tmp/estuary-metrics-bench")
    args = p.parse_args()
    bin_dir = args.bin_dir if os.path.isabs(args.bin_dir) else os.path.join(live_watch.REPO_ROOT, args.bin_dir)
    port = free_port()
    on, off = Pool(args.work, "metrics-on", bin_dir, port), Pool(args.work, "metrics-off", bin_dir, None)
    stop = threading.Event()
    scrapes = [0]

    def scrape() -> None:
        while not stop.wait(1.0):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                    r.read()
                scrapes[0] += 1
            except OSError:
                pass

    rates: dict[str, list[float]] = {"on": [], "off": []}
    try:
        on.mount()
        off.mount()
        scraper = threading.Thread(target=scrape, daemon=True)
        scraper.start()
        for round_ in range(args.rounds):
            order = [("on", on), ("off", off)] if round_ % 2 == 0 else [("off", off), ("on", on)]
            for name, pool in order:
                os.sync()
                rates[name].append(live_watch.metadata(pool, args.files, round_))
    finally:
        stop.set()
        on.unmount()
        off.unmount()
    a, b = statistics.median(rates["on"]), statistics.median(rates["off"])
    print(f"metrics overhead: {a:,.0f} ops/s with /metrics served and scraped every second ({scrapes[0]} scrapes) "
          f"vs {b:,.0f} ops/s without ({(a / b - 1) * 100:+.1f}%; create+lstat+unlink of {args.files:,} files, "
          f"median of {args.rounds} interleaved rounds)")
    print("per round, on: " + ", ".join(f"{r:,.0f}" for r in rates["on"]) + "; off: " + ", ".join(f"{r:,.0f}" for r in rates["off"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

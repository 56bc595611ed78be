#!/usr/bin/env python3
"""A/B of tier moves: cp + sync against `estuary move --wait` with several builds, interleaved.

    python3 bench/move_ab.py ROUNDS NAME=BINDIR[:nowatch] ...   (run as root)

A 1 GiB random file moves between two silo directories of one disk (MOVE_AB_WORK, default
/var/tmp/movespeed/x); each move gets a fresh mount of BINDIR/estuaryfs (`:nowatch`: both
silos with watch = false) and is timed whole with BINDIR/estuary move --wait; cp copies a
file of its own between two sibling directories. sync + drop_caches before every timed step;
cp and each target take every position in the round in turn. Prints medians, ratios to
cp + sync, and per target the daemon's read syscalls and CPU seconds during the move
(/proc/PID/io, /proc/PID/stat), with the load average at the start of each round.
Daemon logs go to WORK/../daemon.log. See docs/decisions.md, "Moves at the speed of cp"."""
import subprocess, time, statistics, os, sys, shutil
X = os.environ.get("MOVE_AB_WORK", "/var/tmp/movespeed/x"); MNT = X + "/mnt"; SIZE = 1 << 30
A = X + "/cp-a/f"; B = X + "/cp-b/f"
EXTRA = []
os.makedirs(X, exist_ok=True)
LOG = open(os.path.join(os.path.dirname(X), "daemon.log"), "ab")

def drop():
    subprocess.run(["sync"]); open("/proc/sys/vm/drop_caches", "w").write("3\n")

def setup():
    for d in ["fast0", "bulk0", "cp-a", "cp-b", "mnt", "state"]:
        os.makedirs(f"{X}/{d}", exist_ok=True)
    if not (os.path.exists(X + "/fast0/f") or os.path.exists(X + "/bulk0/f")):
        with open(X + "/fast0/f", "wb") as f:
            for _ in range(256): f.write(os.urandom(4 << 20))
    if not (os.path.exists(A) or os.path.exists(B)):
        shutil.copy(X + "/fast0/f" if os.path.exists(X + "/fast0/f") else X + "/bulk0/f", A)
    for watch in (True, False):
        lines = ["[pool]", 'name = "movespeed"', f'state_dir = "{X}/state"', 'extent_size = "4MiB"', 'move_bandwidth = "0"', "",
                 "[tiers]", 'order = ["fast", "bulk"]', ""]
        for n, t in (("fast0", "fast"), ("bulk0", "bulk")):
            lines += ["[[silo]]", f'name = "{n}"', f'path = "{X}/{n}"', f'tier = "{t}"'] + ([] if watch else ["watch = false"]) + [""]
        open(f"{X}/pool{'' if watch else '-nowatch'}.toml", "w").write("\n".join(lines))

def cp_round():
    src = A if os.path.exists(A) else B
    dst = B if src == A else A
    drop(); s = time.perf_counter()
    subprocess.run(["cp", "--sparse=never", src, dst], check=True); subprocess.run(["sync"], check=True)
    t = time.perf_counter() - s; os.unlink(src); return t

def move_round(bindir, nowatch, perf=None):
    cfg = f"{X}/pool{'-nowatch' if nowatch else ''}.toml"
    d = subprocess.Popen([bindir + "/estuaryfs", cfg, MNT, "-f"], stdout=LOG, stderr=LOG)
    for _ in range(300):
        if os.path.ismount(MNT): break
        time.sleep(0.1)
    time.sleep(1.0)
    tier = "bulk" if os.path.exists(X + "/fast0/f") else "fast"
    drop()
    p = subprocess.Popen(perf + [str(d.pid)], stdout=LOG, stderr=LOG) if perf else None
    def stats():
        io = dict(l.split(": ") for l in open(f"/proc/{d.pid}/io").read().splitlines())
        st = open(f"/proc/{d.pid}/stat").read().rsplit(")", 1)[1].split()
        return int(io["syscr"]), (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")
    before = stats()
    s = time.perf_counter()
    subprocess.run([bindir + "/estuary", "move", MNT + "/f", "--to", tier, "--wait"], check=True, stdout=subprocess.DEVNULL)
    t = time.perf_counter() - s
    after = stats()
    EXTRA.append((after[0] - before[0], after[1] - before[1]))
    if p: p.send_signal(2); p.wait(60)
    subprocess.run(["fusermount3", "-u", MNT]); d.wait(60)
    assert os.path.exists(f"{X}/{tier}0/f") and os.path.getsize(f"{X}/{tier}0/f") == SIZE
    return t

if __name__ == "__main__":
    setup()
    rounds = int(sys.argv[1])
    targets = []
    for a in sys.argv[2:]:
        name, spec = a.split("=")
        bindir, _, opt = spec.partition(":")
        targets.append((name, bindir, opt == "nowatch"))
    res = {"cp+sync": []} | {n: [] for n, _, _ in targets}
    loads = []
    reads = {n: [] for n, _, _ in targets}; cpu = {n: [] for n, _, _ in targets}
    for r in range(rounds):
        loads.append(os.getloadavg()[0])
        steps = [("cp+sync", None, False)] + targets
        k = r % len(steps)
        for name, bindir, nw in steps[k:] + steps[:k]:   # every step takes every position in turn
            if bindir is None:
                res[name].append(cp_round()); continue
            res[name].append(move_round(bindir, nw))
            reads[name].append(EXTRA[-1][0]); cpu[name].append(EXTRA[-1][1])
        print(r, f"load {loads[-1]:.1f}", {k: round(v[-1], 2) for k, v in res.items()}, flush=True)
    cpm = statistics.median(res["cp+sync"])
    print(f"load average at round starts: {min(loads):.1f}-{max(loads):.1f} (median {statistics.median(loads):.1f})")
    for k, v in res.items():
        m = statistics.median(v)
        print(f"{k:12} median {m:.2f}s {1024/m:.0f} MiB/s  ratio to cp+sync {cpm/m:.2f}x  rounds {[round(x,2) for x in v]}")
        if k in reads:
            print(f"{'':12} daemon read syscalls median {statistics.median(reads[k]):.0f}, daemon CPU median {statistics.median(cpu[k]):.2f}s  {reads[k]} {cpu[k]}")

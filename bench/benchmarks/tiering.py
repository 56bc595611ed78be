"""Tier moves: `estuary move` throughput against cp, and how early the hot extents arrive.

Both benchmarks share one two-tier pool of their own, "benchmove":

    WORK/move-silos/fast0  (tier fast)  WORK/move-silos/bulk0  (tier bulk)
    extent_size 4 MiB, move_bandwidth 0 (unlimited), state WORK/state-move, mounted at WORK/mnt-move
    WORK/move-silos/cp-a, cp-b: cp's source and destination, sibling directories on the same
    file system as the silos but outside them, so the pool never sees cp's copies

All files hold random data (no extent is all zeros, so none is skipped as a hole) and are
written directly into the silo directories before the daemon starts; its first mount
indexes them. Everything under WORK/move-silos is deleted when the harness exits.

tiering-move: per round, `cp --sparse=never A/f B/f && sync` on the native directories, then
`estuary move MOUNT/f --to TIER --wait` on the pool, each timed by wall clock and preceded
by sync + `echo 3 > /proc/sys/vm/drop_caches` (cold cache: the source is read from disk, as a
tier move of data nobody read recently would be). Rounds alternate direction (fast -> bulk,
then bulk -> fast; cp-a -> cp-b, then back) instead of moving the file back untimed; both
directories are on the same disk. The source cp leaves behind is deleted untimed. The estuary
row's "also" column is the same move timed to when a 50 ms poll of the daemon's control socket
first saw the job done (the CLI's --wait has process start-up, cold after drop_caches).

tiering-hot: a file of 4 MiB extents; every 10th extent is hot (10 %). Before the move,
64 KiB at the start of each hot extent is read through the mount 3 times (the file's page
cache dropped with POSIX_FADV_DONTNEED before every pass, so every read reaches the daemon
and counts toward heat). Then sync + drop_caches, `estuary move --json` starts the move, a
reader thread keeps reading the hot extents (one pass, then 50 ms pause) until it is done, and
the job is polled every 50 ms over the control socket. Reported (lower is better; the runner's
"seconds" field holds the fraction):
  position-based fraction = (1 + the last arrival position of a hot extent) / len(arrivalOrder)
                            (from `estuary jobs list MOUNT --id N --json`; ideal = share of hot extents)
  wall-clock fraction ("also") = when extentsDone first reached that position (interpolated
                            between polls; the daemon refreshes it every 0.1 s) / time from
                            issuing the move until a poll saw it done
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import threading
import time

import procs
from mounts import CLEANUP, mount_fstype, unmount
from tree import settle
from targets import EstuaryPool, EstuaryTarget, NativeTarget, Target

from .base import Benchmark, Case, Context, Goal, register

MiB = 1 << 20
EXTENT = 4 * MiB
SIZES = {False: {"move": 1024 * MiB, "hot": 1024 * MiB},   # full run
         True: {"move": 128 * MiB, "hot": 256 * MiB}}      # --quick
HOT_EVERY = 10            # every 10th extent is hot
HOT_READ = 64 << 10       # bytes read at the start of a hot extent
HOT_PASSES_BEFORE = 3     # read passes over the hot extents before the move
READ_PAUSE = 0.05         # seconds between read passes during the move
POLL = 0.05               # job polling interval (seconds)
HOT_GOAL = 0.15           # position-based fraction must be at most this
MOVE_GOAL = 0.9           # estuary move MiB/s >= 0.9 x cp (issue 19)
FINISHED = ("done", "cancelled", "failed")
TIERS = ("fast", "bulk")
MOVE_FILE = "move/tput.dat"   # relative to a silo (and to the mount)
HOT_FILE = "hot/hot.dat"
CP_FILE = "tput.dat"


def _write_random(path: str, size: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        for offset in range(0, size, EXTENT):
            f.write(os.urandom(min(EXTENT, size - offset)))


def _drop_caches() -> None:
    """Cold caches, and a disk no longer busy with an earlier stage's work: the benchmarks
    before this one leave writeback, discards of deleted files (the root file system here is
    mounted with `discard`) and ext4's own catch-up behind them, and a copy timed into that
    measured the neighbour, not the copy (make bench once had the move's copy phase at
    0.7-1.4 s per GiB, against 0.4-0.5 s alone)."""
    procs.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")
    settle(0.5, 5.0, quiet_needed=1)


class MovePool:
    """The tiering benchmarks' pool, its files, and where each file currently lives."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.sizes = SIZES[bool(ctx.quick)]
        self.root = os.path.join(ctx.work, "move-silos")
        self.silo = {"fast": os.path.join(self.root, "fast0"), "bulk": os.path.join(self.root, "bulk0")}
        self.cp_dirs = (os.path.join(self.root, "cp-a"), os.path.join(self.root, "cp-b"))
        pool = EstuaryPool(name="benchmove", silos=[(self.silo["fast"], "fast"), (self.silo["bulk"], "bulk")],
                           state_dir=os.path.join(ctx.work, "state-move"),
                           config_path=os.path.join(ctx.work, "estuary-move.toml"), identity="benchmove-v1",
                           pool_lines=('extent_size = "4MiB"', 'move_bandwidth = "0"'), tier_order=TIERS)
        self.estuary = EstuaryTarget(pool, os.path.join(ctx.work, "mnt-move"), ctx.bin_dir,
                                     os.path.join(ctx.work, "logs", "estuaryfs-move.log"))
        self.native = NativeTarget(list(self.cp_dirs))
        # EstuaryTarget.prepare names the silos s0, s1 in [[silo]] order.
        self.silo_name = {"fast": "s0", "bulk": "s1"}
        self.where = {MOVE_FILE: "fast", HOT_FILE: "fast", CP_FILE: 0}  # tier, or index into cp_dirs
        self._files_ready = False
        self._checked_cli = False

    # --- files (written natively, before the daemon starts) ---

    def ensure_files(self) -> None:
        if self._files_ready:
            return
        self.estuary.down()
        if mount_fstype(self.estuary.mountpoint) is not None:  # left by a killed run
            unmount(self.estuary.mountpoint)
        shutil.rmtree(self.root, ignore_errors=True)
        CLEANUP.push("tiering files", self._remove_files)  # pushed before the daemon: runs after its stop
        start = time.monotonic()
        _write_random(os.path.join(self.silo["fast"], MOVE_FILE), self.sizes["move"])
        _write_random(os.path.join(self.silo["fast"], HOT_FILE), self.sizes["hot"])
        _write_random(os.path.join(self.cp_dirs[0], CP_FILE), self.sizes["move"])
        os.makedirs(self.silo["bulk"], exist_ok=True)
        os.makedirs(self.cp_dirs[1], exist_ok=True)
        procs.sync()
        print(f"  tiering: wrote {sum(self.sizes.values()) + self.sizes['move'] >> 20} MiB of random data "
              f"in {time.monotonic() - start:.1f}s")
        self.estuary.prepare()
        self.estuary.wipe_state()  # the first mount indexes the files just written
        self._files_ready = True

    def _remove_files(self) -> None:
        self.estuary.down()
        shutil.rmtree(self.root, ignore_errors=True)

    # --- the daemon ---

    def up(self) -> None:
        self.ensure_files()
        if reason := self.estuary.missing_binaries():
            raise RuntimeError(reason)
        if not self._checked_cli:
            out = subprocess.run([self.estuary.cli_bin, "move", "--help"], capture_output=True, text=True,
                                 timeout=30).stdout
            if "--to" not in out:
                raise RuntimeError(f"{self.estuary.cli_bin} has no 'move' subcommand (built before tiering?)")
            self._checked_cli = True
        self.estuary.up()

    def mount_path(self, rel: str) -> str:
        return os.path.join(self.estuary.mountpoint, rel)

    def cli(self, *args: str, timeout: float | None = None) -> str:
        proc = procs.run([self.estuary.cli_bin, *args], timeout or self.ctx.command_timeout(),
                         stdout=subprocess.PIPE)
        return proc.stdout.decode(errors="replace")

    def control(self, request: dict, timeout: float = 10.0) -> dict:
        """One request on the daemon's control socket (one JSON line each way, one per connection)."""
        path = os.path.join(self.estuary.state_dir, "control.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(json.dumps(request).encode() + b"\n")
            buf = b""
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                buf += chunk
                lines = [ln for ln in buf.split(b"\n")[:-1] if ln.strip()]
                finals = [r for r in map(json.loads, lines) if "progress" not in r]
                if finals:
                    reply = finals[0]
                    if reply.get("error"):
                        raise procs.CommandFailed(f"daemon: {reply['error']}")
                    return reply
        raise procs.CommandFailed(f"no reply on {path} to {request}")

    def jobs(self) -> list[dict]:
        return self.control({"op": "jobs", "all": True}).get("jobs") or []

    def job(self, job_id: int) -> dict:
        jobs = self.control({"op": "jobs", "id": job_id}).get("jobs") or []
        if not jobs:
            raise procs.CommandFailed(f"job {job_id} not found")
        return jobs[0]

    def check_moved(self, rel: str, tier: str) -> None:
        """The file is on `tier` by the daemon's word and by the silo directories."""
        silo = os.getxattr(self.mount_path(rel), "user.estuary.silo").decode()
        other = TIERS[1 - TIERS.index(tier)]
        if silo != self.silo_name[tier] or not os.path.exists(os.path.join(self.silo[tier], rel)) \
                or os.path.exists(os.path.join(self.silo[other], rel)):
            raise RuntimeError(f"{rel} not (only) on {tier} after the move: user.estuary.silo={silo}")

    def next_tier(self, rel: str) -> tuple[str, str]:
        src = self.where[rel]
        return src, TIERS[1 - TIERS.index(src)]


def pool_for(ctx: Context) -> MovePool:
    if "tiering" not in ctx.shared:
        ctx.shared["tiering"] = MovePool(ctx)
    return ctx.shared["tiering"]


def _note(ctx: Context, text: str) -> None:
    if text not in ctx.notes:
        ctx.notes.append(text)


def _pool_note(pool: MovePool) -> str:
    return (f"pool benchmove: {pool.silo['fast']} (fast), {pool.silo['bulk']} (bulk), extent_size 4 MiB, "
            f"move_bandwidth 0; config {pool.estuary.config_path}, log {pool.estuary.log_path}")


class Poller:
    """Polls the jobs over the control socket every POLL seconds in a thread, recording
    (seconds since `start`, job) for the first job newer than `after` (or `job_id`)."""

    def __init__(self, pool: MovePool, start: float, after: int = 0, job_id: int | None = None):
        self.pool, self.start, self.after, self.job_id = pool, start, after, job_id
        self.samples: list[tuple[float, dict]] = []
        self.done_at: float | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _find(self) -> dict | None:
        if self.job_id is not None:
            return self.pool.job(self.job_id)
        mine = [j for j in self.pool.jobs() if j["id"] > self.after]
        return min(mine, key=lambda j: j["id"]) if mine else None

    def _run(self) -> None:
        last_ok = time.perf_counter()
        while not self._stop.is_set():
            try:
                job = self._find()
                last_ok = time.perf_counter()
            except Exception as e:  # keep polling for a while (the daemon may be busy)
                self.error = str(e)
                job = None
                if time.perf_counter() - last_ok > 10:
                    return
            now = time.perf_counter() - self.start
            if job is not None:
                job.pop("arrivalOrder", None)
                self.samples.append((now, job))
                if job["state"] in FINISHED:
                    self.done_at = now
                    return
            self._stop.wait(POLL)

    def wait(self, timeout: float) -> None:
        """Until the job is seen finished (or polling gave up), at most `timeout` seconds."""
        self._thread.join(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)


# --- tiering-move ---

def _cp_case(pool: MovePool) -> Case:
    size = pool.sizes["move"]

    def timed():
        src_i = pool.where[CP_FILE]
        src = os.path.join(pool.cp_dirs[src_i], CP_FILE)
        dst = os.path.join(pool.cp_dirs[1 - src_i], CP_FILE)
        _drop_caches()
        start = time.perf_counter()
        procs.run(["cp", "--sparse=never", src, dst], pool.ctx.command_timeout())
        procs.sync()
        seconds = time.perf_counter() - start
        if os.path.getsize(dst) != size:
            raise RuntimeError(f"cp made {os.path.getsize(dst)} bytes, expected {size}")
        os.unlink(src)  # untimed: leave one copy, like a move
        pool.where[CP_FILE] = 1 - src_i
        return seconds, size / MiB, {"direction": f"{os.path.basename(os.path.dirname(src))} -> "
                                                   f"{os.path.basename(os.path.dirname(dst))}",
                                     "cache": "cold"}

    return Case(pool.native, timed, "cp --sparse=never + sync")


def _move_case(pool: MovePool) -> Case:
    size = pool.sizes["move"]
    path = pool.mount_path(MOVE_FILE)

    def timed():
        src, dst = pool.next_tier(MOVE_FILE)
        after = max((j["id"] for j in pool.jobs()), default=0)
        _drop_caches()
        start = time.perf_counter()
        poller = Poller(pool, start, after=after)
        try:
            out = pool.cli("move", path, "--to", dst, "--wait")
            seconds = time.perf_counter() - start
            poller.wait(2 * POLL + 1.0)  # it sees `done` within one more poll
        finally:
            poller.stop()
        pool.where[MOVE_FILE] = dst
        pool.check_moved(MOVE_FILE, dst)
        extra = {"direction": f"{src} -> {dst}", "cache": "cold", "wait_output": out.strip()[-300:]}
        extra.update(_phases(poller.samples))
        if poller.done_at is not None:
            extra["alt"] = size / MiB / poller.done_at
            extra["job_done_seconds_polled"] = poller.done_at
            extra["job_id"] = poller.samples[-1][1]["id"]
        elif poller.error:
            extra["poll_error"] = poller.error
        return seconds, size / MiB, extra

    return Case(pool.estuary, timed, "estuary move --wait")


def setup_move(ctx: Context, target: Target) -> list[Case]:
    pool = pool_for(ctx)
    pool.ensure_files()
    size = pool.sizes["move"] >> 20
    _note(ctx, f"{size} MiB random file; every timed copy starts cold (sync + drop_caches 3); rounds alternate "
               f"direction (fast->bulk, bulk->fast; cp between {pool.cp_dirs[0]} and {pool.cp_dirs[1]}, "
               f"same file system as the silos); cp's time includes a global sync, estuary's move fsyncs "
               f"the copy and verifies its hashes before switching")
    _note(ctx, "estuary 'also' = MiB/s to when a 50 ms control-socket poll first saw the job done "
               "(--wait's last poll is answered when the daemon records the job done)")
    if isinstance(target, EstuaryTarget):
        pool.up()
        _note(ctx, _pool_note(pool))
        return [_move_case(pool)]
    return [_cp_case(pool)]


register(Benchmark(
    name="tiering-move",
    unit="MiB/s",
    applies_to=("native", "estuary"),
    setup=setup_move,
    order=60,
    weight=1.5,
    min_rounds=5,   # the goal is the median of 5
    goals=(Goal("native", MOVE_GOAL),),
    alt_unit="MiB/s polled",
    description="estuary move FILE --to TIER --wait (wall time) vs cp --sparse=never SRC DST && sync "
                "on the same disk, cold cache, interleaved; 1 GiB (--quick 128 MiB)",
))


# --- tiering-hot ---

class HotReader:
    """Reads HOT_READ bytes at the start of each hot extent through the mount, dropping the
    file's page cache before every pass so each read reaches the daemon."""

    def __init__(self, path: str, hot: list[int]):
        self.path, self.hot = path, hot
        self.passes = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def one_pass(self, fd: int) -> None:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        for extent in self.hot:
            if len(os.pread(fd, HOT_READ, extent * EXTENT)) != HOT_READ:
                raise RuntimeError(f"short read at extent {extent}")
        self.passes += 1

    def passes_now(self, n: int) -> None:
        fd = os.open(self.path, os.O_RDONLY)
        try:
            for _ in range(n):
                self.one_pass(fd)
        finally:
            os.close(fd)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            fd = os.open(self.path, os.O_RDONLY)
            try:
                while not self._stop.is_set():
                    self.one_pass(fd)
                    self._stop.wait(READ_PAUSE)
            finally:
                os.close(fd)
        except OSError as e:
            self.error = str(e)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(10)


def _phases(samples: list[tuple[float, dict]]) -> dict:
    """When the polls first saw the job leave the queue, all its extents copied, and done
    (seconds since the move was issued; 50 ms polls, progress refreshed every 0.1 s)."""
    out = {}
    for t, job in samples:
        if "seen_copying_s" not in out and job["state"] != "queued":
            out["seen_copying_s"] = round(t, 3)
        if "seen_all_copied_s" not in out and (job["extentsDone"] >= job["extents"] or job["state"] in
                                               ("renaming", "switched", "done")):
            out["seen_all_copied_s"] = round(t, 3)
        if job["state"] in FINISHED:
            out["seen_" + job["state"] + "_s"] = round(t, 3)
    return out


def _wall_time_at(samples: list[tuple[float, dict]], needed: int) -> float | None:
    """When extentsDone first reached `needed`, interpolated between the polls around it."""
    prev_t, prev_done = 0.0, 0
    for t, job in samples:
        done = job["extents"] if job["state"] in FINISHED else job["extentsDone"]
        if done >= needed:
            if done == prev_done:
                return t
            return prev_t + (t - prev_t) * (needed - prev_done) / (done - prev_done)
        prev_t, prev_done = t, done
    return None


def _hot_case(ctx: Context, pool: MovePool) -> Case:
    size = pool.sizes["hot"]
    path = pool.mount_path(HOT_FILE)
    extents = -(-size // EXTENT)
    hot = list(range(0, extents, HOT_EVERY))
    fractions: list[float] = []
    wall: list[float] = []
    wall_copy: list[float] = []
    note_at = len(ctx.notes)
    ctx.notes.append(f"goal: position-based fraction <= {HOT_GOAL:g}: not measured")
    notes = ctx.notes  # the runner's list for this benchmark; the goal line is updated every round

    def update_note() -> None:
        if not fractions:
            return
        med = statistics.median(fractions)
        status = "met" if med <= HOT_GOAL else "NOT met"
        wall_text = f"; wall-clock median {statistics.median(wall):.3f}" if wall else ""
        if wall_copy:
            wall_text += f", {statistics.median(wall_copy):.3f} counted from the first poll that saw it copying"
        notes[note_at] = (f"goal: position-based fraction <= {HOT_GOAL:g}: {status} (median {med:.3f} over "
                          f"{len(fractions)} round(s){wall_text}; ideal {len(hot) / extents:.3f})")

    def timed():
        src, dst = pool.next_tier(HOT_FILE)
        reader = HotReader(path, hot)
        reader.passes_now(HOT_PASSES_BEFORE)
        after = max((j["id"] for j in pool.jobs()), default=0)
        _drop_caches()
        start = time.perf_counter()
        out = pool.cli("move", path, "--to", dst, "--json")
        issued = time.perf_counter() - start
        queued = [j for j in json.loads(out) if j["id"] > after]
        if len(queued) != 1:
            raise RuntimeError(f"expected one new job, got: {out.strip()[:300]}")
        job_id = queued[0]["id"]
        reader.start()
        poller = Poller(pool, start, job_id=job_id)
        try:
            poller.wait(ctx.command_timeout())
        finally:
            reader.stop()
            poller.stop()
        if poller.done_at is None:
            raise RuntimeError(f"job {job_id} not finished ({poller.error or 'timeout'})")
        final = json.loads(pool.cli("jobs", "list", pool.estuary.mountpoint, "--all", "--json",
                                    "--id", str(job_id)))[0]
        if final["state"] != "done":
            raise RuntimeError(f"job {job_id} {final['state']}: {final.get('error')}")
        pool.where[HOT_FILE] = dst
        pool.check_moved(HOT_FILE, dst)
        order = final.get("arrivalOrder") or []
        first = {}
        for pos, extent in enumerate(order):
            first.setdefault(extent, pos)
        missing = [e for e in hot if e not in first]
        if missing or not order:
            raise RuntimeError(f"hot extents {missing[:10]} missing from arrivalOrder (len {len(order)})")
        last_pos = max(first[e] for e in hot)
        fraction = (1 + last_pos) / len(order)
        total = poller.done_at
        t_hot = _wall_time_at(poller.samples, last_pos + 1)
        extra = {"direction": f"{src} -> {dst}", "job_id": job_id, "extents": extents, "hot_extents": len(hot),
                 "arrival_len": len(order), "last_hot_position": last_pos,
                 "hot_positions": sorted(first[e] for e in hot), "first_arrivals": order[:len(hot) + 5],
                 "move_seconds_polled": total, "cli_issue_seconds": issued,
                 "reader_passes_during_move": reader.passes, "polls": len(poller.samples),
                 "progress": [(round(t, 3), j["extentsDone"], j["state"]) for t, j in poller.samples]}
        if reader.error:
            extra["reader_error"] = reader.error
        extra.update(_phases(poller.samples))
        if t_hot is not None and total:
            extra["alt"] = t_hot / total
            extra["last_hot_seconds"] = t_hot
            wall.append(extra["alt"])
            began = extra.get("seen_copying_s")
            if began is not None and total > began:  # without the CLI start and the queue wait
                extra["wall_fraction_from_copy_start"] = max(0.0, t_hot - began) / (total - began)
                wall_copy.append(extra["wall_fraction_from_copy_start"])
        fractions.append(fraction)
        update_note()
        return fraction, len(hot), extra

    return Case(pool.estuary, timed, "hot 10%, position-based")


def setup_hot(ctx: Context, target: Target) -> list[Case]:
    pool = pool_for(ctx)
    pool.up()
    size = pool.sizes["hot"]
    extents = -(-size // EXTENT)
    _note(ctx, _pool_note(pool))
    _note(ctx, f"{size >> 20} MiB random file, {extents} extents of 4 MiB, hot = every {HOT_EVERY}th extent "
               f"({len(range(0, extents, HOT_EVERY))}); {HOT_PASSES_BEFORE} read passes of 64 KiB per hot extent "
               f"before the move, then one pass every {READ_PAUSE * 1000:.0f} ms during it; cold cache at the start; "
               f"rounds alternate direction fast->bulk, bulk->fast")
    _note(ctx, "median = position-based fraction (1 + last arrival position of a hot extent) / len(arrivalOrder); "
               "'also' = wall-clock fraction (time extentsDone reached that position, 50 ms polls, "
               "/ time until the job was seen done); lower is better")
    return [_hot_case(ctx, pool)]


register(Benchmark(
    name="tiering-hot",
    unit="fraction",
    applies_to=("estuary",),
    setup=setup_hot,
    order=61,
    weight=1.0,
    alt_unit="wall-clock",
    description="share of a move done before the last hot extent (every 10th, read before and during the "
                "move) arrived: position in arrivalOrder (median) and by wall clock (also); 1 GiB "
                "(--quick 256 MiB), 4 MiB extents; goal <= 0.15",
))

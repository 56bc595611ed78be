"""fio through each target: sequential 1 MiB and random 4 KiB reads and writes.

One fio job at a time (psync, buffered: --direct=0, one file, --time_based), on the
target's scratch pool (see scratch.py). The file read by both read tests is written
natively into the pool's first silo before the FUSE daemons start, so every target reads
identical bytes whatever its write path can do. Reads are warm by default: the file was
read through the target once before the first round and fio does not drop its pages
(--invalidate=0); with --fio-cold the page cache is dropped before every read test.
The sequential-write file is deleted (untimed) before every run; the random-write file is
written through the target once before the first round (1 MiB writes) and overwritten in
place by every run.

seq-write-wronly is not fio: fio opens read-write even for write jobs, while cp, rsync, tar and
shell redirections open write-only, which Estuary serves without the mount's page cache. It
writes the same 1 MiB blocks through a write-only descriptor for the same time.

--iomem_align=4k: fio 3.33's default buffers are not page-aligned, and copying page-cache
data to a misaligned buffer runs ~5x slower on this CPU (ERMS/FSRM): warm native 1 MiB
reads measured 1.1-1.9 GB/s instead of ~7 GB/s, hiding most of any FUSE overhead.
"""

from __future__ import annotations

import json
import mmap
import os
import subprocess
import time

import procs
from scratch import phase_settle, pool_note, scratch, transport_note
from targets import EstuaryTarget, Target

from .base import Benchmark, Case, Context, Goal, Part, register

MiB = 1 << 20
READ_FILE, SEQ_WRITE_FILE, RAND_WRITE_FILE = "fio-read.dat", "fio-seqwrite.dat", "fio-randwrite.dat"
WRITE_ONLY_FILE = "copy-write.dat"
# part -> (fio --rw, block size, fio's JSON section, is the primary metric MiB/s)
JOBS = {
    "seq-read": ("read", "1M", "read", True),
    "seq-write": ("write", "1M", "write", True),
    "rand-read": ("randread", "4k", "read", False),
    "rand-write": ("randwrite", "4k", "write", False),
}


def _write_file(path: str, size: int) -> None:
    """A file of `size` random bytes at path (kept if it already has that size)."""
    try:
        if os.path.getsize(path) == size:
            return
    except OSError:
        pass
    block = os.urandom(MiB)
    with open(path, "wb") as f:
        for offset in range(0, size, MiB):
            f.write(block[:min(MiB, size - offset)])
    procs.sync()


def _drop_caches() -> None:
    procs.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def _fio_error(text: str) -> str:
    """The informative lines of fio's complaint (it repeats itself and adds JSON noise)."""
    lines = [ln.strip() for ln in text.splitlines()
             if ln.strip().startswith("fio:") or "error" in ln.lower() and not ln.strip().startswith('"')]
    return " / ".join(dict.fromkeys(lines))[:400] or text.strip()[-400:]


class FioRun:
    def __init__(self, ctx: Context, target: Target, root: str):
        self.opts = ctx.options
        self.target, self.root = target, root
        self.rand_write_error: OSError | None = None

    def path(self, name: str) -> str:
        return os.path.join(self.root, name)

    def fio(self, part: str, filename: str) -> tuple[float, float, dict]:
        rw, bs, section, mib_primary = JOBS[part]
        size, runtime = self.opts.fio_size, self.opts.fio_runtime
        cold = self.opts.fio_cold and section == "read"
        if cold:
            _drop_caches()
        settled = phase_settle()
        cmd = ["fio", f"--name={part}", f"--filename={self.path(filename)}", f"--rw={rw}", f"--bs={bs}",
               f"--size={size}", f"--runtime={runtime}", "--time_based", "--ioengine=psync",
               "--direct=0", "--fallocate=none", f"--invalidate={1 if cold else 0}", "--iomem_align=4k",
               "--output-format=json"]
        try:
            proc = procs.run(cmd, 4 * runtime + 120, stdout=subprocess.PIPE)
        except procs.CommandFailed as e:
            raise procs.CommandFailed(_fio_error(str(e))) from None
        text = proc.stdout.decode(errors="replace")
        try:
            job = json.loads(text[text.index("{"):])["jobs"][0]
        except (ValueError, KeyError, IndexError):
            raise procs.CommandFailed(f"fio printed no JSON: {text[-300:]!r}") from None
        if job.get("error"):
            raise procs.CommandFailed(f"fio error {job['error']}: {_fio_error(proc.stderr.decode(errors='replace'))}")
        io = job[section]
        seconds = io["runtime"] / 1000.0
        if not seconds or not io["total_ios"]:
            raise procs.CommandFailed(f"fio did no {section} I/O")
        mib, ios = io["io_bytes"] / MiB, io["total_ios"]
        extra = {"alt": ios / seconds if mib_primary else mib / seconds, "settle_seconds": settled,
                 "cache": "cold" if cold else "warm" if section == "read" else "buffered",
                 "clat_mean_us": io.get("clat_ns", {}).get("mean", 0) / 1000.0}
        return seconds, (mib if mib_primary else ios), extra

    def warmup(self) -> None:
        """Lay out the random-write file through the target in 1 MiB writes (fio would use
        4 KiB ones); read the read test's file through the target once (fills its page
        cache, if any)."""
        try:
            _write_file(self.path(RAND_WRITE_FILE), self.opts.fio_size)
        except OSError as e:  # e.g. EROFS: only the write parts fail
            self.rand_write_error = e
        if not self.opts.fio_cold:
            with open(self.path(READ_FILE), "rb", buffering=0) as f:
                while f.read(MiB):
                    pass

    def rand_write(self):
        if self.rand_write_error is not None:
            raise self.rand_write_error
        return self.fio("rand-write", RAND_WRITE_FILE)

    def seq_write(self):
        try:
            os.unlink(self.path(SEQ_WRITE_FILE))
        except FileNotFoundError:
            pass
        return self.fio("seq-write", SEQ_WRITE_FILE)

    def write_only(self):
        """What cp, rsync, tar and `>` do: open write-only (fio always opens read-write), then
        1 MiB writes from a page-aligned buffer over the file, time-based like the fio jobs;
        the close, which a copy waits for too, is inside the timing."""
        path = self.path(WRITE_ONLY_FILE)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        size, runtime = self.opts.fio_size, self.opts.fio_runtime
        block = mmap.mmap(-1, MiB)
        block.write(os.urandom(MiB))
        settled = phase_settle()
        written, pwrite = 0, os.pwrite
        start = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            while time.perf_counter() - start < runtime:
                for offset in range(0, size, MiB):
                    written += pwrite(fd, block, offset)
        finally:
            os.close(fd)
        seconds = time.perf_counter() - start
        return seconds, written / MiB, {"settle_seconds": settled, "cache": "buffered"}

    def stages(self) -> dict:
        return {"seq-read": lambda: self.fio("seq-read", READ_FILE),
                "seq-write": self.seq_write,
                "seq-write-wronly": self.write_only,
                "rand-read": lambda: self.fio("rand-read", READ_FILE),
                "rand-write": self.rand_write}


def setup_fio(ctx: Context, target: Target) -> list[Case]:
    pool = scratch(ctx)
    stand_in = pool.target(target)
    # The read file goes straight into the silo with the daemon stopped; Estuary's index is
    # rebuilt on mount (a fresh scan of the tiny pool) so that it knows the file.
    stand_in.down()
    directory = os.path.join(pool.first_silo(stand_in), "fio")
    os.makedirs(directory, exist_ok=True)
    _write_file(os.path.join(directory, READ_FILE), ctx.options.fio_size)
    if isinstance(stand_in, EstuaryTarget):
        stand_in.wipe_state()
    stand_in.up()
    run = FioRun(ctx, stand_in, os.path.join(stand_in.roots()[0], "fio"))
    if pool_note(ctx) not in ctx.notes:
        ctx.notes.append(pool_note(ctx))
    o = ctx.options
    note = (f"fio --ioengine=psync --direct=0, {o.fio_size // MiB} MiB file, {o.fio_runtime}s per job; "
            f"reads {'cold (drop_caches before each)' if o.fio_cold else 'warm (page cache)'}, "
            f"writes buffered; rand-* alt column is MiB/s, seq-* alt is IOPS")
    if note not in ctx.notes:
        ctx.notes.append(note)
    if (transport := transport_note(stand_in)) and transport not in ctx.notes:
        ctx.notes.append(transport)
    return [Case(stand_in, stages=run.stages(), warmup=run.warmup)]


SEQ_GOALS = (Goal("mergerfs", 1.0),)
register(Benchmark(
    name="fio",
    unit="MiB/s",
    applies_to=("native", "mergerfs", "estuary"),
    setup=setup_fio,
    order=50,
    weight=2.5,
    quick_rounds=1,
    description="fio sequential 1 MiB and random 4 KiB reads and writes (psync, buffered) "
                "through each target's scratch pool",
    parts=(
        Part("seq-read", "MiB/s", "fio --rw=read --bs=1M", SEQ_GOALS + (Goal("native", 0.8),), "IOPS"),
        Part("seq-write", "MiB/s", "fio --rw=write --bs=1M (file created by the run)", SEQ_GOALS, "IOPS"),
        Part("seq-write-wronly", "MiB/s", "1 MiB writes through a write-only descriptor, like cp or rsync "
             "(file created by the run)", SEQ_GOALS),
        Part("rand-read", "IOPS", "fio --rw=randread --bs=4k", (), "MiB/s"),
        Part("rand-write", "IOPS", "fio --rw=randwrite --bs=4k (existing file overwritten in place)", (), "MiB/s"),
    ),
))

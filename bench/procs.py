"""Running and timing external commands."""

from __future__ import annotations

import signal
import subprocess
import tempfile
import threading
import time


class CommandFailed(RuntimeError):
    pass


def _tail(text: bytes | str | None, limit: int = 400) -> str:
    if not text:
        return ""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    text = text.strip()
    return text[-limit:]


def run(cmd: list[str], timeout: float, stdout=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    """Run cmd, raising CommandFailed (with the stderr tail) on non-zero exit or timeout."""
    try:
        proc = subprocess.run(cmd, stdout=stdout, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CommandFailed(f"timeout after {timeout:.0f}s: {' '.join(cmd[:3])} ...") from None
    except OSError as e:
        raise CommandFailed(f"{cmd[0]}: {e.strerror}") from None
    if proc.returncode != 0:
        raise CommandFailed(f"{cmd[0]} exited {proc.returncode}: {_tail(proc.stderr)}")
    return proc


def timed(cmd: list[str], timeout: float) -> float:
    """Wall-clock seconds of cmd with stdout discarded (the process start is included)."""
    start = time.perf_counter()
    run(cmd, timeout)
    return time.perf_counter() - start


def timed_capture(cmd: list[str], timeout: float) -> tuple[float, str]:
    """Wall-clock seconds of cmd and its stdout (for commands with small output)."""
    start = time.perf_counter()
    proc = run(cmd, timeout, stdout=subprocess.PIPE)
    return time.perf_counter() - start, proc.stdout.decode(errors="replace")


def count_output_lines(cmd: list[str], timeout: float) -> int:
    """Number of lines cmd prints, counted in chunks so huge outputs cost no memory."""
    lines = 0
    # stderr goes to a file (a pipe could fill up and deadlock us); a timer kills a
    # child stuck e.g. on a hung FUSE mount, which a blocking read would never notice.
    with tempfile.TemporaryFile() as err, \
            subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err) as proc:
        watchdog = threading.Timer(timeout, proc.kill)
        watchdog.start()
        try:
            while chunk := proc.stdout.read(1 << 20):
                lines += chunk.count(b"\n")
            proc.wait()
        finally:
            watchdog.cancel()
        if proc.returncode == -signal.SIGKILL:
            raise CommandFailed(f"timeout after {timeout:.0f}s: {' '.join(cmd[:3])} ...")
        if proc.returncode != 0:
            err.seek(0)
            raise CommandFailed(f"{cmd[0]} exited {proc.returncode}: {_tail(err.read())}")
    return lines


def sync() -> None:
    """Flush dirty pages so writeback from an earlier phase does not land in a timed one."""
    subprocess.run(["sync"], check=True)

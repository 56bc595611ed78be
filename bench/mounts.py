"""FUSE daemons and mounts the harness owns, and the guarantee that they are torn down.

Every mount/daemon registers an undo action with CLEANUP. The undo actions run (most
recent first) from the finally block in run.py, from atexit, and — because SIGTERM and
SIGHUP are turned into SystemExit — also when the harness is killed politely.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import sys
import time
from typing import Callable


class Cleanup:
    def __init__(self) -> None:
        self._actions: list[tuple[str, Callable[[], None]]] = []

    def push(self, what: str, action: Callable[[], None]) -> None:
        self._actions.append((what, action))

    def discard(self, what: str) -> None:
        """Forget an action that already ran through the normal path."""
        self._actions = [a for a in self._actions if a[0] != what]

    def run_all(self) -> None:
        # A signal arriving mid-teardown must not abort it and leave mounts behind
        # (unmounting a FUSE fs with a million cached inodes can take several seconds).
        blocked = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in blocked}
        try:
            while self._actions:
                what, action = self._actions.pop()
                try:
                    action()
                except Exception as e:  # keep tearing down the rest
                    print(f"cleanup: {what}: {e}", file=sys.stderr)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


CLEANUP = Cleanup()


def install_handlers() -> None:
    """Make SIGTERM/SIGHUP unwind like Ctrl-C so finally blocks and atexit run."""
    def to_exit(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, to_exit)
    signal.signal(signal.SIGHUP, to_exit)
    atexit.register(CLEANUP.run_all)


def _unescape(field: str) -> str:
    # /proc/mounts encodes space, tab, newline and backslash as \ooo.
    return field.encode().decode("unicode_escape") if "\\" in field else field


def mount_fstype(mountpoint: str) -> str | None:
    """fstype of the topmost mount at mountpoint, or None if nothing is mounted there."""
    mountpoint = os.path.realpath(mountpoint)
    found = None
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and _unescape(fields[1]) == mountpoint:
                found = fields[2]
    return found


def _abort_fuse_connection(mountpoint: str) -> None:
    """Last resort for a wedged daemon: abort its connection via fusectl (minor = st_dev minor)."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if _unescape(fields[4]) == os.path.realpath(mountpoint) and fields[2].startswith("0:"):
                path = f"/sys/fs/fuse/connections/{fields[2].split(':')[1]}/abort"
                if os.path.exists(path):
                    with open(path, "w") as a:
                        a.write("1")


def unmount(mountpoint: str) -> None:
    """Unmount a FUSE mount: fusermount3 -u, then lazy umount, then abort the connection."""
    for cmd in (["fusermount3", "-u", mountpoint], ["umount", "-l", mountpoint]):
        if mount_fstype(mountpoint) is None:
            return
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    if mount_fstype(mountpoint) is not None:
        _abort_fuse_connection(mountpoint)
        subprocess.run(["umount", "-l", mountpoint], stderr=subprocess.DEVNULL, timeout=30)
    if mount_fstype(mountpoint) is not None:
        raise RuntimeError(f"could not unmount {mountpoint}")


class MountFailed(RuntimeError):
    pass


class FuseDaemon:
    """A FUSE daemon run in the foreground (-f) as our child, so we own its pid."""

    def __init__(self, name: str, cmd: list[str], mountpoint: str, fstype: str, log_path: str):
        self.name, self.cmd, self.mountpoint, self.fstype = name, cmd, mountpoint, fstype
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self._log_start = 0  # the log is appended to; failure reports show only this run's part

    @property
    def _cleanup_key(self) -> str:
        # Two daemons may share a name (the tree's and the scratch pool's mergerfs).
        return f"{self.name} at {self.mountpoint}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float) -> float:
        """Start the daemon and wait for the mount; returns seconds until it appeared."""
        os.makedirs(self.mountpoint, exist_ok=True)
        if mount_fstype(self.mountpoint) is not None:  # left over by an earlier, killed run
            unmount(self.mountpoint)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== {time.ctime()}: {' '.join(self.cmd)}\n".encode())
            log.flush()
            self._log_start = log.tell()
            # Own session: a terminal Ctrl-C reaches only us, and we unmount before killing it.
            self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        CLEANUP.push(self._cleanup_key, self.stop)
        start = time.perf_counter()
        try:
            self._wait_for_mount(timeout)
        except BaseException:
            CLEANUP.discard(self._cleanup_key)
            self.stop()
            raise
        return time.perf_counter() - start

    def _wait_for_mount(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if mount_fstype(self.mountpoint) == self.fstype:
                return
            if self.proc.poll() is not None:
                raise MountFailed(f"{self.name} exited {self.proc.returncode} before mounting: "
                                  f"{self.log_tail()}")
            time.sleep(0.1)
        raise MountFailed(f"{self.name} did not mount {self.fstype} within {timeout:.0f}s")

    def stop(self) -> None:
        """Unmount first (the daemon then exits by itself), then make sure the process is gone."""
        CLEANUP.discard(self._cleanup_key)
        try:
            unmount(self.mountpoint)
        finally:
            if self.proc is not None:
                for sig, wait in ((None, 10), (signal.SIGTERM, 10), (signal.SIGKILL, 10)):
                    if self.proc.poll() is not None:
                        break
                    if sig is not None:
                        self.proc.send_signal(sig)
                    try:
                        self.proc.wait(wait)
                    except subprocess.TimeoutExpired:
                        pass
                self.proc = None

    def log_tail(self, limit: int = 600) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(self._log_start, os.path.getsize(self.log_path) - limit))
                text = f.read().decode(errors="replace").strip().replace("\n", " | ")
                return text or "(empty log)"
        except OSError:
            return "(no log)"

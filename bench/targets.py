"""The file systems under test: native silos, mergerfs (several configs) and Estuary."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass

import procs
from mounts import FuseDaemon, MountFailed
from tree import Tree

# Every mergerfs config here becomes its own target; benchmarks compare Estuary with the best.
MERGERFS_COMMON = "category.create=ff,func.getattr=newest,dropcacheonclose=false"


@dataclass(frozen=True)
class MergerfsConfig:
    name: str        # target name, e.g. "mergerfs-cached"
    mount_dir: str   # relative to the work dir
    options: str


MERGERFS_CONFIGS = [
    MergerfsConfig("mergerfs", "mnt-mergerfs",
                   f"cache.files=off,{MERGERFS_COMMON},fsname=benchmerger"),
    MergerfsConfig("mergerfs-cached", "mnt-mergerfs-cached",
                   f"cache.files=auto-full,{MERGERFS_COMMON},fsname=benchmerger-cached"),
]


class Target:
    """Something a benchmark can point at. kind is one of "native", "mergerfs", "estuary"."""
    name: str
    kind: str

    def roots(self) -> list[str]:
        """Directories that together show the whole namespace."""
        raise NotImplementedError

    def up(self) -> None:
        """Make the target usable (mount it); idempotent."""

    def down(self) -> None:
        """Undo up(); idempotent."""


class NativeTarget(Target):
    kind = "native"

    def __init__(self, tree: Tree):
        self.name = "native"
        self.tree = tree

    def roots(self) -> list[str]:
        return list(self.tree.silo_paths)


class FuseTarget(Target):
    """A target served by one FUSE daemon we start; remembers a failed mount so later
    benchmarks do not wait for the same timeout again."""
    mount_timeout = 30.0

    def __init__(self, name: str, mountpoint: str):
        self.name = name
        self.mountpoint = mountpoint
        self.daemon: FuseDaemon | None = None
        self.failure: str | None = None
        self.mount_seconds: float | None = None

    def roots(self) -> list[str]:
        return [self.mountpoint]

    def make_daemon(self) -> FuseDaemon:
        raise NotImplementedError

    def up(self) -> None:
        if self.failure:
            raise MountFailed(self.failure)
        if self.daemon is not None and self.daemon.running:
            return
        try:
            self.daemon = self.make_daemon()
            self.mount_seconds = self.daemon.start(self.mount_timeout)
        except (MountFailed, OSError) as e:
            self.daemon = None
            self.failure = str(e)
            raise MountFailed(self.failure) from None

    def down(self) -> None:
        if self.daemon is not None:
            self.daemon.stop()
            self.daemon = None


class MergerfsTarget(FuseTarget):
    kind = "mergerfs"

    def __init__(self, config: MergerfsConfig, tree: Tree, work: str):
        super().__init__(config.name, os.path.join(work, config.mount_dir))
        self.config = config
        self.tree = tree
        self.log_path = os.path.join(work, "logs", f"{config.name}.log")

    def make_daemon(self) -> FuseDaemon:
        cmd = ["mergerfs", "-f", "-o", self.config.options,
               ":".join(self.tree.silo_paths), self.mountpoint]
        return FuseDaemon(self.name, cmd, self.mountpoint, "fuse.mergerfs", self.log_path)


class EstuaryTarget(FuseTarget):
    kind = "estuary"
    mount_timeout = 120.0  # the first mount of an empty index scans every silo

    def __init__(self, tree: Tree, work: str, bin_dir: str):
        super().__init__("estuary", os.path.join(work, "mnt-estuary"))
        self.tree = tree
        self.daemon_bin = os.path.join(bin_dir, "estuaryfs")
        self.cli_bin = os.path.join(bin_dir, "estuary")
        self.state_dir = os.path.join(work, "state")
        self.config_path = os.path.join(work, "estuary.toml")
        self.log_path = os.path.join(work, "logs", "estuaryfs.log")
        self._tree_marker = os.path.join(work, "state.tree")

    def missing_binaries(self) -> str | None:
        missing = [p for p in (self.daemon_bin, self.cli_bin) if not os.access(p, os.X_OK)]
        if not missing:
            return None
        return f"binary missing: {', '.join(os.path.basename(p) for p in missing)} in {os.path.dirname(missing[0])}"

    def prepare(self) -> None:
        """Write the pool config and drop an index that was built for a different tree."""
        lines = ["[pool]", 'name = "bench"', f'state_dir = "{self.state_dir}"', ""]
        for i, path in enumerate(self.tree.silo_paths):
            # Same tiers as the zero-config spec "s0=fast:s1:...": s0 is fast, the rest inherit it.
            lines += ["[[silo]]", f'name = "s{i}"', f'path = "{path}"', 'tier = "fast"', ""]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines))
        try:
            with open(self._tree_marker) as f:
                same_tree = f.read().strip() == self.tree.params.key
        except OSError:
            same_tree = False
        if not same_tree:
            self.wipe_state()
            with open(self._tree_marker, "w") as f:
                f.write(self.tree.params.key)

    def make_daemon(self) -> FuseDaemon:
        if reason := self.missing_binaries():
            raise MountFailed(reason)
        cmd = [self.daemon_bin, self.config_path, self.mountpoint, "-f"]
        return FuseDaemon("estuaryfs", cmd, self.mountpoint, "fuse.estuaryfs", self.log_path)

    def wipe_state(self) -> None:
        """Empty index; only valid while no daemon is running."""
        assert self.daemon is None, "wiping the state dir under a running daemon"
        shutil.rmtree(self.state_dir, ignore_errors=True)

    def scan(self, timeout: float) -> tuple[float, int, dict]:
        """Run `estuary scan --json`: (wall seconds, entries, the reported JSON object)."""
        if reason := self.missing_binaries():
            raise procs.CommandFailed(reason)
        seconds, out = procs.timed_capture([self.cli_bin, "scan", self.config_path, "--json"], timeout)
        report = _last_json_line(out)
        if "entries" not in report:
            raise procs.CommandFailed(f"estuary scan JSON lacks 'entries': {report}")
        return seconds, int(report["entries"]), report

    def status(self, timeout: float) -> dict:
        _, out = procs.timed_capture([self.cli_bin, "status", self.config_path, "--json"], timeout)
        return _last_json_line(out)


def _last_json_line(out: str) -> dict:
    lines = [line for line in out.splitlines() if line.strip()]
    try:
        value = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise procs.CommandFailed(f"expected JSON on the last line, got: {out[-300:]!r}") from None
    if not isinstance(value, dict):
        raise procs.CommandFailed(f"expected a JSON object, got: {lines[-1][:300]!r}")
    return value


def build_targets(tree: Tree, work: str, bin_dir: str) -> dict[str, Target]:
    """All targets in display order: native, each mergerfs config, estuary."""
    estuary = EstuaryTarget(tree, work, bin_dir)
    estuary.prepare()
    targets: list[Target] = [NativeTarget(tree)]
    targets += [MergerfsTarget(c, tree, work) for c in MERGERFS_CONFIGS]
    targets.append(estuary)
    return {t.name: t for t in targets}

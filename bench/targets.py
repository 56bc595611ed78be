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

    def __init__(self, paths: list[str], name: str = "native"):
        self.name = name
        self.paths = list(paths)

    def roots(self) -> list[str]:
        return list(self.paths)


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

    def __init__(self, config: MergerfsConfig, silo_paths: list[str], mountpoint: str, log_path: str):
        super().__init__(config.name, mountpoint)
        self.config = config
        self.silo_paths = list(silo_paths)
        self.log_path = log_path

    def make_daemon(self) -> FuseDaemon:
        cmd = ["mergerfs", "-f", "-o", self.config.options, ":".join(self.silo_paths), self.mountpoint]
        return FuseDaemon(self.name, cmd, self.mountpoint, "fuse.mergerfs", self.log_path)


@dataclass(frozen=True)
class EstuaryPool:
    """Everything that goes into one Estuary pool config and where its files live."""
    name: str                      # [pool] name
    silos: list[tuple[str, str]]   # (path, tier) per silo, in order
    state_dir: str
    config_path: str
    identity: str                  # the state dir is wiped when this changes (e.g. the tree key)
    pool_lines: tuple[str, ...] = ()  # extra [pool] keys, e.g. 'entry_timeout = 1.0'
    tier_order: tuple[str, ...] = ()  # [tiers] order, fastest first; empty = order of first use


class EstuaryTarget(FuseTarget):
    kind = "estuary"
    mount_timeout = 120.0  # the first mount of an empty index scans every silo

    def __init__(self, pool: EstuaryPool, mountpoint: str, bin_dir: str, log_path: str,
                 name: str = "estuary"):
        super().__init__(name, mountpoint)
        self.pool = pool
        self.daemon_bin = os.path.join(bin_dir, "estuaryfs")
        self.cli_bin = os.path.join(bin_dir, "estuary")
        self.state_dir = pool.state_dir
        self.config_path = pool.config_path
        self.log_path = log_path
        self._identity_marker = f"{pool.state_dir}.tree"  # e.g. WORK/state.tree

    def missing_binaries(self) -> str | None:
        missing = [p for p in (self.daemon_bin, self.cli_bin) if not os.access(p, os.X_OK)]
        if not missing:
            return None
        return f"binary missing: {', '.join(os.path.basename(p) for p in missing)} in {os.path.dirname(missing[0])}"

    def prepare(self) -> None:
        """Write the pool config and drop an index that was built for a different tree/pool."""
        pool = self.pool
        lines = ["[pool]", f'name = "{pool.name}"', f'state_dir = "{pool.state_dir}"', *pool.pool_lines, ""]
        if pool.tier_order:
            lines += ["[tiers]", "order = [" + ", ".join(f'"{t}"' for t in pool.tier_order) + "]", ""]
        for i, (path, tier) in enumerate(pool.silos):
            lines += ["[[silo]]", f'name = "s{i}"', f'path = "{path}"', f'tier = "{tier}"', ""]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines))
        try:
            with open(self._identity_marker) as f:
                same = f.read().strip() == pool.identity
        except OSError:
            same = False
        if not same:
            self.wipe_state()
            with open(self._identity_marker, "w") as f:
                f.write(pool.identity)

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
    """All targets over the tree, in display order: native, each mergerfs config, estuary."""
    # Same tiers as the zero-config spec "s0=fast:s1:...": s0 is fast, the rest inherit it.
    pool = EstuaryPool(name="bench", silos=[(p, "fast") for p in tree.silo_paths],
                       state_dir=os.path.join(work, "state"),
                       config_path=os.path.join(work, "estuary.toml"), identity=tree.params.key)
    estuary = EstuaryTarget(pool, os.path.join(work, "mnt-estuary"), bin_dir,
                            os.path.join(work, "logs", "estuaryfs.log"))
    estuary.prepare()
    targets: list[Target] = [NativeTarget(tree.silo_paths)]
    targets += [MergerfsTarget(c, tree.silo_paths, os.path.join(work, c.mount_dir),
                               os.path.join(work, "logs", f"{c.name}.log")) for c in MERGERFS_CONFIGS]
    targets.append(estuary)
    return {t.name: t for t in targets}

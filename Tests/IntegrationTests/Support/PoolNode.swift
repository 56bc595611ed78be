import Foundation
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One daemon (node) of a pool whose index is shared, started detached as a user would
/// (`estuaryfs CONFIG MOUNTPOINT`), with its own state directory and log file: tests with
/// several nodes on one machine start, stop and kill them one by one.
final class PoolNode {
    let config: String
    let mountpoint: String
    let state: String
    private(set) var pid: Int32?

    init(config: String, mountpoint: String, state: String) {
        self.config = config; self.mountpoint = mountpoint; self.state = state
    }

    /// The node using `pool`'s own config, mount point and state directory (instead of `pool.mount()`).
    static func first(of pool: TestPool) -> PoolNode {
        PoolNode(config: pool.configPath, mountpoint: pool.mountpoint, state: pool.root + "/state")
    }

    /// Another node of `pool`: the same silos and index, its own state directory and mount point.
    static func another(of pool: TestPool, named name: String = "node-b") throws -> PoolNode {
        let root = pool.root + "/" + name
        try FileManager.default.createDirectory(atPath: root + "/mnt", withIntermediateDirectories: true)
        let text = try String(contentsOfFile: pool.configPath, encoding: .utf8)
            .replacingOccurrences(of: "state_dir = \"\(pool.root)/state\"", with: "state_dir = \"\(root)/state\"")
        try text.write(toFile: root + "/pool.toml", atomically: true, encoding: .utf8)
        return PoolNode(config: root + "/pool.toml", mountpoint: root + "/mnt", state: root + "/state")
    }

    /// `options`: more arguments for estuaryfs (`-o log_level=debug`).
    func start(options: [String] = []) throws {
        let started = try Shell.run(Shell.estuaryfs, [config, mountpoint] + options)
        guard started.status == 0 else { throw TestFailure("node at \(mountpoint) did not start: \(started.output)") }
        let record = try String(contentsOfFile: state + "/mount", encoding: .utf8)
        pid = record.split(separator: "\n").dropFirst().first.flatMap { Int32($0) }
    }

    func path(_ relative: String) -> String { mountpoint + "/" + relative }

    var log: String { (try? String(contentsOfFile: state + "/estuaryfs.log", encoding: .utf8)) ?? "" }

    var isMounted: Bool {
        let mounts = procText("/proc/self/mounts") ?? ""
        return mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().first.map(String.init) == mountpoint }
    }

    /// Unmounts and waits for the daemon to exit. An unmount refused while a process another
    /// test forked holds the mount for a moment is tried again (as TestPool.unmount does):
    /// a node left running outlives its test and its pool's directories.
    /// Still busy after 5 s, the mount is detached lazily; a daemon still running 20 s later is
    /// killed. A node outliving its test keeps serving a pool whose directories are gone, holds
    /// database connections and takes the pool's leases (seen once after a passing CI run).
    func stop() {
        guard let pid else { return }
        for _ in 0..<50 where kill(pid, 0) == 0 {
            _ = try? Shell.run("/bin/fusermount3", ["-u", mountpoint])
            if !isMounted { break }
            usleep(100_000)
        }
        if isMounted {
            FileHandle.standardError.write(Data("PoolNode: \(mountpoint) still busy after 5 s (held by: \(holders())); detached lazily\n".utf8))
            _ = try? Shell.run("/bin/fusermount3", ["-uz", mountpoint])
        }
        for _ in 0..<800 where kill(pid, 0) == 0 { usleep(25_000) }
        if kill(pid, 0) == 0 {
            FileHandle.standardError.write(Data("PoolNode: the daemon of \(mountpoint) (pid \(pid)) did not exit 20 s after its unmount; killed\n".utf8))
            kill(pid, SIGKILL)
            for _ in 0..<400 where kill(pid, 0) == 0 { usleep(25_000) }
        }
        self.pid = nil
    }

    /// The processes with a descriptor, working directory or mapping inside the mount, as
    /// "pid command: what": who keeps an unmount busy.
    private func holders() -> String {
        let prefix = mountpoint + "/"
        var found: [String] = []
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { Int32($0) }
        for pid in pids {
            var what: [String] = []
            for link in ["cwd", "root"] {
                if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/\(link)"),
                   target == mountpoint || target.hasPrefix(prefix) { what.append("\(link) \(target)") }
            }
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? [] {
                if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                   target == mountpoint || target.hasPrefix(prefix) { what.append("fd \(fd) \(target)") }
            }
            if let maps = procText("/proc/\(pid)/maps"), maps.contains(prefix) { what.append("a mapping") }
            if !what.isEmpty {
                let name = (procText("/proc/\(pid)/comm") ?? "?").trimmingCharacters(in: .whitespacesAndNewlines)
                found.append("\(pid) \(name): \(what.prefix(4).joined(separator: ", "))")
            }
        }
        return found.isEmpty ? "no process found" : found.joined(separator: "; ")
    }

    /// kill -9, as a host dying would; the dead mount is detached.
    func kill9() {
        guard let pid else { return }
        kill(pid, SIGKILL)
        for _ in 0..<400 where kill(pid, 0) == 0 { usleep(25_000) }
        _ = try? Shell.run("/bin/fusermount3", ["-uz", mountpoint])
        self.pid = nil
    }

    deinit { stop() }
}

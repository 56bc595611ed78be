import Config
import Logging
import Pool
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Taking the pool's lock for a mount. `umount M && mount M` (fstab, `systemctl restart`)
/// starts the new daemon while the old one, whose mount is already gone, may still be
/// committing its last changes: the new one waits for it, a bounded time, and says so.
enum MountLock {
    static let stoppingWait = 30.0

    static func take(_ config: PoolConfig, paths: PoolPaths, logger: Logger) throws -> PoolLock {
        do {
            return try PoolLock.acquire(path: paths.lock, waitingUpTo: stoppingWait,
                                        isStopping: { isStopping($0, mountRecord: paths.mountRecord) }) { held in
                logger.warning("pool '\(config.name)': waiting for process \(held.holder) to finish stopping (up to \(Int(stoppingWait)) s)")
            }
        } catch let held as PoolLock.Held {
            if isStopping(held, mountRecord: paths.mountRecord) {
                throw DaemonError("pool '\(config.name)' is still held by process \(held.holder), which has been stopping for more than \(Int(stoppingWait)) s")
            }
            throw DaemonError("pool '\(config.name)' is already mounted or being scanned by process \(held.holder)")
        }
    }

    /// The holder said so, or it is the daemon that recorded a mount which is no longer there:
    /// the moment between the unmount and its loop noticing. (A daemon still starting has not
    /// written its record yet, and an `estuary scan` writes none: both are refused at once.)
    static func isStopping(_ held: PoolLock.Held, mountRecord: String) -> Bool {
        if held.stopping { return true }
        guard let record = readMountRecord(mountRecord), String(record.pid) == held.holder else { return false }
        return MountPointCheck.mountedAt(record.mountpoint)?.type.hasPrefix("fuse") != true
    }

    /// The record a mounted daemon writes into its state directory: mount point, then pid.
    static func readMountRecord(_ path: String) -> (mountpoint: String, pid: Int32)? {
        guard let fd = try? Sys.open(path, flags: O_RDONLY) else { return nil }
        defer { Sys.close(fd) }
        guard let data = try? Sys.readAll(fd, limit: 65536) else { return nil }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 2, let pid = Int32(lines[1]) else { return nil }
        return (String(lines[0]), pid)
    }

    static func writeMountRecord(_ path: String, mountpoint: String) {
        guard let fd = try? Sys.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600) else { return }
        try? Sys.writeAll(fd, Array("\(mountpoint)\n\(getpid())\n".utf8))
        Sys.close(fd)
    }
}

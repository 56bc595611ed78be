import Logging
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The systemd notification protocol (sd_notify(3)) without libsystemd: datagrams of
/// `KEY=VALUE` lines sent to the socket named by `NOTIFY_SOCKET`. With `Type=notify` systemd
/// counts the unit as started at `READY=1`, which estuaryfs sends only once the mount has
/// answered a stat through FUSE; `STOPPING=1` on the way out; and `WATCHDOG=1` every half of
/// `WatchdogSec` while the mount answers statfs (which the kernel never caches), so a hung
/// daemon stops petting the watchdog and systemd restarts it.
final class SystemdNotifier: Sendable {
    private let socketPath: [UInt8]
    private let mountpoint: String
    private let logger: Logger
    private let running = Atomic<Bool>(true)

    private init(socketPath: [UInt8], mountpoint: String, logger: Logger) {
        self.socketPath = socketPath; self.mountpoint = mountpoint; self.logger = logger
    }

    /// Starts the readiness probe (and the watchdog when systemd asks for one); nil outside
    /// systemd (no NOTIFY_SOCKET). Call just before the session loop starts serving.
    static func start(mountpoint: String, logger: Logger) -> SystemdNotifier? {
        guard let raw = getenv("NOTIFY_SOCKET") else { return nil }
        var path = Array(String(cString: raw).utf8)
        guard !path.isEmpty, path.count < 108 else { logger.warning("NOTIFY_SOCKET is not a usable socket path"); return nil }
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }   // an abstract socket
        let notifier = SystemdNotifier(socketPath: path, mountpoint: mountpoint, logger: logger)
        let interval = watchdogInterval()
        _ = OSThread.start { [notifier] in
            guard notifier.waitUntilServed() else { return }
            notifier.send("READY=1\nMAINPID=\(getpid())\nSTATUS=serving \(mountpoint)")
            if let interval { notifier.petWatchdog(every: interval) }
        }
        return notifier
    }

    /// The session loop returned: tell systemd and stop the probe and the watchdog. They are
    /// not joined: one may sit in a stat of the mount that nobody serves any more, until the
    /// unmount that follows ends it.
    func stopping() {
        running.store(false, ordering: .relaxed)
        send("STOPPING=1\nSTATUS=unmounting \(mountpoint)")
    }

    /// Half of WATCHDOG_USEC, as sd_watchdog_enabled(3) advises; nil when not asked for or
    /// meant for another process (WATCHDOG_PID).
    private static func watchdogInterval() -> UInt32? {
        guard let raw = getenv("WATCHDOG_USEC"), let usec = UInt64(String(cString: raw)), usec > 0 else { return nil }
        if let pid = getenv("WATCHDOG_PID"), Int32(String(cString: pid)) != getpid() { return nil }
        return UInt32(clamping: max(usec / 2, 1000))
    }

    /// Stats the mount point through FUSE until the root answers (inode 1): the loop is serving.
    private func waitUntilServed() -> Bool {
        while running.load(ordering: .relaxed) {
            var s = stat()
            if stat(mountpoint, &s) == 0 && s.st_ino == 1 { return true }
            usleep(10_000)
        }
        return false
    }

    private func petWatchdog(every interval: UInt32) {
        var slept: UInt32 = 0
        while running.load(ordering: .relaxed) {
            // Sleep in short steps so an unmount does not wait a whole period for this thread.
            usleep(min(100_000, interval))
            slept += min(100_000, interval)
            guard slept >= interval else { continue }
            slept = 0
            var fs = statvfs()
            if statvfs(mountpoint, &fs) == 0 && running.load(ordering: .relaxed) { send("WATCHDOG=1") }
        }
    }

    private func send(_ message: String) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (i, byte) in socketPath.enumerated() { buffer[i] = byte }
        }
        // An abstract name is exactly as long as given; a path name ends at its NUL.
        let length = socklen_t(MemoryLayout<sa_family_t>.size + socketPath.count + (socketPath[0] == 0 ? 0 : 1))
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), $0, length) }
        }
        if sent < 0 { logger.warning("systemd notification failed: \(Errno.current)") }
    }
}

import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Says when the mount table changes (a file system mounted or unmounted anywhere in the
/// daemon's mount namespace). The kernel reports that on /proc/self/mountinfo as POLLPRI, so a
/// silo whose file system is unmounted and mounted again is noticed within milliseconds
/// instead of at the next periodic health check, and its new superblock is marked before much
/// can be missed. Bursts (a container starting mounts a dozen file systems) are folded into
/// one call by waiting `settle` seconds after a change.
public final class MountTableWatch: @unchecked Sendable {
    private let fd: Int32
    private let wakeRead: Int32, wakeWrite: Int32
    private let changed: @Sendable () -> Void
    private let settle = 0.02
    private let running = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)

    /// Nil when /proc is not mounted: the periodic health check still notices remounts.
    public init?(changed: @escaping @Sendable () -> Void) {
        let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { Sys.close(fd); return nil }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC); _ = fcntl(end, F_SETFL, O_NONBLOCK) }
        self.fd = fd
        wakeRead = ends[0]; wakeWrite = ends[1]
        self.changed = changed
    }

    deinit { Sys.close(fd); Sys.close(wakeRead); Sys.close(wakeWrite) }

    public func start() {
        running.store(true, ordering: .relaxed)
        let t = OSThread.start { [self] in run() }
        thread.withLock { $0 = t }
    }

    public func stop() {
        running.store(false, ordering: .relaxed)
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        thread.withLock { $0 }?.join()
    }

    private func run() {
        while running.load(ordering: .relaxed) {
            var pollers = [pollfd(fd: fd, events: Int16(POLLPRI), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let n = poll(&pollers, 2, -1)
            if n < 0 && errno == EINTR { continue }
            guard n > 0, pollers[1].revents == 0 else { return }
            // The kernel compares the table's event count with the one this file last saw at
            // each poll, so the change is acknowledged by the poll itself; nothing to read.
            guard pollers[0].revents & Int16(POLLPRI | POLLERR) != 0 else { return }
            usleep(UInt32(settle * 1_000_000))
            guard running.load(ordering: .relaxed) else { return }
            changed()
        }
    }
}

import CShims
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// One change fanotify reported: the directories and names it touched (a rename has two).
public struct FanotifyEvent: Sendable {
    public struct Place: Sendable {
        /// The file system, as `statfs` reports its id (see `FanotifyGroup.fsid`).
        public var fsid: UInt64
        /// A `struct file_handle` naming the directory, for `open_by_handle_at`.
        public var handle: [UInt8]
        public var name: [UInt8]
    }
    public var overflow: Bool
    public var pid: Int32
    /// Whether names were added, removed or moved (rather than data, attributes or xattrs changed).
    public var namesChanged: Bool
    public var places: [Place]
}

/// A fanotify notification group following whole file systems (`FAN_MARK_FILESYSTEM`) with
/// directory handles and names, so that events say where a change happened without the
/// group holding a watch per directory. Read from one thread; `wake` may come from any.
public final class FanotifyGroup {
    public let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)
    /// A pipe whose read end is polled with the group: a byte written ends every wait from
    /// then on, so a stopping daemon does not sleep out an idle poll before it lets go of the pool.
    private let wakeRead: Int32, wakeWrite: Int32

    /// Whether the kernel's queue for this group is unlimited: nothing is lost while the
    /// reader rests, so it may let events gather between reads.
    public let unlimited: Bool

    /// `unlimited`: ask for an unlimited queue, falling back to the bounded one
    /// (`/proc/sys/fs/fanotify/max_queued_events`) when the kernel refuses it.
    public init(unlimited: Bool = true) throws(Errno) {
        var fd = unlimited ? estuary_fanotify_init(1) : -1
        self.unlimited = fd >= 0
        if fd < 0 { fd = estuary_fanotify_init(0) }
        if fd < 0 { throw Errno.current }
        var ends: [Int32] = [-1, -1]
        if pipe(&ends) != 0 { let e = Errno.current; Sys.close(fd); throw e }
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC); _ = fcntl(end, F_SETFL, O_NONBLOCK) }
        self.fd = fd
        wakeRead = ends[0]; wakeWrite = ends[1]
    }

    deinit { Sys.close(fd); Sys.close(wakeRead); Sys.close(wakeWrite) }

    /// Ends the current wait in `read` and every later one at once.
    public func wake() {
        var byte: UInt8 = 1
        _ = Glibc.write(wakeWrite, &byte, 1)
    }

    /// Follows the file system holding `path`. ENODEV, EXDEV, EOPNOTSUPP and the like mean
    /// fanotify cannot report names there (NFS, FUSE, btrfs subvolumes).
    public func mark(_ path: String) throws(Errno) {
        if estuary_fanotify_mark_filesystem(fd, path, 1) != 0 { throw Errno.current }
    }

    /// What one `read` found.
    public enum Drain: Equatable {
        /// Nothing came before the timeout (or `wake` was called).
        case nothing
        /// The queue was read to its end.
        case emptied
        /// 1 MiB was read and more may be waiting.
        case more
    }

    /// Waits up to `timeout` milliseconds for events and hands each one to `body`, reading at
    /// most 1 MiB of them: under a flood the caller still gets to apply what it has. Events
    /// of process `skipping` are dropped undecoded.
    @discardableResult
    public func read(timeout: Int32, skipping: pid_t = 0, _ body: (FanotifyEvent) -> Void) -> Drain {
        var pollers = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        guard poll(&pollers, 2, timeout) > 0, pollers[1].revents == 0, pollers[0].revents & Int16(POLLIN) != 0 else { return .nothing }
        var any = false
        for _ in 0..<16 {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            guard n > 0 else { return any ? .emptied : .nothing }
            any = true
            buffer.withUnsafeBytes { raw in
                var offset = 0
                var event = estuary_fan_event()
                while estuary_fanotify_next(raw.baseAddress, n, &offset, &event) == 1 {
                    if skipping != 0 && event.pid == skipping && event.mask & ESTUARY_FAN_Q_OVERFLOW == 0 { continue }
                    body(Self.decode(event))
                }
            }
            // The kernel fills the buffer as far as whole events go (one is at most a few
            // hundred bytes): a read that left half of it empty took everything there was, and
            // asking again would only return EAGAIN.
            if n < buffer.count / 2 { return .emptied }
        }
        return .more
    }

    private static func decode(_ e: estuary_fan_event) -> FanotifyEvent {
        var places: [FanotifyEvent.Place] = []
        withUnsafeBytes(of: e.record) { raw in
            let records = raw.bindMemory(to: estuary_fan_record.self)
            for i in 0..<Int(e.records) {
                let r = records[i]
                guard let handle = r.handle, let name = r.name else { continue }
                places.append(.init(fsid: r.fsid,
                                    handle: Array(UnsafeRawBufferPointer(start: handle, count: Int(r.handle_size))),
                                    name: Array(UnsafeRawBufferPointer(start: name, count: strlen(name)))))
            }
        }
        return FanotifyEvent(overflow: e.mask & ESTUARY_FAN_Q_OVERFLOW != 0, pid: e.pid,
                             namesChanged: e.mask & ESTUARY_FAN_NAME_EVENTS != 0, places: places)
    }

    /// The id fanotify reports for the file system holding `fd` (statfs's f_fsid).
    public static func fsid(of fd: Int32) -> UInt64? {
        var fsid: UInt64 = 0
        return estuary_fsid(fd, &fsid) == 0 ? fsid : nil
    }

    /// The directory a handle names, as an absolute path, opened through `mountFD` (any
    /// descriptor on the same file system); nil when it is gone.
    public static func directoryPath(_ handle: [UInt8], mountFD: Int32) -> [UInt8]? {
        let fd = handle.withUnsafeBytes { estuary_open_by_handle(mountFD, $0.baseAddress, ESTUARY_O_PATH | O_CLOEXEC) }
        guard fd >= 0 else { return nil }
        defer { Sys.close(fd) }
        // A removed directory still opens by handle; it has no path to report.
        guard let stat = try? Sys.fstat(fd), stat.nlink > 0 else { return nil }
        return descriptorPath(fd)
    }

    /// What /proc says `fd` names.
    public static func descriptorPath(_ fd: Int32) -> [UInt8]? {
        var target = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = withCPath(Array("/proc/self/fd/\(fd)".utf8)) { p in
            target.withUnsafeMutableBytes { readlink(p, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        }
        guard n > 0, n < target.count else { return nil }
        return Array(target[..<n])
    }
}

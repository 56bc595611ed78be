import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a pool's state directory: one writer of the index at a time, whether
/// the daemon or an offline `estuary scan`. The holder's pid is written into the lock file so
/// that the refusal can say who holds it, followed by "stopping" once a daemon's mount is gone
/// and it is only finishing up, so that a new mount (`umount M && mount M`, a restart) waits
/// for it instead of failing.
public final class PoolLock: Sendable {
    private let fd: Int32

    public struct Held: Error, CustomStringConvertible {
        public var path: String
        public var holder: String
        /// The holder said it is stopping (its mount is gone).
        public var stopping: Bool
        public var description: String { "the pool is in use by process \(holder) (lock \(path))" }
    }

    public init(path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw PoolError("cannot open lock file \(path): \(Errno.current)") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let text = (try? Sys.readAll(fd, limit: 64)).map { String(decoding: $0, as: UTF8.self) } ?? ""
            close(fd)
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
            throw Held(path: path, holder: words.first.map(String.init) ?? "?", stopping: words.dropFirst().first == "stopping")
        }
        self.fd = fd
        recordHolder()
    }

    /// Takes the lock, waiting up to `seconds` while its holder is stopping (`isStopping`
    /// decides, from what the holder wrote and what the caller knows of its mount); `waiting`
    /// is called once, when the wait begins. A holder that is not stopping is refused at once.
    public static func acquire(path: String, waitingUpTo seconds: Double, isStopping: (Held) -> Bool,
                               waiting: (Held) -> Void) throws -> PoolLock {
        let deadline = monotonicSeconds() + seconds
        var announced = false
        while true {
            do { return try PoolLock(path: path) } catch let held as Held {
                guard isStopping(held), monotonicSeconds() < deadline else { throw held }
                if !announced { waiting(held); announced = true }
                usleep(20_000)
            }
        }
    }

    /// Rewrites the pid, after daemonizing changed it.
    public func recordHolder() {
        rewrite("\(getpid())\n")
    }

    /// Says the holder's mount is gone and it is only finishing up.
    public func recordStopping() {
        rewrite("\(getpid()) stopping\n")
    }

    /// Overwrites in place, then trims: a reader never finds the file empty (which would name
    /// no holder, and refuse a mount that should wait).
    private func rewrite(_ text: String) {
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        if written == bytes.count { _ = ftruncate(fd, off_t(bytes.count)) }
    }

    deinit { close(fd) }
}

/// A problem opening or using a pool, phrased for the person running the command.
public struct PoolError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

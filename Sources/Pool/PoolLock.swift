import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// An exclusive lock on a pool's state directory: one writer of the index at a time, whether
/// the daemon or an offline `estuary scan`. The holder's pid is written into the lock file so
/// that the refusal can say who holds it.
public final class PoolLock: Sendable {
    private let fd: Int32

    public struct Held: Error, CustomStringConvertible {
        public var path: String
        public var holder: String
        public var description: String { "the pool is in use by process \(holder) (lock \(path))" }
    }

    public init(path: String) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 { throw PoolError("cannot open lock file \(path): \(Errno.current)") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? Sys.readAll(fd, limit: 64)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
            close(fd)
            throw Held(path: path, holder: holder.trimmingCharacters(in: " \n").isEmpty ? "?" : holder.trimmingCharacters(in: " \n"))
        }
        self.fd = fd
        recordHolder()
    }

    /// Rewrites the pid, after daemonizing changed it.
    public func recordHolder() {
        _ = ftruncate(fd, 0)
        _ = lseek(fd, 0, SEEK_SET)
        try? Sys.writeAll(fd, Array("\(getpid())\n".utf8))
    }

    deinit { close(fd) }
}

/// A problem opening or using a pool, phrased for the person running the command.
public struct PoolError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        var s = Substring(self)
        while let f = s.first, chars.contains(f) { s.removeFirst() }
        while let l = s.last, chars.contains(l) { s.removeLast() }
        return String(s)
    }
}

import Config
import Index
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Which engine keeps a pool's index: PostgreSQL when the pool names a database (`[pool]
/// index`, `-o index=`), else SQLite's `index.db` in the state directory.
///
/// A zero-config pool has no file to hold the URI, so the daemon records the one it was
/// started with in the state directory (`index.uri`, mode 0600 like a `.pgpass`): the admin
/// tool then reads the same database while the pool is unmounted, and a later mount without
/// `-o index` does not silently start an empty SQLite index beside it.
public enum PoolIndex {
    /// The pool's PostgreSQL connection string, or nil for SQLite.
    public static func conninfo(_ config: PoolConfig) -> String? {
        if let index = config.index { return index }
        let fd = open(PoolPaths(config).indexRecord, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let recorded = try? Sys.readAll(fd, limit: 1 << 16) else { return nil }
        let text = String(decoding: recorded, as: UTF8.self).trimmingWhitespace
        return text.isEmpty ? nil : text
    }

    /// The engine the daemon (and `estuary scan`/`fsck`) opens for writing.
    public static func engine(_ config: PoolConfig) -> any IndexEngine {
        if let conninfo = conninfo(config) { return PostgresEngine(conninfo: conninfo) }
        return SQLiteEngine(path: PoolPaths(config).index)
    }

    /// The engine the admin tool reads an unmounted pool through: creates and migrates nothing.
    public static func readOnlyEngine(_ config: PoolConfig) -> any IndexEngine {
        if let conninfo = conninfo(config) { return PostgresEngine(conninfo: conninfo) }
        return SQLiteEngine(path: PoolPaths(config).index, readOnly: true)
    }

    /// Where the index lives, for messages: never with a password.
    public static func location(_ config: PoolConfig) -> String {
        conninfo(config).map(IndexLocation.redacted) ?? PoolPaths(config).index
    }

    /// Whether the index is a file that must exist before it can be read (SQLite).
    public static func isFile(_ config: PoolConfig) -> Bool { conninfo(config) == nil }

    /// Records `config.index` in the state directory (see above); a pool without one keeps
    /// whatever was recorded before.
    public static func record(_ config: PoolConfig) throws {
        guard let index = config.index else { return }
        let path = PoolPaths(config).indexRecord
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw PoolError("cannot record the index location in \(temporary): \(Errno.current)") }
        let bytes = Array((index + "\n").utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let failure = written == bytes.count ? nil : Errno.current
        close(fd)
        guard failure == nil, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw PoolError("cannot record the index location in \(path): \(failure ?? Errno.current)")
        }
    }
}

extension String {
    fileprivate var trimmingWhitespace: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\n" || c == "\t" || c == "\r" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\n" || c == "\t" || c == "\r" { s.removeLast() }
        return String(s)
    }
}

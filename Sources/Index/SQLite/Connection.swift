import CSQLite
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// One SQLite connection with its cache of prepared statements.
///
/// Thread contract: a connection is used by one thread at a time. `IndexStore` hands each out
/// exclusively (the writer behind its mutex, readers from a pool), which is why the
/// `@unchecked Sendable` is sound.
final class Connection: @unchecked Sendable {
    let db: OpaquePointer
    private var cache: [String: Statement] = [:]
    private var hot = [Statement?](repeating: nil, count: Queries.count)

    /// `cacheKiB` bounds this connection's page cache (SQLite's default is 2 MiB).
    init(path: String, readOnly: Bool = false, cacheKiB: Int = 65_536) throws(IndexError) {
        if !readOnly { try Connection.makePrivate(path) }
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite3_close_v2(handle) }
            throw SQLiteErrors.error(rc, "\(path): \(message)")
        }
        db = handle
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, 10_000)
        // No mmap in the daemon: SQLite unmaps and remaps the whole file in every connection
        // whenever another one changed it, and each munmap is a TLB shootdown across CPUs
        // (measured: one per create). A read-only connection is the admin tool's, one query in
        // one snapshot: mapped, its reads of a large index make no pread and fill no cache.
        let mapped = readOnly ? 1 << 40 : 0
        try execute("PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -\(max(1024, cacheKiB)); PRAGMA mmap_size = \(mapped)")
    }

    /// The index holds every name and tag of the pool, including those inside directories other
    /// users cannot open: it is created 0600 whatever the umask (SQLite would make it 0644, and
    /// its -wal and -shm files take the database's mode), and an older index is tightened.
    static func makePrivate(_ path: String) throws(IndexError) {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let failure = Errno.current
            throw IndexError(failure == .permissionDenied ? .permissionDenied : .unavailable, "\(path): \(failure)")
        }
        var s = stat()
        if fstat(fd, &s) == 0 && s.st_mode & 0o077 != 0 { _ = fchmod(fd, s.st_mode & 0o7700) }
        close(fd)
        for suffix in ["-wal", "-shm", "-journal"] {
            var f = stat()
            if lstat(path + suffix, &f) == 0 && f.st_mode & S_IFMT == S_IFREG && f.st_mode & 0o077 != 0 {
                _ = chmod(path + suffix, f.st_mode & 0o7700)
            }
        }
    }

    deinit {
        cache.removeAll()
        hot.removeAll()
        sqlite3_close_v2(db)
    }

    func error(_ rc: Int32) -> IndexError {
        SQLiteErrors.error(sqlite3_extended_errcode(db) != 0 ? sqlite3_extended_errcode(db) : rc, String(cString: sqlite3_errmsg(db)))
    }

    /// Runs one or more statements that return no rows.
    func execute(_ sql: String) throws(IndexError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "error"
            sqlite3_free(message)
            throw SQLiteErrors.error(rc, text)
        }
    }

    /// A cached prepared statement for `sql`, reset and ready to bind.
    func prepare(_ sql: String) throws(IndexError) -> Statement {
        if let cached = cache[sql] { return cached }
        var handle: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard rc == SQLITE_OK, let handle else { throw error(rc) }
        let statement = Statement(handle: handle, connection: self)
        cache[sql] = statement
        return statement
    }

    /// A cached prepared statement for a hot-path query, found by number.
    func prepare(_ query: Query) throws(IndexError) -> Statement {
        if let cached = hot[query.id] { return cached }
        var handle: OpaquePointer?
        let rc = sqlite3_prepare_v3(db, query.sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
        guard rc == SQLITE_OK, let handle else { throw error(rc) }
        let statement = Statement(handle: handle, connection: self)
        hot[query.id] = statement
        return statement
    }

    var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(db) }
    var changes: Int { Int(sqlite3_changes(db)) }

    /// A scalar query's first column, or nil when it returns no row.
    func scalar(_ sql: String) throws(IndexError) -> Int64? {
        let s = try prepare(sql)
        defer { s.reset() }
        return try s.step() ? s.int64(0) : nil
    }

    func textScalar(_ sql: String) throws(IndexError) -> String? {
        let s = try prepare(sql)
        defer { s.reset() }
        return try s.step() ? s.text(0) : nil
    }
}

import CSQLite

/// One SQLite connection behind the engine seam. Transaction control is here; the typed
/// queries and changes are in SQLiteReads, SQLiteWrites and SQLiteJobs.
///
/// Thread contract: as its connection's, one thread at a time (`IndexStore` hands sessions out
/// exclusively), which is why the `@unchecked Sendable` is sound.
final class SQLiteSession: IndexSession, @unchecked Sendable {
    let connection: Connection

    init(_ connection: Connection) { self.connection = connection }

    func beginRead() throws(IndexError) { try connection.execute("BEGIN") }
    func endRead() { try? connection.execute("COMMIT") }

    /// BEGIN IMMEDIATE takes the write lock now, not at the first write: a transaction that
    /// read first and then found the lock taken could not continue.
    func beginWrite() throws(IndexError) { try connection.execute("BEGIN IMMEDIATE") }
    func commit() throws(IndexError) { try connection.execute("COMMIT") }
    func rollback() { try? connection.execute("ROLLBACK") }
    var inTransaction: Bool { sqlite3_get_autocommit(connection.db) == 0 }

    func beginChange() throws(IndexError) { try connection.prepare("SAVEPOINT change").run() }

    func endChange(succeeded: Bool) throws(IndexError) {
        if !succeeded { try? connection.prepare("ROLLBACK TO change").run() }
        try connection.prepare("RELEASE change").run()
    }

    func appliedMigrations() throws(IndexError) -> [String] {
        let s = try connection.prepare("SELECT name FROM migrations ORDER BY rowid")
        defer { s.reset() }
        var names: [String] = []
        while try s.step() { names.append(s.text(0) ?? "") }
        return names
    }

    func integrityProblems() throws(IndexError) -> [String] {
        let s = try connection.prepare("PRAGMA quick_check")
        defer { s.reset() }
        var problems: [String] = []
        while try s.step() { if let t = s.text(0), t != "ok" { problems.append(t) } }
        return problems
    }
}

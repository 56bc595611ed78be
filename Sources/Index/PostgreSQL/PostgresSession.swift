import CLibPQ
#if canImport(Glibc)
import Glibc
#endif
import Syscalls

/// One PostgreSQL connection behind the engine seam. Transaction control is here; the typed
/// queries and changes are in PostgresReads, PostgresWrites and PostgresJobs.
///
/// Thread contract: as its connection's, one thread at a time (`IndexStore` hands sessions out
/// exclusively), which is why the `@unchecked Sendable` is sound.
final class PostgresSession: IndexSession, @unchecked Sendable {
    let connection: PGConnection

    init(_ connection: PGConnection) { self.connection = connection }

    /// REPEATABLE READ: every statement of the read sees the snapshot its first one took.
    func beginRead() throws(IndexError) { try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") }
    func endRead() { _ = try? connection.execute("COMMIT") }

    /// READ COMMITTED, PostgreSQL's default: a row another writer changed is waited for and
    /// then written over, as SQLite's single writer would have. Rows lock, not the database:
    /// exclusion between daemons is the pool's business, not the engine's.
    ///
    /// The transaction's id is taken with the BEGIN (same round trip; the id would be assigned
    /// at the first write anyway), for `lostCommitOutcome`.
    func beginWrite() throws(IndexError) {
        lostCommit = nil
        xact = try connection.beginWithID()
        backendPID = connection.backendPID
    }

    /// The open write transaction's id, and the server process that runs it.
    private var xact: String?
    private var backendPID: Int32 = 0
    /// A COMMIT whose answer was lost with the connection: the transaction's id and process.
    private var lostCommit: (xact: String, pid: Int32)?

    /// PostgreSQL answers COMMIT of a transaction that failed with ROLLBACK and no error: that
    /// is a failed commit here.
    func commit() throws(IndexError) {
        let failed = connection.transactionStatus == PQTRANS_INERROR
        let id = xact
        xact = nil
        let result: PGResult
        do { result = try connection.commit() } catch {
            if error.kind == .unavailable, !failed, let id { lostCommit = (id, backendPID) }
            throw error
        }
        if failed || result.command == "ROLLBACK" {
            throw IndexError(.failed, "\(connection.location): the transaction had failed and was rolled back")
        }
    }

    /// Asks a new connection what became of the transaction whose COMMIT lost its answer
    /// (`pg_xact_status`). Still in progress means its old server process has not noticed the
    /// lost connection yet (or is finishing the COMMIT): it is ended, which settles the
    /// transaction either way, and asked again.
    func lostCommitOutcome() -> CommitOutcome {
        guard let lost = lostCommit else { return .unknown }
        do throws(IndexError) {
            try connection.reconnectAfterLostCommit()
            var id = PGParams()
            id.add(lost.xact)
            for attempt in 0..<50 {
                let status = try connection.run("SELECT pg_xact_status($1::xid8)", id)
                switch status.rows == 1 ? status.text(0, 0) : nil {
                case "committed"?:
                    lostCommit = nil
                    return .committed
                case "aborted"?:
                    lostCommit = nil
                    return .notCommitted
                case "in progress"?:
                    if attempt == 0 {
                        // Only that process can be running this transaction; the check of its
                        // transaction leaves alone a process that took the pid since.
                        var p = PGParams()
                        p.add(Int64(lost.pid)); p.add(lost.xact)
                        try connection.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = $1 "
                                           + "AND backend_xid::text = ($2::xid8::text::numeric % 4294967296)::text", p)
                    }
                    usleep(20_000)
                default:
                    // Too old to be known (wraparound): nothing can tell.
                    lostCommit = nil
                    return .unknown
                }
            }
            return .unknown
        } catch {
            return .unknown
        }
    }

    func rollback() {
        connection.discardPrelude()
        _ = try? connection.execute("ROLLBACK")
    }

    var inTransaction: Bool {
        let status = connection.transactionStatus
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// A change's savepoint and its release cost no round trip of their own: both travel with
    /// the next statement (the change's first, and the next change's or the COMMIT), so a
    /// create in a batch is its two statements. A change that sent nothing drops its savepoint.
    func beginChange() throws(IndexError) { connection.sendWithNext(PostgresSession.savepoint) }

    func endChange(succeeded: Bool) throws(IndexError) {
        if connection.withdraw(PostgresSession.savepoint) { return }
        if succeeded {
            connection.sendWithNext("RELEASE SAVEPOINT change")
        } else {
            try connection.execute("ROLLBACK TO SAVEPOINT change; RELEASE SAVEPOINT change")
        }
    }

    static let savepoint = "SAVEPOINT change"

    func appliedMigrations() throws(IndexError) -> [String] {
        let r = try connection.run("SELECT name FROM migrations ORDER BY seq")
        return (0..<r.rows).map { r.text($0, 0) ?? "" }
    }

    /// PostgreSQL checks its own pages (data checksums, amcheck); what the index itself can
    /// check is that its root exists as a directory and that no name points at a missing inode.
    func integrityProblems() throws(IndexError) -> [String] {
        var problems: [String] = []
        let root = try connection.run("SELECT kind FROM entries WHERE ino = 1")
        if root.rows == 0 || root.int64(0, 0) != Int64(FileKind.directory.rawValue) { problems.append("the root directory (inode 1) is missing") }
        let dangling = try connection.run("SELECT count(*) FROM links l WHERE NOT EXISTS (SELECT 1 FROM entries e WHERE e.ino = l.ino)")
        if dangling.rows > 0 && dangling.int64(0, 0) > 0 { problems.append("\(dangling.int64(0, 0)) hard-link names refer to missing inodes") }
        return problems
    }
}

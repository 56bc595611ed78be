import CSQLite
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The pool's index: one writer connection and a pool of reader connections over one SQLite
/// database in WAL mode. Transactions are closures; SQLITE_BUSY reruns the closure.
public final class IndexStore: Sendable {
    public let path: String
    let writer: Mutex<WriterState>
    private let readers: Mutex<[Connection]>
    let batch: GroupCommit
    let presence: RowPresence

    /// Opens (creating if needed) the index at `path` and applies pending migrations.
    public init(path: String) throws(IndexError) {
        self.path = path
        let connection = try Connection(path: path)
        try connection.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 4000")
        try IndexStore.migrate(connection)
        let next = UInt64(try connection.textScalar("SELECT value FROM meta WHERE key = 'next_ino'").flatMap { UInt64($0) } ?? 2)
        presence = RowPresence(shadows: try connection.scalar("SELECT EXISTS(SELECT 1 FROM shadows)") ?? 1 != 0,
                               links: try connection.scalar("SELECT EXISTS(SELECT 1 FROM links)") ?? 1 != 0)
        writer = Mutex(WriterState(connection: connection, nextInode: next, presence: presence))
        readers = Mutex([])
        batch = GroupCommit()
    }

    /// False while the index has held no shadow row since it was opened: then no entry has
    /// hidden copies, and unlink and rename skip asking for them (a query on every call).
    public var mayHoldShadows: Bool { presence.shadows.load(ordering: .acquiring) }
    /// False while the index has held no hard-link row since it was opened: a name that is no
    /// entry's first name is then absent, without a second query (every create's lookup).
    public var mayHoldLinks: Bool { presence.links.load(ordering: .acquiring) }

    /// Names of the migrations applied to this index, oldest first.
    public func appliedMigrations() throws(IndexError) -> [String] {
        try read { tx throws(IndexError) in
            let s = try tx.connection.prepare("SELECT name FROM migrations ORDER BY rowid")
            defer { s.reset() }
            var names: [String] = []
            while try s.step() { names.append(s.text(0) ?? "") }
            return names
        }
    }

    private static func migrate(_ c: Connection) throws(IndexError) {
        try c.execute("CREATE TABLE IF NOT EXISTS migrations(name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
        for migration in Migrations.all {
            let check = try c.prepare("SELECT 1 FROM migrations WHERE name = ?")
            check.bind(1, migration.name)
            let done = try check.step()
            check.reset()
            if done { continue }
            try c.execute("BEGIN IMMEDIATE")
            do throws(IndexError) {
                try c.execute(migration.sql)
                let record = try c.prepare("INSERT INTO migrations(name, applied_at) VALUES (?, strftime('%s','now'))")
                record.bind(1, migration.name)
                try record.run()
                try c.execute("COMMIT")
            } catch {
                try? c.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs `body` in a write transaction and always rolls it back: what a change would do,
    /// without doing it (`estuary fsck` without --repair).
    public func dryRun<R>(_ body: (WriteTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        try writer.withLock { state throws(IndexError) -> R in
            try commitBatch(state)
            try state.connection.execute("BEGIN IMMEDIATE")
            defer { try? state.connection.execute("ROLLBACK") }
            return try body(WriteTransaction(state: state))
        }
    }

    /// Runs `body` in one write transaction and commits it before returning, together with any
    /// namespace changes still waiting in the group-commit batch (see `change`). A failing body
    /// leaves no trace in the index; BEGIN waits while another process holds the write lock.
    public func write<R>(_ body: (WriteTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        try writer.withLock { state throws(IndexError) -> R in
            try applyDeferred(state)
            if state.batchOpen {
                let result = try state.asChange(body)
                try commitBatch(state)
                return result
            }
            try state.begin()
            let result: R
            do throws(IndexError) {
                result = try body(WriteTransaction(state: state))
                try state.commit()
            } catch {
                state.rollback()
                throw error
            }
            return result
        }
    }

    /// Runs `body` on a reader connection inside one read transaction (a consistent snapshot).
    /// Namespace changes waiting in the group-commit batch are committed first, so the snapshot
    /// holds every change made before the call.
    public func read<R>(_ body: (ReadTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        if batch.pending.load(ordering: .acquiring) { try commitPending() }
        let connection = try takeReader()
        defer { returnReader(connection) }
        try connection.execute("BEGIN")
        defer { try? connection.execute("COMMIT") }
        return try body(ReadTransaction(connection: connection))
    }

    /// Runs `body` on a reader connection in autocommit mode: cheapest for a single statement.
    /// While namespace changes wait in the group-commit batch, the query runs on the writer
    /// connection, which sees them; a lookup right after a create finds the new entry.
    public func query<R>(_ body: (ReadTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        if batch.pending.load(ordering: .acquiring) {
            let answered = try writer.withLock { state throws(IndexError) -> R? in
                try applyDeferred(state)
                return state.batchOpen ? try body(ReadTransaction(connection: state.connection)) : nil
            }
            if let answered { return answered }
        }
        // The writer's page cache stays valid across commits (nobody else writes), while a
        // reader's is dropped whenever the index changed since its last use: an idle writer
        // answers faster. A busy one is not waited for.
        if let answered = try writer.withLockIfAvailable({ state throws(IndexError) -> R in
            try body(ReadTransaction(connection: state.connection))
        }) { return answered }
        let connection = try takeReader()
        defer { returnReader(connection) }
        return try body(ReadTransaction(connection: connection))
    }

    private func takeReader() throws(IndexError) -> Connection {
        if let c = readers.withLock({ $0.popLast() }) { return c }
        // Readers serve what the writer is too busy for; a small cache each keeps the daemon's
        // memory flat however many of them a burst of requests opened.
        return try Connection(path: path, cacheKiB: 8_192)
    }

    private func returnReader(_ c: Connection) {
        readers.withLock { if $0.count < 64 { $0.append(c) } }
    }

    /// Runs `PRAGMA quick_check`; returns the problems found (empty when sound).
    public func quickCheck() throws(IndexError) -> [String] {
        try query { tx throws(IndexError) in
            let s = try tx.connection.prepare("PRAGMA quick_check")
            defer { s.reset() }
            var problems: [String] = []
            while try s.step() { if let t = s.text(0), t != "ok" { problems.append(t) } }
            return problems
        }
    }
}

/// A read-only view of the index inside a transaction (or a single autocommit statement).
public struct ReadTransaction {
    public let connection: Connection
}

/// The writer connection and the inode counter it alone advances. Guarded by `IndexStore.writer`.
final class WriterState: @unchecked Sendable {
    let connection: Connection
    var nextInode: UInt64
    /// `next_ino` as committed: every number handed out is below it once its change commits,
    /// so numbers are never reused, even after a crash that loses the last batch.
    var reservedInode: UInt64
    /// A group-commit batch is open: `BEGIN IMMEDIATE` ran and `COMMIT` has not.
    var batchOpen = false
    var batchChanges = 0
    let presence: RowPresence

    init(connection: Connection, nextInode: UInt64, presence: RowPresence) {
        self.connection = connection; self.nextInode = nextInode; reservedInode = nextInode; self.presence = presence
    }

    /// BEGIN IMMEDIATE, retried while another process holds the write lock.
    func begin() throws(IndexError) {
        var attempt = 0
        while true {
            attempt += 1
            do throws(IndexError) { try connection.execute("BEGIN IMMEDIATE"); return }
            catch where error.isBusy && attempt < 20 { usleep(UInt32(1000 * attempt)) }
        }
    }

    /// Reserves inode numbers in steps, so a busy create path rewrites `next_ino` once per
    /// `inodeReserve` creates rather than in every transaction.
    func commit() throws(IndexError) {
        var reserved = reservedInode
        if nextInode >= reservedInode {
            reserved = nextInode + WriterState.inodeReserve
            let s = try connection.prepare("UPDATE meta SET value = ? WHERE key = 'next_ino'")
            s.bind(1, String(reserved))
            try s.run()
        }
        try connection.execute("COMMIT")
        reservedInode = reserved
        batchOpen = false
        batchChanges = 0
    }

    /// Numbers handed out in a rolled-back transaction are skipped, never handed out again.
    func rollback() {
        try? connection.execute("ROLLBACK")
        batchOpen = false
        batchChanges = 0
    }

    /// A savepoint around one change, so that a failure undoes only that change, not the
    /// batch around it.
    func beginChange() throws(IndexError) { try connection.prepare("SAVEPOINT change").run() }

    func endChange(succeeded: Bool) throws(IndexError) {
        if !succeeded { try? connection.prepare("ROLLBACK TO change").run() }
        try connection.prepare("RELEASE change").run()
    }

    /// `body` as one change inside the open transaction.
    func asChange<R>(_ body: (WriteTransaction) throws(IndexError) -> R) throws(IndexError) -> sending R {
        try beginChange()
        let result: R
        do throws(IndexError) { result = try body(WriteTransaction(state: self)) } catch {
            try? endChange(succeeded: false)
            throw error
        }
        try endChange(succeeded: true)
        return result
    }

    static let inodeReserve: UInt64 = 4096
}

/// Whether the shadows and links tables may hold rows. Each is set before such a row is
/// written and never cleared while the store is open, so "false" is always true. The daemon
/// is the index's only writer while it runs (the pool lock), so no row appears unseen.
final class RowPresence: Sendable {
    let shadows: Atomic<Bool>
    let links: Atomic<Bool>
    init(shadows: Bool, links: Bool) { self.shadows = Atomic(shadows); self.links = Atomic(links) }
}

/// A writable view of the index inside `IndexStore.write`.
public struct WriteTransaction {
    let state: WriterState
    public var connection: Connection { state.connection }
    public var reader: ReadTransaction { ReadTransaction(connection: state.connection) }

    /// A fresh inode number, never handed out before in this pool.
    public func allocateInode() -> UInt64 {
        let ino = state.nextInode
        state.nextInode += 1
        return ino
    }
}

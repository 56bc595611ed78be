import CSQLite

/// The embedded engine: one SQLite database file in WAL mode. The default for every pool.
public struct SQLiteEngine: IndexEngine {
    public let path: String
    /// Opened read-only: no schema changes, no writes, and a missing file is `.unavailable`
    /// (the admin CLI reading a pool's index while a daemon may be writing it).
    public let readOnly: Bool
    let schema: [(name: String, sql: String)]

    public init(path: String, readOnly: Bool = false) {
        self.init(path: path, readOnly: readOnly, schema: SQLiteMigrations.all)
    }

    /// An engine applying `schema` instead of this build's migrations (tests: an index written
    /// by a newer build).
    init(path: String, readOnly: Bool = false, schema: [(name: String, sql: String)]) {
        self.path = path; self.readOnly = readOnly; self.schema = schema
    }

    public var location: String { path }
    public var migrations: [String] { schema.map(\.name) }

    public func openWriter() throws(IndexError) -> any IndexSession {
        let connection = try Connection(path: path, readOnly: readOnly)
        if !readOnly {
            try connection.execute("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 4000")
            try migrate(connection)
        }
        try checkVersion(connection)
        return SQLiteSession(connection)
    }

    public func openReader() throws(IndexError) -> any IndexSession {
        // Readers serve what the writer is too busy for; a small cache each keeps the daemon's
        // memory flat however many of them a burst of requests opened.
        let connection = try Connection(path: path, readOnly: readOnly, cacheKiB: 8_192)
        // A read-only engine opens no writer that would have checked the schema version.
        if readOnly { try checkVersion(connection) }
        return SQLiteSession(connection)
    }

    private func migrate(_ c: Connection) throws(IndexError) {
        try c.execute("CREATE TABLE IF NOT EXISTS migrations(name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
        for migration in schema {
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

    /// A migration applied to the index that this build does not know means a newer Estuary
    /// changed the schema: this one could misread or damage it, so it refuses to open it.
    private func checkVersion(_ c: Connection) throws(IndexError) {
        let known = Set(migrations)
        let applied = try SQLiteSession(c).appliedMigrations()
        if let unknown = applied.first(where: { !known.contains($0) }) {
            throw IndexError(.versionMismatch, """
                \(path): the index has schema migration '\(unknown)', which this build of Estuary does not know: \
                it was written by a newer version; use that version (or rebuild the index with `estuary scan`)
                """)
        }
    }
}

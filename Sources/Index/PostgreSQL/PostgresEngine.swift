import CLibPQ

/// The server engine: the index in a PostgreSQL database, reached through libpq, so several
/// hosts can share one namespace. One blocking connection per session.
///
/// The connection string is a `postgresql://` URI or libpq keywords; the password comes from
/// it or from `PGPASSFILE`/`~/.pgpass` (libpq reads those itself). `location` never shows it.
public struct PostgresEngine: IndexEngine {
    let conninfo: String
    public let location: String
    let schema: [(name: String, sql: String)]

    public init(conninfo: String) {
        self.init(conninfo: conninfo, schema: PGMigrations.all)
    }

    /// An engine applying `schema` instead of this build's migrations (tests: an index written
    /// by a newer build).
    init(conninfo: String, schema: [(name: String, sql: String)], fault: PGCommitFault? = PGCommitFault.fromEnvironment) {
        self.conninfo = conninfo; self.schema = schema; self.fault = fault
        location = PostgresEngine.withoutPassword(conninfo)
    }

    public var migrations: [String] { schema.map(\.name) }

    /// The test knob losing COMMIT answers (PGCommitFault): from the environment, or given.
    let fault: PGCommitFault?

    func connect() throws(IndexError) -> PGConnection { try PGConnection(conninfo: conninfo, location: location, fault: fault) }

    public func openWriter() throws(IndexError) -> any IndexSession {
        let connection = try connect()
        try refuseForeignDatabase(connection)
        try migrate(connection)
        try checkVersion(connection)
        return PostgresSession(connection)
    }

    /// Checks the schema version too: a reader (the admin tool on an unmounted pool) must not
    /// read an index a newer build wrote, nor a database holding none.
    public func openReader() throws(IndexError) -> any IndexSession {
        let connection = try connect()
        guard try hasMigrationsTable(connection) else {
            throw IndexError(.notFound, "\(location): the database holds no Estuary index yet (mount the pool to create it)")
        }
        try checkVersion(connection)
        return PostgresSession(connection)
    }

    private func hasMigrationsTable(_ c: PGConnection) throws(IndexError) -> Bool {
        try c.run("SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'migrations'").rows > 0
    }

    /// A database that already has tables but no `migrations` table belongs to something else
    /// (a wrong database name in the URI): creating the index beside its tables could collide
    /// with them or confuse its owner, so it is refused, naming the tables found.
    private func refuseForeignDatabase(_ c: PGConnection) throws(IndexError) {
        guard try !hasMigrationsTable(c) else { return }
        let tables = try c.run("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename LIMIT 4")
        guard tables.rows > 0 else { return }
        let names = (0..<min(tables.rows, 3)).compactMap { tables.text($0, 0) }
        throw IndexError(.invalid, """
            \(location): the database holds tables that are not an Estuary index (\(names.joined(separator: ", "))\
            \(tables.rows > 3 ? ", ..." : "")); name an empty database or one an Estuary pool created
            """)
    }

    /// Several daemons (nodes) may mount one pool on one PostgreSQL index.
    public var isShared: Bool { true }

    public func openListener() throws(IndexError) -> (any IndexListener)? {
        try PGListener(try PGConnection(conninfo: conninfo, location: location))
    }

    /// Any constant key shared by every Estuary build: migrations of one database serialise on it.
    static let migrationLock: Int64 = 0x4573_7475_6172_7931   // "Estuary1"

    /// Each migration in its own transaction with its `migrations` row, under a transaction
    /// advisory lock: two daemons starting at once apply each migration once, the second
    /// waiting for the first and then finding it done.
    private func migrate(_ c: PGConnection) throws(IndexError) {
        try inLockedTransaction(c) { () throws(IndexError) in
            try c.execute("""
                CREATE TABLE IF NOT EXISTS migrations(seq bigserial PRIMARY KEY, name text NOT NULL UNIQUE, applied_at bigint NOT NULL)
                """)
        }
        for migration in schema {
            try inLockedTransaction(c) { () throws(IndexError) in
                var check = PGParams()
                check.add(migration.name)
                guard try c.run("SELECT 1 FROM migrations WHERE name = $1", check).rows == 0 else { return }
                try c.execute(migration.sql)
                try c.run("INSERT INTO migrations(name, applied_at) VALUES ($1, extract(epoch from now())::bigint)", check)
            }
        }
    }

    private func inLockedTransaction(_ c: PGConnection, _ body: () throws(IndexError) -> Void) throws(IndexError) {
        try c.execute("BEGIN")
        do throws(IndexError) {
            var key = PGParams()
            key.add(PostgresEngine.migrationLock)
            try c.run("SELECT pg_advisory_xact_lock($1)", key)
            try body()
            try c.execute("COMMIT")
        } catch {
            _ = try? c.execute("ROLLBACK")
            throw error
        }
    }

    /// A migration applied to the index that this build does not know means a newer Estuary
    /// changed the schema: this one could misread or damage it, so it refuses to open it.
    private func checkVersion(_ c: PGConnection) throws(IndexError) {
        let known = Set(migrations)
        let applied = try PostgresSession(c).appliedMigrations()
        if let unknown = applied.first(where: { !known.contains($0) }) {
            throw IndexError(.versionMismatch, """
                \(location): the index has schema migration '\(unknown)', which this build of Estuary does not know: \
                it was written by a newer version; use that version
                """)
        }
    }

    /// The connection string for messages: a URI's `user:password@` loses the password, and a
    /// `password=` parameter (URI query or keyword form) is dropped.
    static func withoutPassword(_ conninfo: String) -> String {
        var text = conninfo
        if text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") {
            let start = text.index(text.firstIndex(of: ":")!, offsetBy: 3)
            let authorityEnd = text[start...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? text.endIndex
            if let at = text[start..<authorityEnd].lastIndex(of: "@"),
               let colon = text[start..<at].firstIndex(of: ":") {
                text.removeSubrange(colon..<at)
            }
            if let query = text.firstIndex(of: "?") {
                let kept = text[text.index(after: query)...].split(separator: "&").filter { !$0.lowercased().hasPrefix("password=") }
                text = String(text[..<query]) + (kept.isEmpty ? "" : "?" + kept.joined(separator: "&"))
            }
            return text
        }
        // Keyword form: drop `password=value` or `password = 'quoted value'`.
        guard let options = PQconninfoParse(conninfo, nil) else { return "(unparsable connection string)" }
        defer { PQconninfoFree(options) }
        var parts: [String] = []
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val, String(cString: keyword) != "password" {
                parts.append("\(String(cString: keyword))=\(String(cString: value))")
            }
            option += 1
        }
        return parts.joined(separator: " ")
    }
}

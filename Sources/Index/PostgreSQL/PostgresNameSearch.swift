import Syscalls

/// Name searches for `estuary find` (see SQLiteNameSearch): bytea comparisons are byte order,
/// so exact names and prefixes seek `entries_by_leaf` / `links_by_leaf`.
extension PostgresSession {
    private static func condition(_ match: NameMatch, column: String) -> String {
        switch match {
        case .exact: "\(column) = $1"
        case .prefix(let bytes): NameMatch.upperBound(ofPrefix: bytes) == nil ? "\(column) >= $1" : "\(column) >= $1 AND \(column) < $2"
        case .suffix:
            "octet_length(\(column)) >= octet_length($1) AND substring(\(column) from (octet_length(\(column)) - octet_length($1) + 1)::int) = $1"
        case .contains: "position($1 in \(column)) > 0"
        }
    }

    private static func params(_ match: NameMatch) -> PGParams {
        var p = PGParams()
        switch match {
        case .exact(let bytes), .suffix(let bytes), .contains(let bytes): p.add(bytes: bytes)
        case .prefix(let bytes):
            p.add(bytes: bytes)
            if let upper = NameMatch.upperBound(ofPrefix: bytes) { p.add(bytes: upper) }
        }
        return p
    }

    func entries(named match: NameMatch) throws(IndexError) -> [EntryRow] {
        var condition = Self.condition(match, column: "name")
        var params = Self.params(match)
        if case .suffix(let bytes) = match, bytes.count >= NameMatch.tailLength {
            // Written as in entries_by_tail, so the planner can seek it.
            condition = "substring(name from greatest(octet_length(name) - \(NameMatch.tailLength - 1), 1)) = $2 AND " + condition
            params.add(bytes: bytes.suffix(NameMatch.tailLength))
        }
        return try connection.run("SELECT \(pgEntryColumns) FROM entries WHERE \(condition)", params).entryRows
    }

    func linkRows(named match: NameMatch) throws(IndexError) -> [EntryRow] {
        let r = try connection.run("""
            SELECT l.parent, l.name, \(pgJoinedEntryColumns) FROM links l JOIN entries e ON e.ino = l.ino
            WHERE \(Self.condition(match, column: "l.name"))
            """, Self.params(match))
        return (0..<r.rows).map { i in
            var row = r.entryRow(i, base: 2)
            row.parent = r.ino(i, 0); row.name = r.bytes(i, 1)
            return row
        }
    }

    func forEachEntry(directoriesAnd filter: RowFilter, _ body: (EntryRow) -> Void) throws(IndexError) {
        let (condition, values) = filter.sql(first: 1, placeholder: "$")
        var p = PGParams()
        for value in values { p.add(value) }
        let r = try connection.run("SELECT \(pgEntryColumns) FROM entries WHERE kind = \(FileKind.directory.rawValue) OR (\(condition)) ORDER BY ino", p)
        for i in 0..<r.rows { body(r.entryRow(i)) }
    }
}

extension PostgresSession {
    /// Counts only valid indexes: a concurrent build that failed or is still running leaves
    /// its index in the catalog, marked invalid, and the planner does not use it.
    func hasSearchIndexes() throws(IndexError) -> Bool {
        try validSearchIndexes().count == PGMigrations.searchIndexNames.count
    }

    private static var searchIndexList: String { PGMigrations.searchIndexNames.map { "'\($0)'" }.joined(separator: ", ") }

    private func validSearchIndexes() throws(IndexError) -> Set<String> {
        let r = try connection.run("""
            SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
            JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = current_schema() AND c.relname IN (\(Self.searchIndexList)) AND i.indisvalid
            """)
        var valid = Set<String>()
        for i in 0..<r.rows { if let name = r.text(i, 0) { valid.insert(name) } }
        return valid
    }

    /// CREATE INDEX CONCURRENTLY: other nodes go on writing entries meanwhile (a plain build
    /// holds every write to the table up until it ends). An invalid index left by an
    /// interrupted concurrent build is dropped and built again; one that another node is
    /// building now is left to it (IF NOT EXISTS) and turns valid when that build ends.
    func buildSearchIndexesBesideWriters() throws(IndexError) -> Bool {
        let valid = try validSearchIndexes()
        let running = try connection.run("""
            SELECT count(*) FROM pg_stat_progress_create_index p JOIN pg_class c ON c.oid = p.index_relid
            WHERE c.relname IN (\(Self.searchIndexList))
            """)
        let beingBuilt = running.rows > 0 && running.int64(0, 0) > 0
        for (name, sql) in zip(PGMigrations.searchIndexNames, PGMigrations.searchIndexes) where !valid.contains(name) {
            if !beingBuilt { _ = try connection.run("DROP INDEX CONCURRENTLY IF EXISTS \(name)") }
            _ = try connection.run("CREATE INDEX CONCURRENTLY" + sql.dropFirst("CREATE INDEX".count))
        }
        return true
    }

    func setSearchIndexes(_ present: Bool) throws(IndexError) {
        if present {
            for sql in PGMigrations.searchIndexes { _ = try connection.run(sql) }
            return
        }
        for name in PGMigrations.searchIndexNames { _ = try connection.run("DROP INDEX IF EXISTS \(name)") }
    }
}

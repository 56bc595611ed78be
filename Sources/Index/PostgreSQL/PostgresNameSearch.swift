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
    func hasSearchIndexes() throws(IndexError) -> Bool {
        let names = PGMigrations.searchIndexNames.map { "'\($0)'" }.joined(separator: ", ")
        let r = try connection.run("SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema() AND indexname IN (\(names))")
        return r.rows > 0 && r.int64(0, 0) == Int64(PGMigrations.searchIndexNames.count)
    }

    func setSearchIndexes(_ present: Bool) throws(IndexError) {
        if present {
            for sql in PGMigrations.searchIndexes { _ = try connection.run(sql) }
            return
        }
        for name in PGMigrations.searchIndexNames { _ = try connection.run("DROP INDEX IF EXISTS \(name)") }
    }
}

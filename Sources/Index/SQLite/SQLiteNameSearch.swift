import Syscalls

/// Name searches for `estuary find`. Exact names and prefixes seek `entries_by_leaf` /
/// `links_by_leaf`; a suffix or a substring is tested on the keys of a covering name index
/// (a scan of short keys, not of whole rows) and only the inodes that pass are fetched.
/// BLOB semantics throughout: `=`, `<`, `substr` and `instr` work on bytes, as names are.
extension SQLiteSession {
    /// The condition on `column` for `match`, with `?1` its bytes and `?2` its upper bound
    /// (prefix) or length (suffix).
    private static func condition(_ match: NameMatch, column: String) -> String {
        switch match {
        case .exact: "\(column) = ?1"
        case .prefix(let bytes): NameMatch.upperBound(ofPrefix: bytes) == nil ? "\(column) >= ?1" : "\(column) >= ?1 AND \(column) < ?2"
        case .suffix: "(?2 = 0 OR substr(\(column), -?2) = ?1)"
        case .contains: "instr(\(column), ?1) > 0"
        }
    }

    private static func bind(_ s: Statement, _ match: NameMatch) {
        switch match {
        case .exact(let bytes), .contains(let bytes): s.bind(1, blob: bytes)
        case .prefix(let bytes):
            s.bind(1, blob: bytes)
            if let upper = NameMatch.upperBound(ofPrefix: bytes) { s.bind(2, blob: upper) }
        case .suffix(let bytes): s.bind(1, blob: bytes).bind(2, bytes.count)
        }
    }

    func entries(named match: NameMatch) throws(IndexError) -> [EntryRow] {
        let sql: String
        switch match {
        case .exact, .prefix: sql = "SELECT \(entryColumns) FROM entries WHERE \(Self.condition(match, column: "name"))"
        case .suffix(let bytes) where bytes.count >= NameMatch.tailLength:
            // The expression must be written as in the index (entries_by_tail) for SQLite to seek it.
            sql = "SELECT \(entryColumns) FROM entries WHERE substr(name, -\(NameMatch.tailLength)) = ?3 AND \(Self.condition(match, column: "name"))"
        case .suffix, .contains:
            sql = "SELECT \(entryColumns) FROM entries WHERE ino IN (SELECT ino FROM entries WHERE \(Self.condition(match, column: "name")))"
        }
        let s = try connection.prepare(sql)
        defer { s.reset() }
        Self.bind(s, match)
        if case .suffix(let bytes) = match, bytes.count >= NameMatch.tailLength { s.bind(3, blob: bytes.suffix(NameMatch.tailLength)) }
        var rows: [EntryRow] = []
        while try s.step() { rows.append(s.entryRow()) }
        return rows
    }

    func linkRows(named match: NameMatch) throws(IndexError) -> [EntryRow] {
        let s = try connection.prepare("""
            SELECT l.parent, l.name, \(joinedEntryColumns) FROM links l JOIN entries e ON e.ino = l.ino
            WHERE \(Self.condition(match, column: "l.name"))
            """)
        defer { s.reset() }
        Self.bind(s, match)
        var rows: [EntryRow] = []
        while try s.step() {
            var row = s.entryRow(base: 2)
            row.parent = s.ino(0); row.name = s.blob(1)
            rows.append(row)
        }
        return rows
    }

    func forEachEntry(directoriesAnd filter: RowFilter, _ body: (EntryRow) -> Void) throws(IndexError) {
        let (condition, values) = filter.sql(first: 1, placeholder: "?")
        let s = try connection.prepare("SELECT \(entryColumns) FROM entries WHERE kind = \(FileKind.directory.rawValue) OR (\(condition))")
        defer { s.reset() }
        for (i, value) in values.enumerated() { s.bind(Int32(i + 1), value) }
        while try s.step() { body(s.entryRow()) }
    }
}

extension SQLiteSession {
    func hasSearchIndexes() throws(IndexError) -> Bool {
        let names = SQLiteMigrations.searchIndexNames.map { "'\($0)'" }.joined(separator: ", ")
        return try connection.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN (\(names))") == Int64(SQLiteMigrations.searchIndexNames.count)
    }

    /// SQLite builds an index only inside a write transaction, which holds every writer up.
    func buildSearchIndexesBesideWriters() throws(IndexError) -> Bool { false }

    func setSearchIndexes(_ present: Bool) throws(IndexError) {
        if present { try connection.execute(SQLiteMigrations.searchIndexes); return }
        for name in SQLiteMigrations.searchIndexNames { try connection.execute("DROP INDEX IF EXISTS \(name)") }
    }
}

import Index

/// How `find` reaches its candidates, cheapest first: a few tagged inodes (the tag index),
/// else the name test the expression requires (the name index), else a walk of every entry
/// below the start. Each path visits the same names in the same order; the row tests and the
/// expression are applied to whatever comes.
enum FindPlanner {
    /// Tag candidates up to this many are placed by inode even when a name test is known.
    static let fewTagged = 4096

    static func visit(_ tx: ReadTransaction, scope: QueryScope, start: EntryRow, filter: CompiledFilter,
                      _ body: (NamespaceEntry) throws -> Void) throws {
        let plan = filter.objective?.namePlan ?? NamePlan()
        var root = start
        if let below = plan.below {
            // Every match lies strictly below `below`: start there when it is inside the start
            // directory; when it is neither inside nor around it, nothing can match.
            if QueryScope.isWithin(below, scope.relativeRoot) {
                guard let narrowed = try tx.resolve(path: below), narrowed.kind == .directory else { return }
                root = narrowed
            } else if !QueryScope.isWithin(scope.relativeRoot, below) {
                return
            }
        }
        let includeRoot = root.ino == start.ino
        // An expression that never reads the path is tried on the row, before a path is built
        // or the row is kept for sorting; what passes is evaluated again, with its path, later
        // (where a tag read failing here is reported).
        let objective = filter.objective.flatMap { $0.needsPath ? nil : $0 }
        let rowFilter = filter
        let matches = { (row: EntryRow) -> Bool in
            guard rowFilter.matches(row) else { return false }
            guard let objective else { return true }
            return (try? objective.matches(NamespaceEntry(path: [], row: row), tx)) ?? true
        }
        if let candidates = filter.candidates, candidates.count <= fewTagged || plan.names == nil {
            return try tx.walk(under: root.ino, includeRoot: includeRoot, only: candidates, matching: matches, body)
        }
        // A name search reads every entry with the name wherever it is: below a known
        // directory, only an exact name is surely fewer than the entries there. Until the
        // daemon has built the name indexes after a first scan, the rows are read instead.
        if let names = plan.names, plan.below == nil || { if case .exact = names { true } else { false } }(),
           try tx.hasSearchIndexes() {
            return try tx.search(under: root.ino, includeRoot: includeRoot, names: names, matching: matches, body)
        }
        let rowTest = { (row: EntryRow) in (plan.names?.holds(row.name) ?? true) && matches(row) }
        if root.ino == 1 {
            // The whole pool: one pass over the table, the engine skipping what the bounds exclude.
            var rows = plan.rows
            if let kind = filter.kind { rows.kind = kind }
            rows.narrow(sizeAbove: filter.largerThan, sizeBelow: filter.smallerThan,
                        mtimeBeforeNs: filter.mtimeBeforeNs, mtimeAfterNs: filter.mtimeAfterNs)
            return try tx.scan(under: 1, includeRoot: includeRoot, filter: rows, matching: rowTest, body)
        }
        try tx.walk(under: root.ino, includeRoot: includeRoot, matching: rowTest, body)
    }
}

extension QueryScope {
    /// Whether the pool-relative path `inner` is `outer` or below it ("" is the root).
    static func isWithin(_ inner: [UInt8], _ outer: [UInt8]) -> Bool {
        outer.isEmpty || inner == outer || (inner.count > outer.count && inner.starts(with: outer) && inner[outer.count] == UInt8(ascii: "/"))
    }
}

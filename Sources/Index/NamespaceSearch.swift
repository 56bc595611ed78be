/// Name searches: `estuary find` with a name test the index can answer (an exact name, a
/// literal prefix, a suffix, a substring) reads only the entries that pass it, then builds
/// their paths from their parents; the tree is not walked.
extension ReadTransaction {
    /// Visits every name below `root` (and `root` itself with `includeRoot`) that passes
    /// `names`, in the order of `walk`. First names come from the name index, hard-link names
    /// from the links' one (unless `links` is false). `matching` is the cheap row test of
    /// `walk`; what it rejects costs no path.
    public func search(under root: UInt64, includeRoot: Bool = false, names: NameMatch, links: Bool = true,
                       matching: (EntryRow) -> Bool = { _ in true },
                       _ visit: (NamespaceEntry) throws -> Void) throws {
        guard let rootRow = try entry(root), let rootPath = try path(of: root) else { return }
        var rows: [(row: EntryRow, isLink: Bool)] = []
        for row in try session.entries(named: names) where names.holds(row.name) && matching(row) {
            rows.append((row, false))
        }
        if links, try session.hasAnyLinks() {
            for row in try session.linkRows(named: names) where names.holds(row.name) && matching(row) {
                rows.append((row, true))
            }
        }
        try visitRows(rows, root: rootRow, rootPath: rootPath, includeRoot: includeRoot, matching: { _ in true }, visit)
    }

    /// `walk` as one pass over the table instead of a query per directory: every directory is
    /// read (for the paths), other entries only when they pass `filter`, which the engine
    /// applies; `matching` then tests the row. Paths are built from the directories in memory
    /// and the matches sorted into walk order, so memory grows with the directories and the
    /// matches (not with the entries). For queries over the whole pool, or most of it.
    public func scan(under root: UInt64, includeRoot: Bool = false, filter: RowFilter = RowFilter(), links: Bool = true,
                     matching: (EntryRow) -> Bool = { _ in true },
                     _ visit: (NamespaceEntry) throws -> Void) throws {
        guard let rootRow = try entry(root), let rootPath = try path(of: root) else { return }
        var directories: [UInt64: (parent: UInt64, name: [UInt8])] = [:]
        var rows: [(row: EntryRow, isLink: Bool)] = []
        try session.forEachEntry(directoriesAnd: filter) { row in
            if row.kind == .directory { directories[row.ino] = (row.parent, row.name) }
            if filter.holds(row) && matching(row) { rows.append((row, false)) }
        }
        if links, try session.hasAnyLinks() {
            for row in try session.linkRows(named: .prefix([])) where filter.holds(row) && matching(row) { rows.append((row, true)) }
        }
        try visitRows(rows, root: rootRow, rootPath: rootPath, includeRoot: includeRoot, known: directories,
                      matching: { _ in true }, visit)
    }
}

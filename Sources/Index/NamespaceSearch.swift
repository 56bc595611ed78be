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
}

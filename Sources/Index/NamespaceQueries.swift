import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// One name met by a namespace query: the path relative to the pool root (no leading slash,
/// "" for the root itself) and the inode's row. For an extra hard-link name, `row.parent` and
/// `row.name` are the link's and `isLinkName` is true.
public struct NamespaceEntry: Sendable {
    public var path: [UInt8]
    public var row: EntryRow
    public var isLinkName: Bool

    public init(path: [UInt8], row: EntryRow, isLinkName: Bool = false) {
        self.path = path; self.row = row; self.isLinkName = isLinkName
    }
}

/// Read-only queries over the whole namespace for `estuary find`, `du` and `tag`: walks that
/// stream entries (nothing proportional to the tree is held), and tag lookups through the
/// `xattrs_by_name` index.
extension ReadTransaction {
    /// Resolves a path relative to the pool root ("a/b/c", empty or "/" for the root) to its
    /// entry, following first names and hard links. Nil when a component is missing.
    public func resolve(path: some Collection<UInt8>) throws(IndexError) -> EntryRow? {
        var current = try entry(1)
        for component in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true) {
            guard let directory = current, directory.kind == .directory else { return nil }
            if component.elementsEqual([UInt8(ascii: ".")]) { continue }
            if component.elementsEqual([UInt8(ascii: "."), UInt8(ascii: ".")]) {
                current = try entry(directory.ino == 1 ? 1 : directory.parent)
                continue
            }
            current = try entry(parent: directory.ino, name: Array(component))
        }
        return current
    }

    /// Visits every name below the directory `root` (and `root` itself with `includeRoot`),
    /// depth first, each directory's names in byte order, a directory before its contents,
    /// which is the order of `find` with sorted directories. Hard-link names are visited too
    /// (flagged) unless `links` is false.
    ///
    /// With `only`, just those inodes are visited (in the same order). When they are few
    /// against the whole index (a tag filter, typically) their paths are resolved upward
    /// through their parents instead of walking the tree, which costs per match, not per entry.
    ///
    /// `matching`, a cheap test of the row alone, is applied before a path is built; directories
    /// that fail it are still descended into.
    ///
    /// Memory is bounded by the depth of the tree times the widest directory on the way down
    /// (with `only` resolved upward: by the matches, which are few by then).
    public func walk(under root: UInt64, includeRoot: Bool = false, only: Set<UInt64>? = nil, links: Bool = true,
                     matching: (EntryRow) -> Bool = { _ in true },
                     _ visit: (NamespaceEntry) throws -> Void) throws {
        guard let rootRow = try entry(root) else { return }
        guard let rootPath = try path(of: root) else { return }
        let hasLinks = try links && session.hasAnyLinks()
        if let only {
            let total = try session.maxInode()
            if only.count <= 4096 || UInt64(only.count) * 8 < total {
                return try visitResolved(only, root: rootRow, rootPath: rootPath, includeRoot: includeRoot, links: hasLinks,
                                         matching: matching, visit)
            }
        }
        if includeRoot && (only?.contains(root) ?? true) && matching(rootRow) { try visit(NamespaceEntry(path: rootPath, row: rootRow)) }
        guard rootRow.kind == .directory else { return }
        try walkTree(rootRow.ino, rootPath: rootPath, only: only, links: hasLinks, matching: matching, visit)
    }

    private struct Frame {
        var children: [(row: EntryRow, isLink: Bool)]
        var next = 0
        var prefix: [UInt8]   // the directory's path with a trailing slash ("" for the pool root)
    }

    private func walkTree(_ root: UInt64, rootPath: [UInt8], only: Set<UInt64>?, links: Bool, matching: (EntryRow) -> Bool,
                          _ visit: (NamespaceEntry) throws -> Void) throws {
        func children(of directory: UInt64) throws(IndexError) -> [(row: EntryRow, isLink: Bool)] {
            let rows = try session.firstNameRows(in: directory).map { (row: $0, isLink: false) }
            guard links else { return rows }
            let extra = try session.linkRows(in: directory).map { (row: $0, isLink: true) }
            if extra.isEmpty { return rows }
            return (rows + extra).sorted { $0.row.name.lexicographicallyPrecedes($1.row.name) }
        }

        func prefix(_ path: [UInt8]) -> [UInt8] { path.isEmpty ? [] : path + [UInt8(ascii: "/")] }

        var stack = [Frame(children: try children(of: root), prefix: prefix(rootPath))]
        stack.reserveCapacity(64)
        while !stack.isEmpty {
            let top = stack.count - 1
            guard stack[top].next < stack[top].children.count else { stack.removeLast(); continue }
            let (row, isLink) = stack[top].children[stack[top].next]
            stack[top].next += 1
            let wanted = (only?.contains(row.ino) ?? true) && matching(row)
            // A directory has one name: a link row for one would be a loop, so only first names descend.
            let descend = row.kind == .directory && !isLink && stack.count < 4096
            guard wanted || descend else { continue }
            let path = stack[top].prefix + row.name
            if wanted { try visit(NamespaceEntry(path: path, row: row, isLinkName: isLink)) }
            if descend { stack.append(Frame(children: try children(of: row.ino), prefix: prefix(path))) }
        }
    }

    /// `walk(only:)` for a few inodes: each one's row is read by inode, then placed as `visitRows` does.
    private func visitResolved(_ inodes: Set<UInt64>, root: EntryRow, rootPath: [UInt8], includeRoot: Bool, links: Bool,
                               matching: (EntryRow) -> Bool, _ visit: (NamespaceEntry) throws -> Void) throws {
        // In inode order: neighbours in the table, and their parents, share pages.
        var rows = try session.entries(inodes: inodes.sorted()).map { (row: $0, isLink: false) }
        if links {
            for link in try session.allLinks() where inodes.contains(link.ino) {
                guard var row = try entry(link.ino) else { continue }
                row.parent = link.parent; row.name = link.name
                rows.append((row, true))
            }
        }
        try visitRows(rows, root: root, rootPath: rootPath, includeRoot: includeRoot, matching: matching, visit)
    }

    /// Visits `rows` (names found some other way than walking: by inode, by name) that lie
    /// below `root`, in walk order. Each one's path is built from its parents, directory paths
    /// cached, so the cost is a read per distinct directory, not per row.
    /// With `known` (every directory's parent and name, read beforehand), no directory is read.
    func visitRows(_ rows: [(row: EntryRow, isLink: Bool)], root: EntryRow, rootPath: [UInt8], includeRoot: Bool,
                   known: [UInt64: (parent: UInt64, name: [UInt8])]? = nil,
                   matching: (EntryRow) -> Bool, _ visit: (NamespaceEntry) throws -> Void) throws {
        // Directory inode -> its path when it is `root` or below it, nil when outside.
        var directories: [UInt64: [UInt8]?] = [root.ino: rootPath]
        let matched = rows.filter { matching($0.row) }
        let known = try known ?? ancestors(of: matched.map(\.row.parent), stoppingAt: root.ino)

        func directoryPath(_ ino: UInt64) -> [UInt8]? {
            var chain: [(ino: UInt64, name: [UInt8])] = []
            var current = ino
            var found: [UInt8]??
            while true {
                if let cached = directories[current] { found = cached; break }
                guard current != 1, chain.count < 4096, let link = known[current] else {
                    found = .some(nil); break
                }
                chain.append((current, link.name))
                current = link.parent
            }
            var path = found!
            for link in chain.reversed() {
                path = path.map { $0.isEmpty ? link.name : $0 + [UInt8(ascii: "/")] + link.name }
                directories[link.ino] = .some(path)
            }
            return path
        }

        var found: [NamespaceEntry] = []
        for (row, isLink) in matched {
            if row.ino == root.ino && !isLink {
                if includeRoot { found.append(NamespaceEntry(path: rootPath, row: row)) }
                continue
            }
            guard row.ino != 1, let parentPath = directoryPath(row.parent) else { continue }
            let path = parentPath.isEmpty ? row.name : parentPath + [UInt8(ascii: "/")] + row.name
            found.append(NamespaceEntry(path: path, row: row, isLinkName: isLink))
        }
        // Walk order: byte order with "/" below every other byte (names hold neither "/" nor NUL).
        let keys = found.map { entry in entry.path.map { $0 == UInt8(ascii: "/") ? 0 : $0 } }
        let order = keys.indices.sorted { a, b in
            keys[a].withUnsafeBufferPointer { x in keys[b].withUnsafeBufferPointer { y in
                let n = min(x.count, y.count)
                let c = n == 0 ? 0 : memcmp(x.baseAddress!, y.baseAddress!, n)
                return c != 0 ? c < 0 : x.count < y.count
            } }
        }
        for i in order { try visit(found[i]) }
    }

    /// Every directory from `parents` up to `stop` (or the pool root): its parent and name,
    /// read a level at a time, a statement per few hundred directories instead of one each.
    private func ancestors(of parents: some Sequence<UInt64>, stoppingAt stop: UInt64) throws(IndexError) -> [UInt64: (parent: UInt64, name: [UInt8])] {
        var known: [UInt64: (parent: UInt64, name: [UInt8])] = [:]
        var level = Set(parents)
        level.remove(stop); level.remove(1)
        for _ in 0..<4096 where !level.isEmpty {
            var next = Set<UInt64>()
            for row in try session.entries(inodes: level.sorted()) where row.kind == .directory {
                known[row.ino] = (row.parent, row.name)
                if row.parent != stop && row.parent != 1 && known[row.parent] == nil { next.insert(row.parent) }
            }
            level = next
        }
        return known
    }
}

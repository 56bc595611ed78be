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
    /// Opens the index at `path` read-only (no migrations, no writes; a running daemon may keep
    /// writing meanwhile) and runs `body` inside one read transaction: a consistent snapshot.
    public static func readOnly<R>(path: String, _ body: (ReadTransaction) throws -> R) throws -> R {
        let connection = try Connection(path: path, readOnly: true)
        try connection.execute("BEGIN")
        defer { try? connection.execute("COMMIT") }
        return try body(ReadTransaction(connection: connection))
    }

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

    /// Whether the `xattrs_by_name` index (migration 0003-tag-index) exists: without it tag
    /// lookups still answer, by scanning every xattr row.
    public func hasTagIndex() throws(IndexError) -> Bool {
        (try connection.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'xattrs_by_name'") ?? 0) > 0
    }

    /// Inodes carrying the extended attribute `name` (a full name, e.g. `user.project`), with
    /// exactly `value` when one is given.
    public func inodes(withXattr name: [UInt8], value: [UInt8]? = nil) throws(IndexError) -> Set<UInt64> {
        let s = try connection.prepare(value == nil ? "SELECT ino FROM xattrs WHERE name = ?"
                                                    : "SELECT ino FROM xattrs WHERE name = ? AND value = ?")
        defer { s.reset() }
        s.bind(1, blob: name)
        if let value { s.bind(2, blob: value) }
        var result = Set<UInt64>()
        while try s.step() { result.insert(UInt64(bitPattern: s.int64(0))) }
        return result
    }

    /// Every inode carrying the extended attribute `name`, with its value.
    public func xattrValues(named name: [UInt8]) throws(IndexError) -> [UInt64: [UInt8]] {
        let s = try connection.prepare("SELECT ino, value FROM xattrs WHERE name = ?")
        defer { s.reset() }
        s.bind(1, blob: name)
        var result: [UInt64: [UInt8]] = [:]
        while try s.step() { result[UInt64(bitPattern: s.int64(0))] = s.blob(1) }
        return result
    }

    /// The recorded access heat of `ino` decayed to `now` (unix seconds), 0 when none is recorded.
    public func heat(of ino: UInt64, now: Double, halfLife: Double) throws(IndexError) -> Double {
        let s = try connection.prepare("SELECT score, updated FROM heat WHERE ino = ?")
        defer { s.reset() }
        s.bind(1, ino)
        guard try s.step() else { return 0 }
        let score = s.double(0), updated = Double(s.int64(1))
        return score * exp2(-(now - updated) / max(1, halfLife))
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
        let anyLinks = try connection.scalar("SELECT EXISTS(SELECT 1 FROM links)") ?? 0
        let hasLinks = links && anyLinks != 0
        if let only {
            let total = try connection.scalar("SELECT max(ino) FROM entries") ?? 0
            if only.count <= 4096 || only.count * 8 < Int(total) {
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
        let names = try connection.prepare("SELECT \(entryColumns) FROM entries WHERE parent = ? ORDER BY name")
        let linkNames = links ? try connection.prepare("""
            SELECT l.name, \(entryColumns.split(separator: ",").map { "e." + $0.trimmingSpaces }.joined(separator: ", "))
            FROM links l JOIN entries e ON e.ino = l.ino WHERE l.parent = ? ORDER BY l.name
            """) : nil

        func children(of directory: UInt64) throws(IndexError) -> [(row: EntryRow, isLink: Bool)] {
            var rows: [(row: EntryRow, isLink: Bool)] = []
            names.bind(1, directory)
            defer { names.reset() }
            while try names.step() { rows.append((names.entryRow(), false)) }
            guard let linkNames else { return rows }
            linkNames.bind(1, directory)
            defer { linkNames.reset() }
            var extra: [(row: EntryRow, isLink: Bool)] = []
            while try linkNames.step() {
                var row = linkNames.entryRow(base: 1)
                row.name = linkNames.blob(0); row.parent = directory
                extra.append((row, true))
            }
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

    /// `walk(only:)` for a few inodes: each one's path is built from its parents (directory
    /// paths cached), those outside `root` are dropped, and the rest sorted into walk order.
    private func visitResolved(_ inodes: Set<UInt64>, root: EntryRow, rootPath: [UInt8], includeRoot: Bool, links: Bool,
                               matching: (EntryRow) -> Bool, _ visit: (NamespaceEntry) throws -> Void) throws {
        // Directory inode -> its path when it is `root` or below it, nil when outside.
        var directories: [UInt64: [UInt8]?] = [root.ino: rootPath]

        func directoryPath(_ ino: UInt64) throws(IndexError) -> [UInt8]? {
            var chain: [EntryRow] = []
            var current = ino
            var known: [UInt8]??
            while true {
                if let cached = directories[current] { known = cached; break }
                guard current != 1, chain.count < 4096, let row = try entry(current), row.kind == .directory else {
                    known = .some(nil); break
                }
                chain.append(row)
                current = row.parent
            }
            var path = known!
            for row in chain.reversed() {
                path = path.map { $0.isEmpty ? row.name : $0 + [UInt8(ascii: "/")] + row.name }
                directories[row.ino] = .some(path)
            }
            return path
        }

        var found: [NamespaceEntry] = []
        func consider(_ row: EntryRow, isLink: Bool) throws(IndexError) {
            guard matching(row) else { return }
            if row.ino == root.ino && !isLink {
                if includeRoot { found.append(NamespaceEntry(path: rootPath, row: row)) }
                return
            }
            guard row.ino != 1, let parentPath = try directoryPath(row.parent) else { return }
            let path = parentPath.isEmpty ? row.name : parentPath + [UInt8(ascii: "/")] + row.name
            found.append(NamespaceEntry(path: path, row: row, isLinkName: isLink))
        }

        // In inode order: neighbours in the table, and their parents, share pages.
        for ino in inodes.sorted() {
            if let row = try entry(ino) { try consider(row, isLink: false) }
        }
        if links {
            let s = try connection.prepare("SELECT parent, name, ino FROM links")
            var extra: [(parent: UInt64, name: [UInt8], ino: UInt64)] = []
            while try s.step() {
                let ino = UInt64(bitPattern: s.int64(2))
                if inodes.contains(ino) { extra.append((UInt64(bitPattern: s.int64(0)), s.blob(1), ino)) }
            }
            s.reset()
            for link in extra {
                guard var row = try entry(link.ino) else { continue }
                row.parent = link.parent; row.name = link.name
                try consider(row, isLink: true)
            }
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
}


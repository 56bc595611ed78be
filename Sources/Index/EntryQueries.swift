import Syscalls

let entryColumns = "ino, parent, name, kind, mode, uid, gid, size, blocks, atime, mtime, ctime, nlink, rdev, silo, dirsilos, bino, target"

extension Statement {
    /// Decodes a row selected with `entryColumns`, starting at column `base`.
    func entryRow(base: Int32 = 0) -> EntryRow {
        var row = EntryRow(ino: UInt64(bitPattern: int64(base)), parent: UInt64(bitPattern: int64(base + 1)), name: blob(base + 2),
                           stat: FileStat(mode: 0), silo: int(base + 14))
        row.kind = FileKind(rawValue: int(base + 3)) ?? .unknown
        row.mode = UInt32(truncatingIfNeeded: int64(base + 4))
        row.uid = UInt32(truncatingIfNeeded: int64(base + 5))
        row.gid = UInt32(truncatingIfNeeded: int64(base + 6))
        row.size = int64(base + 7); row.blocks = int64(base + 8)
        row.atimeNs = int64(base + 9); row.mtimeNs = int64(base + 10); row.ctimeNs = int64(base + 11)
        row.nlink = UInt64(bitPattern: int64(base + 12)); row.rdev = UInt64(bitPattern: int64(base + 13))
        row.dirSilos = UInt64(bitPattern: int64(base + 15)); row.backingInode = UInt64(bitPattern: int64(base + 16))
        row.target = isNull(base + 17) ? nil : blob(base + 17)
        return row
    }
}

/// One name of a directory listing.
public struct ListedName: Sendable {
    public var name: [UInt8]
    public var ino: UInt64
    public var kind: FileKind
    public init(name: [UInt8], ino: UInt64, kind: FileKind) { self.name = name; self.ino = ino; self.kind = kind }
}

extension ReadTransaction {
    public func entry(_ ino: UInt64) throws(IndexError) -> EntryRow? {
        let s = try connection.prepare(Queries.entryByInode)
        defer { s.reset() }
        s.bind(1, ino)
        return try s.step() ? s.entryRow() : nil
    }

    /// The entry named `name` in `parent`, by its first name or a hard link; `links: false`
    /// (IndexStore.mayHoldLinks) skips the links table.
    public func entry(parent: UInt64, name: UnsafeBufferPointer<UInt8>, links: Bool = true) throws(IndexError) -> EntryRow? {
        let s = try connection.prepare(Queries.entryByName)
        s.bind(1, parent).bind(2, blob: name)
        let found = try s.step() ? s.entryRow() : nil
        s.reset()
        if let found { return found }
        guard links else { return nil }
        let l = try connection.prepare(Queries.linkByName)
        l.bind(1, parent).bind(2, blob: name)
        let linked = try l.step() ? UInt64(bitPattern: l.int64(0)) : nil
        l.reset()
        return try linked.flatMap { ino throws(IndexError) in try entry(ino) }
    }

    public func entry(parent: UInt64, name: [UInt8]) throws(IndexError) -> EntryRow? {
        try name.withUnsafeBufferPointer { buffer throws(IndexError) in try entry(parent: parent, name: buffer) }
    }

    /// Every name in `parent` with its inode and kind, which is all a plain directory listing
    /// needs: three columns decode several times faster than whole rows.
    public func listing(of parent: UInt64) throws(IndexError) -> [ListedName] {
        var names: [ListedName] = []
        for sql in ["SELECT name, ino, kind FROM entries WHERE parent = ? ORDER BY name",
                    "SELECT l.name, l.ino, e.kind FROM links l JOIN entries e ON e.ino = l.ino WHERE l.parent = ?"] {
            let s = try connection.prepare(sql)
            defer { s.reset() }
            s.bind(1, parent)
            while try s.step() {
                names.append(ListedName(name: s.blob(0), ino: UInt64(bitPattern: s.int64(1)), kind: FileKind(rawValue: s.int(2)) ?? .unknown))
            }
        }
        return names
    }

    /// Every name in `parent`: first names and hard links, in name order.
    public func children(of parent: UInt64) throws(IndexError) -> [EntryRow] {
        var rows: [EntryRow] = []
        let s = try connection.prepare("SELECT \(entryColumns) FROM entries WHERE parent = ? ORDER BY name")
        defer { s.reset() }
        s.bind(1, parent)
        while try s.step() { rows.append(s.entryRow()) }
        let l = try connection.prepare("SELECT l.name, \(entryColumns.split(separator: ",").map { "e." + $0.trimmingSpaces }.joined(separator: ", ")) FROM links l JOIN entries e ON e.ino = l.ino WHERE l.parent = ?")
        defer { l.reset() }
        l.bind(1, parent)
        while try l.step() {
            var row = l.entryRow(base: 1)
            row.name = l.blob(0); row.parent = parent
            rows.append(row)
        }
        return rows
    }

    public func xattrs(of ino: UInt64) throws(IndexError) -> [(name: [UInt8], value: [UInt8])] {
        let s = try connection.prepare("SELECT name, value FROM xattrs WHERE ino = ? ORDER BY name")
        defer { s.reset() }
        s.bind(1, ino)
        var result: [(name: [UInt8], value: [UInt8])] = []
        while try s.step() { result.append((s.blob(0), s.blob(1))) }
        return result
    }

    public func xattr(of ino: UInt64, name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> [UInt8]? {
        let s = try connection.prepare(Queries.xattrValue)
        defer { s.reset() }
        s.bind(1, ino).bind(2, blob: name)
        return try s.step() ? s.blob(0) : nil
    }

    public func shadows(of ino: UInt64) throws(IndexError) -> [ShadowRow] {
        let s = try connection.prepare("SELECT ino, silo, kind, size, mtime FROM shadows WHERE ino = ? ORDER BY mtime DESC, silo")
        defer { s.reset() }
        s.bind(1, ino)
        var rows: [ShadowRow] = []
        while try s.step() { rows.append(ShadowRow(ino: ino, silo: s.int(1), kind: FileKind(rawValue: s.int(2)) ?? .unknown, size: s.int64(3), mtimeNs: s.int64(4))) }
        return rows
    }

    /// Every shadowed duplicate in the pool with the path of the visible entry.
    public func allShadows(limit: Int = 10_000) throws(IndexError) -> [(path: [UInt8], shadow: ShadowRow)] {
        let s = try connection.prepare("SELECT ino, silo, kind, size, mtime FROM shadows ORDER BY ino, silo LIMIT ?")
        s.bind(1, limit)
        var rows: [ShadowRow] = []
        while try s.step() { rows.append(ShadowRow(ino: UInt64(bitPattern: s.int64(0)), silo: s.int(1), kind: FileKind(rawValue: s.int(2)) ?? .unknown, size: s.int64(3), mtimeNs: s.int64(4))) }
        s.reset()
        var result: [(path: [UInt8], shadow: ShadowRow)] = []
        for row in rows { result.append((try path(of: row.ino) ?? [], row)) }
        return result
    }

    /// The relative path of `ino`'s first name ("" for the root), or nil if it is not indexed.
    public func path(of ino: UInt64) throws(IndexError) -> [UInt8]? {
        var components: [[UInt8]] = []
        var current = ino
        var depth = 0
        while current != 1 {
            guard let row = try entry(current), depth < 4096 else { return nil }
            components.append(row.name)
            current = row.parent
            depth += 1
        }
        return Array(components.reversed().joined(separator: [UInt8(ascii: "/")]))
    }

    public func silos() throws(IndexError) -> [SiloRow] {
        let s = try connection.prepare("SELECT id, name, path, tier, scan_gen, scanned_at, entries, health, health_reason FROM silos ORDER BY id")
        defer { s.reset() }
        var rows: [SiloRow] = []
        while try s.step() {
            rows.append(SiloRow(id: s.int(0), name: s.text(1) ?? "", path: s.text(2) ?? "", tier: s.text(3) ?? "",
                                scanGeneration: s.int64(4), scannedAt: s.isNull(5) ? nil : s.int64(5), entries: s.int64(6),
                                health: s.text(7) ?? "unknown", healthReason: s.text(8)))
        }
        return rows
    }

    public func meta(_ key: String) throws(IndexError) -> String? {
        let s = try connection.prepare("SELECT value FROM meta WHERE key = ?")
        defer { s.reset() }
        s.bind(1, key)
        return try s.step() ? s.text(0) : nil
    }

    /// Number of entries (all kinds, the root excluded).
    public func entryCount() throws(IndexError) -> Int64 { try connection.scalar("SELECT count(*) - 1 FROM entries") ?? 0 }
}

extension Substring {
    var trimmingSpaces: String { String(drop(while: { $0 == " " })) }
}

extension ReadTransaction {
    /// The entries whose first name is in `parent`, keyed by name (hard-link names excluded).
    public func firstNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: EntryRow] {
        let s = try connection.prepare(Queries.firstNames)
        defer { s.reset() }
        s.bind(1, parent)
        var rows: [[UInt8]: EntryRow] = [:]
        while try s.step() { let row = s.entryRow(); rows[row.name] = row }
        return rows
    }

    /// Shadows held by `silo` for entries directly in `parent`, keyed by inode.
    public func shadows(in parent: UInt64, silo: SiloID) throws(IndexError) -> [UInt64: ShadowRow] {
        let s = try connection.prepare("""
            SELECT s.ino, s.kind, s.size, s.mtime FROM shadows s JOIN entries e ON e.ino = s.ino
            WHERE e.parent = ? AND s.silo = ?
            """)
        defer { s.reset() }
        s.bind(1, parent).bind(2, silo)
        var rows: [UInt64: ShadowRow] = [:]
        while try s.step() {
            let ino = UInt64(bitPattern: s.int64(0))
            rows[ino] = ShadowRow(ino: ino, silo: silo, kind: FileKind(rawValue: s.int(1)) ?? .unknown, size: s.int64(2), mtimeNs: s.int64(3))
        }
        return rows
    }

    public func shadowCount() throws(IndexError) -> Int64 { try connection.scalar("SELECT count(*) FROM shadows") ?? 0 }

    /// Entries whose data (files) or attributes (directories) a silo holds, plus directories it merges into.
    public func entryCount(silo: SiloID) throws(IndexError) -> Int64 {
        let s = try connection.prepare("SELECT count(*) FROM entries WHERE ino != 1 AND ((kind != 2 AND silo = ?1) OR (kind = 2 AND (dirsilos >> ?1) & 1 = 1))")
        defer { s.reset() }
        s.bind(1, silo)
        return try s.step() ? s.int64(0) : 0
    }
}

extension ReadTransaction {
    /// Hard-link names (not first names) in `parent`, with their inodes.
    public func linkNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: UInt64] {
        let s = try connection.prepare(Queries.linkNames)
        defer { s.reset() }
        s.bind(1, parent)
        var names: [[UInt8]: UInt64] = [:]
        while try s.step() { names[s.blob(0)] = UInt64(bitPattern: s.int64(1)) }
        return names
    }
}

import Syscalls

let entryColumns = "ino, parent, name, kind, mode, uid, gid, size, blocks, atime, mtime, ctime, nlink, rdev, silo, dirsilos, bino, target"
/// `entryColumns` of the entries table joined as `e`.
let joinedEntryColumns = entryColumns.split(separator: ",").map { "e." + $0.drop(while: { $0 == " " }) }.joined(separator: ", ")

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

    func ino(_ column: Int32) -> UInt64 { UInt64(bitPattern: int64(column)) }
}

extension SQLiteSession {
    func entry(_ ino: UInt64) throws(IndexError) -> EntryRow? {
        let s = try connection.prepare(Queries.entryByInode)
        defer { s.reset() }
        s.bind(1, ino)
        return try s.step() ? s.entryRow() : nil
    }

    func entries(inodes: [UInt64]) throws(IndexError) -> [EntryRow] {
        var rows: [EntryRow] = []
        rows.reserveCapacity(inodes.count)
        var start = 0
        while start < inodes.count {
            let block = min(256, inodes.count - start)
            let s = try connection.prepare("SELECT \(entryColumns) FROM entries WHERE ino IN (\(Array(repeating: "?", count: block).joined(separator: ", ")))")
            defer { s.reset() }
            for k in 0..<block { s.bind(Int32(k + 1), inodes[start + k]) }
            while try s.step() { rows.append(s.entryRow()) }
            start += block
        }
        return rows
    }

    func entry(parent: UInt64, firstName name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> EntryRow? {
        let s = try connection.prepare(Queries.entryByName)
        defer { s.reset() }
        s.bind(1, parent).bind(2, blob: name)
        return try s.step() ? s.entryRow() : nil
    }

    func linkedInode(parent: UInt64, name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> UInt64? {
        let s = try connection.prepare(Queries.linkByName)
        defer { s.reset() }
        s.bind(1, parent).bind(2, blob: name)
        return try s.step() ? s.ino(0) : nil
    }

    func listing(of parent: UInt64) throws(IndexError) -> [ListedName] {
        var names: [ListedName] = []
        for sql in ["SELECT name, ino, kind FROM entries WHERE parent = ? ORDER BY name",
                    "SELECT l.name, l.ino, e.kind FROM links l JOIN entries e ON e.ino = l.ino WHERE l.parent = ?"] {
            let s = try connection.prepare(sql)
            defer { s.reset() }
            s.bind(1, parent)
            while try s.step() { names.append(ListedName(name: s.blob(0), ino: s.ino(1), kind: FileKind(rawValue: s.int(2)) ?? .unknown)) }
        }
        return names
    }

    func firstNameRows(in parent: UInt64) throws(IndexError) -> [EntryRow] {
        let s = try connection.prepare("SELECT \(entryColumns) FROM entries WHERE parent = ? ORDER BY name")
        defer { s.reset() }
        s.bind(1, parent)
        var rows: [EntryRow] = []
        while try s.step() { rows.append(s.entryRow()) }
        return rows
    }

    func linkRows(in parent: UInt64) throws(IndexError) -> [EntryRow] {
        let s = try connection.prepare("SELECT l.name, \(joinedEntryColumns) FROM links l JOIN entries e ON e.ino = l.ino WHERE l.parent = ? ORDER BY l.name")
        defer { s.reset() }
        s.bind(1, parent)
        var rows: [EntryRow] = []
        while try s.step() {
            var row = s.entryRow(base: 1)
            row.name = s.blob(0); row.parent = parent
            rows.append(row)
        }
        return rows
    }

    func firstNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: EntryRow] {
        let s = try connection.prepare(Queries.firstNames)
        defer { s.reset() }
        s.bind(1, parent)
        var rows: [[UInt8]: EntryRow] = [:]
        while try s.step() { let row = s.entryRow(); rows[row.name] = row }
        return rows
    }

    func linkNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: UInt64] {
        let s = try connection.prepare(Queries.linkNames)
        defer { s.reset() }
        s.bind(1, parent)
        var names: [[UInt8]: UInt64] = [:]
        while try s.step() { names[s.blob(0)] = s.ino(1) }
        return names
    }

    func allLinks() throws(IndexError) -> [(parent: UInt64, name: [UInt8], ino: UInt64)] {
        let s = try connection.prepare("SELECT parent, name, ino FROM links")
        defer { s.reset() }
        var links: [(parent: UInt64, name: [UInt8], ino: UInt64)] = []
        while try s.step() { links.append((s.ino(0), s.blob(1), s.ino(2))) }
        return links
    }

    func anyLink(of ino: UInt64) throws(IndexError) -> (parent: UInt64, name: [UInt8])? {
        let s = try connection.prepare("SELECT parent, name FROM links WHERE ino = ? LIMIT 1")
        defer { s.reset() }
        s.bind(1, ino)
        return try s.step() ? (s.ino(0), s.blob(1)) : nil
    }

    func isLink(parent: UInt64, name: [UInt8]) throws(IndexError) -> Bool {
        let s = try connection.prepare("SELECT 1 FROM links WHERE parent = ? AND name = ?")
        defer { s.reset() }
        s.bind(1, parent).bind(2, blob: name)
        return try s.step()
    }

    func hasAnyLinks() throws(IndexError) -> Bool { try connection.scalar("SELECT EXISTS(SELECT 1 FROM links)") ?? 1 != 0 }
    func hasAnyShadows() throws(IndexError) -> Bool { try connection.scalar("SELECT EXISTS(SELECT 1 FROM shadows)") ?? 1 != 0 }
    func maxInode() throws(IndexError) -> UInt64 { UInt64(bitPattern: try connection.scalar("SELECT max(ino) FROM entries") ?? 1) }
    func entryCount() throws(IndexError) -> Int64 { try connection.scalar("SELECT count(*) - 1 FROM entries") ?? 0 }

    func entryCount(silo: SiloID) throws(IndexError) -> Int64 {
        let s = try connection.prepare("SELECT count(*) FROM entries WHERE ino != 1 AND ((kind != 2 AND silo = ?1) OR (kind = 2 AND (dirsilos >> ?1) & 1 = 1))")
        defer { s.reset() }
        s.bind(1, silo)
        return try s.step() ? s.int64(0) : 0
    }

    func entryCounts() throws(IndexError) -> [SiloID: Int64] {
        let s = try connection.prepare(EntryCounts.sql)
        defer { s.reset() }
        var groups: [(silo: Int64, dirSilos: Int64, count: Int64)] = []
        while try s.step() { groups.append((s.int64(0), s.int64(1), s.int64(2))) }
        return EntryCounts.perSilo(groups)
    }

    func regularFiles(on silo: SiloID) throws(IndexError) -> [UInt64] {
        let s = try connection.prepare("SELECT ino FROM entries WHERE silo = ? AND kind = 1")
        defer { s.reset() }
        s.bind(1, silo)
        var inodes: [UInt64] = []
        while try s.step() { inodes.append(s.ino(0)) }
        return inodes
    }
}

extension SQLiteSession {
    func xattrs(of ino: UInt64) throws(IndexError) -> [(name: [UInt8], value: [UInt8])] {
        let s = try connection.prepare("SELECT name, value FROM xattrs WHERE ino = ? ORDER BY name")
        defer { s.reset() }
        s.bind(1, ino)
        var result: [(name: [UInt8], value: [UInt8])] = []
        while try s.step() { result.append((s.blob(0), s.blob(1))) }
        return result
    }

    func xattr(of ino: UInt64, name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> [UInt8]? {
        let s = try connection.prepare(Queries.xattrValue)
        defer { s.reset() }
        s.bind(1, ino).bind(2, blob: name)
        return try s.step() ? s.blob(0) : nil
    }

    func inodes(withXattr name: [UInt8], value: [UInt8]?) throws(IndexError) -> Set<UInt64> {
        let s = try connection.prepare(value == nil ? "SELECT ino FROM xattrs WHERE name = ?"
                                                    : "SELECT ino FROM xattrs WHERE name = ? AND value = ?")
        defer { s.reset() }
        s.bind(1, blob: name)
        if let value { s.bind(2, blob: value) }
        var result = Set<UInt64>()
        while try s.step() { result.insert(s.ino(0)) }
        return result
    }

    func xattrValues(named name: [UInt8]) throws(IndexError) -> [UInt64: [UInt8]] {
        let s = try connection.prepare("SELECT ino, value FROM xattrs WHERE name = ?")
        defer { s.reset() }
        s.bind(1, blob: name)
        var result: [UInt64: [UInt8]] = [:]
        while try s.step() { result[s.ino(0)] = s.blob(1) }
        return result
    }

    func forEachXattr(_ body: (UInt64, [UInt8], [UInt8]) -> Void) throws(IndexError) {
        let s = try connection.prepare("SELECT ino, name, value FROM xattrs")
        defer { s.reset() }
        while try s.step() { body(s.ino(0), s.blob(1), s.blob(2)) }
    }

    func hasTagIndex() throws(IndexError) -> Bool {
        (try connection.scalar("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = 'xattrs_by_name'") ?? 0) > 0
    }

    func shadows(of ino: UInt64) throws(IndexError) -> [ShadowRow] {
        let s = try connection.prepare("SELECT ino, silo, kind, size, mtime FROM shadows WHERE ino = ? ORDER BY mtime DESC, silo")
        defer { s.reset() }
        s.bind(1, ino)
        var rows: [ShadowRow] = []
        while try s.step() { rows.append(ShadowRow(ino: ino, silo: s.int(1), kind: FileKind(rawValue: s.int(2)) ?? .unknown, size: s.int64(3), mtimeNs: s.int64(4))) }
        return rows
    }

    func shadowRows(limit: Int) throws(IndexError) -> [ShadowRow] {
        let s = try connection.prepare("SELECT ino, silo, kind, size, mtime FROM shadows ORDER BY ino, silo LIMIT ?")
        defer { s.reset() }
        s.bind(1, limit)
        var rows: [ShadowRow] = []
        while try s.step() { rows.append(ShadowRow(ino: s.ino(0), silo: s.int(1), kind: FileKind(rawValue: s.int(2)) ?? .unknown, size: s.int64(3), mtimeNs: s.int64(4))) }
        return rows
    }

    func shadows(in parent: UInt64, silo: SiloID) throws(IndexError) -> [UInt64: ShadowRow] {
        let s = try connection.prepare("""
            SELECT s.ino, s.kind, s.size, s.mtime FROM shadows s JOIN entries e ON e.ino = s.ino
            WHERE e.parent = ? AND s.silo = ?
            """)
        defer { s.reset() }
        s.bind(1, parent).bind(2, silo)
        var rows: [UInt64: ShadowRow] = [:]
        while try s.step() {
            let ino = s.ino(0)
            rows[ino] = ShadowRow(ino: ino, silo: silo, kind: FileKind(rawValue: s.int(1)) ?? .unknown, size: s.int64(2), mtimeNs: s.int64(3))
        }
        return rows
    }

    func shadowCount() throws(IndexError) -> Int64 { try connection.scalar("SELECT count(*) FROM shadows") ?? 0 }

    func silos() throws(IndexError) -> [SiloRow] {
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

    func drainingSilos() throws(IndexError) -> Set<SiloID> {
        let s = try connection.prepare("SELECT id FROM silos WHERE draining = 1")
        defer { s.reset() }
        var ids = Set<SiloID>()
        while try s.step() { ids.insert(s.int(0)) }
        return ids
    }

    func meta(_ key: String) throws(IndexError) -> String? {
        let s = try connection.prepare("SELECT value FROM meta WHERE key = ?")
        defer { s.reset() }
        s.bind(1, key)
        return try s.step() ? s.text(0) : nil
    }
}

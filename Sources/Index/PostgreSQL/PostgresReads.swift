import Syscalls

extension PGResult {
    /// Decodes a row selected with `pgEntryColumns`, starting at column `base`.
    func entryRow(_ r: Int32, base: Int32 = 0) -> EntryRow {
        var row = EntryRow(ino: ino(r, base), parent: ino(r, base + 1), name: bytes(r, base + 2), stat: FileStat(mode: 0), silo: int(r, base + 14))
        row.kind = FileKind(rawValue: int(r, base + 3)) ?? .unknown
        row.mode = UInt32(truncatingIfNeeded: int64(r, base + 4))
        row.uid = UInt32(truncatingIfNeeded: int64(r, base + 5))
        row.gid = UInt32(truncatingIfNeeded: int64(r, base + 6))
        row.size = int64(r, base + 7); row.blocks = int64(r, base + 8)
        row.atimeNs = int64(r, base + 9); row.mtimeNs = int64(r, base + 10); row.ctimeNs = int64(r, base + 11)
        row.nlink = ino(r, base + 12); row.rdev = ino(r, base + 13)
        row.dirSilos = ino(r, base + 15); row.backingInode = ino(r, base + 16)
        row.target = isNull(r, base + 17) ? nil : bytes(r, base + 17)
        return row
    }

    var entryRows: [EntryRow] { (0..<rows).map { entryRow($0) } }

    func shadowRow(_ r: Int32) -> ShadowRow {
        ShadowRow(ino: ino(r, 0), silo: int(r, 1), kind: FileKind(rawValue: int(r, 2)) ?? .unknown, size: int64(r, 3), mtimeNs: int64(r, 4))
    }

    var inodeSet: Set<UInt64> { Set((0..<rows).map { ino($0, 0) }) }
}

extension PostgresSession {
    func entry(_ ino: UInt64) throws(IndexError) -> EntryRow? {
        var p = PGParams(); p.add(ino)
        let r = try connection.run(PGQueries.entryByInode, p)
        return r.rows > 0 ? r.entryRow(0) : nil
    }

    func entries(inodes: [UInt64]) throws(IndexError) -> [EntryRow] {
        var rows: [EntryRow] = []
        rows.reserveCapacity(inodes.count)
        var start = 0
        while start < inodes.count {
            let block = inodes[start..<min(start + 10_000, inodes.count)]
            var p = PGParams(); p.add("{" + block.map { String(Int64(bitPattern: $0)) }.joined(separator: ",") + "}")
            let r = try connection.run("SELECT \(pgEntryColumns) FROM entries WHERE ino = ANY($1::bigint[])", p)
            for i in 0..<r.rows { rows.append(r.entryRow(i)) }
            start += block.count
        }
        return rows
    }

    func lockedEntry(_ ino: UInt64) throws(IndexError) -> EntryRow? {
        var p = PGParams(); p.add(ino)
        let r = try connection.run("SELECT \(pgEntryColumns) FROM entries WHERE ino = $1 FOR UPDATE", p)
        return r.rows > 0 ? r.entryRow(0) : nil
    }

    func entry(parent: UInt64, firstName name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> EntryRow? {
        var p = PGParams(); p.add(parent); p.add(bytes: name)
        let r = try connection.run(PGQueries.entryByName, p)
        return r.rows > 0 ? r.entryRow(0) : nil
    }

    func linkedInode(parent: UInt64, name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> UInt64? {
        var p = PGParams(); p.add(parent); p.add(bytes: name)
        let r = try connection.run(PGQueries.linkByName, p)
        return r.rows > 0 ? r.ino(0, 0) : nil
    }

    func listing(of parent: UInt64) throws(IndexError) -> [ListedName] {
        var names: [ListedName] = []
        for sql in ["SELECT name, ino, kind FROM entries WHERE parent = $1 ORDER BY name",
                    "SELECT l.name, l.ino, e.kind FROM links l JOIN entries e ON e.ino = l.ino WHERE l.parent = $1"] {
            var p = PGParams(); p.add(parent)
            let r = try connection.run(sql, p)
            for i in 0..<r.rows { names.append(ListedName(name: r.bytes(i, 0), ino: r.ino(i, 1), kind: FileKind(rawValue: r.int(i, 2)) ?? .unknown)) }
        }
        return names
    }

    func firstNameRows(in parent: UInt64) throws(IndexError) -> [EntryRow] {
        var p = PGParams(); p.add(parent)
        return try connection.run("SELECT \(pgEntryColumns) FROM entries WHERE parent = $1 ORDER BY name", p).entryRows
    }

    func linkRows(in parent: UInt64) throws(IndexError) -> [EntryRow] {
        var p = PGParams(); p.add(parent)
        let r = try connection.run("SELECT l.name, \(pgJoinedEntryColumns) FROM links l JOIN entries e ON e.ino = l.ino WHERE l.parent = $1 ORDER BY l.name", p)
        return (0..<r.rows).map { i in
            var row = r.entryRow(i, base: 1)
            row.name = r.bytes(i, 0); row.parent = parent
            return row
        }
    }

    func firstNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: EntryRow] {
        var p = PGParams(); p.add(parent)
        let r = try connection.run(PGQueries.firstNames, p)
        var rows: [[UInt8]: EntryRow] = [:]
        for i in 0..<r.rows { let row = r.entryRow(i); rows[row.name] = row }
        return rows
    }

    func linkNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: UInt64] {
        var p = PGParams(); p.add(parent)
        let r = try connection.run(PGQueries.linkNames, p)
        var names: [[UInt8]: UInt64] = [:]
        for i in 0..<r.rows { names[r.bytes(i, 0)] = r.ino(i, 1) }
        return names
    }

    func allLinks() throws(IndexError) -> [(parent: UInt64, name: [UInt8], ino: UInt64)] {
        let r = try connection.run("SELECT parent, name, ino FROM links")
        return (0..<r.rows).map { (r.ino($0, 0), r.bytes($0, 1), r.ino($0, 2)) }
    }

    func anyLink(of ino: UInt64) throws(IndexError) -> (parent: UInt64, name: [UInt8])? {
        var p = PGParams(); p.add(ino)
        let r = try connection.run("SELECT parent, name FROM links WHERE ino = $1 LIMIT 1", p)
        return r.rows > 0 ? (r.ino(0, 0), r.bytes(0, 1)) : nil
    }

    func isLink(parent: UInt64, name: [UInt8]) throws(IndexError) -> Bool {
        var p = PGParams(); p.add(parent); p.add(bytes: name)
        return try connection.run("SELECT 1 FROM links WHERE parent = $1 AND name = $2", p).rows > 0
    }

    private func scalar(_ sql: String, _ p: PGParams = PGParams()) throws(IndexError) -> Int64? {
        let r = try connection.run(sql, p)
        return r.rows > 0 && !r.isNull(0, 0) ? r.int64(0, 0) : nil
    }

    func hasAnyLinks() throws(IndexError) -> Bool { try scalar("SELECT 1 FROM links LIMIT 1") != nil }
    func hasAnyShadows() throws(IndexError) -> Bool { try scalar("SELECT 1 FROM shadows LIMIT 1") != nil }
    func maxInode() throws(IndexError) -> UInt64 { UInt64(bitPattern: try scalar("SELECT max(ino) FROM entries") ?? 1) }
    func entryCount() throws(IndexError) -> Int64 { try scalar("SELECT count(*) - 1 FROM entries") ?? 0 }

    func entryCount(silo: SiloID) throws(IndexError) -> Int64 {
        var p = PGParams(); p.add(silo)
        return try scalar("SELECT count(*) FROM entries WHERE ino != 1 AND ((kind != 2 AND silo = $1) OR (kind = 2 AND (dirsilos >> $1::int) & 1 = 1))", p) ?? 0
    }

    func entryCounts() throws(IndexError) -> [SiloID: Int64] {
        let r = try connection.run(EntryCounts.sql, PGParams())
        return EntryCounts.perSilo((0..<r.rows).map { (r.int64($0, 0), r.int64($0, 1), r.int64($0, 2)) })
    }

    func regularFiles(on silo: SiloID) throws(IndexError) -> [UInt64] {
        var p = PGParams(); p.add(silo)
        let r = try connection.run("SELECT ino FROM entries WHERE silo = $1 AND kind = 1", p)
        return (0..<r.rows).map { r.ino($0, 0) }
    }

    func xattrs(of ino: UInt64) throws(IndexError) -> [(name: [UInt8], value: [UInt8])] {
        var p = PGParams(); p.add(ino)
        let r = try connection.run("SELECT name, value FROM xattrs WHERE ino = $1 ORDER BY name", p)
        return (0..<r.rows).map { (r.bytes($0, 0), r.bytes($0, 1)) }
    }

    func xattr(of ino: UInt64, name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> [UInt8]? {
        var p = PGParams(); p.add(ino); p.add(bytes: name)
        let r = try connection.run(PGQueries.xattrValue, p)
        return r.rows > 0 ? r.bytes(0, 0) : nil
    }

    func inodes(withXattr name: [UInt8], value: [UInt8]?) throws(IndexError) -> Set<UInt64> {
        var p = PGParams(); p.add(bytes: name)
        if let value { p.add(bytes: value) }
        return try connection.run(value == nil ? "SELECT ino FROM xattrs WHERE name = $1"
                                               // md5 first: that is what xattrs_by_name holds.
                                               : "SELECT ino FROM xattrs WHERE name = $1 AND md5(value) = md5($2) AND value = $2", p).inodeSet
    }

    func xattrValues(named name: [UInt8]) throws(IndexError) -> [UInt64: [UInt8]] {
        var p = PGParams(); p.add(bytes: name)
        let r = try connection.run("SELECT ino, value FROM xattrs WHERE name = $1", p)
        var result: [UInt64: [UInt8]] = [:]
        for i in 0..<r.rows { result[r.ino(i, 0)] = r.bytes(i, 1) }
        return result
    }

    func forEachXattr(_ body: (UInt64, [UInt8], [UInt8]) -> Void) throws(IndexError) {
        let r = try connection.run("SELECT ino, name, value FROM xattrs")
        for i in 0..<r.rows { body(r.ino(i, 0), r.bytes(i, 1), r.bytes(i, 2)) }
    }

    func hasTagIndex() throws(IndexError) -> Bool {
        try scalar("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = 'xattrs_by_name'") != nil
    }

    func shadows(of ino: UInt64) throws(IndexError) -> [ShadowRow] {
        var p = PGParams(); p.add(ino)
        let r = try connection.run("SELECT ino, silo, kind, size, mtime FROM shadows WHERE ino = $1 ORDER BY mtime DESC, silo", p)
        return (0..<r.rows).map { r.shadowRow($0) }
    }

    func shadowRows(limit: Int) throws(IndexError) -> [ShadowRow] {
        var p = PGParams(); p.add(limit)
        let r = try connection.run("SELECT ino, silo, kind, size, mtime FROM shadows ORDER BY ino, silo LIMIT $1", p)
        return (0..<r.rows).map { r.shadowRow($0) }
    }

    func shadows(in parent: UInt64, silo: SiloID) throws(IndexError) -> [UInt64: ShadowRow] {
        var p = PGParams(); p.add(parent); p.add(silo)
        let r = try connection.run("""
            SELECT s.ino, s.silo, s.kind, s.size, s.mtime FROM shadows s JOIN entries e ON e.ino = s.ino
            WHERE e.parent = $1 AND s.silo = $2
            """, p)
        var rows: [UInt64: ShadowRow] = [:]
        for i in 0..<r.rows { let row = r.shadowRow(i); rows[row.ino] = row }
        return rows
    }

    func shadowCount() throws(IndexError) -> Int64 { try scalar("SELECT count(*) FROM shadows") ?? 0 }

    func silos() throws(IndexError) -> [SiloRow] {
        let r = try connection.run("SELECT id, name, path, tier, scan_gen, scanned_at, entries, health, health_reason FROM silos ORDER BY id")
        return (0..<r.rows).map { i in
            SiloRow(id: r.int(i, 0), name: r.text(i, 1) ?? "", path: r.text(i, 2) ?? "", tier: r.text(i, 3) ?? "",
                    scanGeneration: r.int64(i, 4), scannedAt: r.isNull(i, 5) ? nil : r.int64(i, 5), entries: r.int64(i, 6),
                    health: r.text(i, 7) ?? "unknown", healthReason: r.text(i, 8))
        }
    }

    func drainingSilos() throws(IndexError) -> Set<SiloID> {
        let r = try connection.run("SELECT id FROM silos WHERE draining = 1")
        return Set((0..<r.rows).map { r.int($0, 0) })
    }

    func meta(_ key: String) throws(IndexError) -> String? {
        var p = PGParams(); p.add(key)
        let r = try connection.run("SELECT value FROM meta WHERE key = $1", p)
        return r.rows > 0 ? r.text(0, 0) : nil
    }
}

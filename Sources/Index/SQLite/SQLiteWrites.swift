import CSQLite

extension SQLiteSession {
    func insertEntry(_ row: EntryRow) throws(IndexError) {
        let s = try connection.prepare(Queries.insertEntry)
        bindEntry(s, row)
        try s.run()
    }

    func insertEntries(_ rows: [EntryRow]) throws(IndexError) {
        var start = 0
        if rows.count >= Queries.insertBlock {
            let s = try connection.prepare(Queries.insertEntries)
            while rows.count - start >= Queries.insertBlock {
                for k in 0..<Queries.insertBlock { bindEntry(s, rows[start + k], from: Int32(18 * k)) }
                try s.run()
                start += Queries.insertBlock
            }
        }
        for row in rows[start...] { try insertEntry(row) }
    }

    func updateEntry(_ row: EntryRow) throws(IndexError) {
        let s = try connection.prepare(Queries.updateEntry)
        bindEntry(s, row)
        try s.run()
    }

    /// Binds `row` to parameters `base + 1` to `base + 18`.
    private func bindEntry(_ s: Statement, _ row: EntryRow, from base: Int32 = 0) {
        s.bind(base + 1, row.ino).bind(base + 2, row.parent).bind(base + 3, blob: row.name).bind(base + 4, row.kind.rawValue)
            .bind(base + 5, Int64(row.mode)).bind(base + 6, Int64(row.uid)).bind(base + 7, Int64(row.gid))
            .bind(base + 8, row.size).bind(base + 9, row.blocks).bind(base + 10, row.atimeNs).bind(base + 11, row.mtimeNs)
            .bind(base + 12, row.ctimeNs).bind(base + 13, row.nlink).bind(base + 14, row.rdev)
            .bind(base + 15, row.silo).bind(base + 16, row.dirSilos).bind(base + 17, row.backingInode)
        if let target = row.target { s.bind(base + 18, blob: target) } else { s.bindNull(base + 18) }
    }

    func updateData(_ row: EntryRow) throws(IndexError) {
        let s = try connection.prepare(Queries.updateData)
        s.bind(1, row.size).bind(2, row.blocks).bind(3, row.atimeNs).bind(4, row.mtimeNs).bind(5, row.ctimeNs)
            .bind(6, Int64(row.mode)).bind(7, row.nlink).bind(8, row.ino)
        try s.run()
    }

    func updateSizeAndTimes(_ row: EntryRow) throws(IndexError) {
        let s = try connection.prepare("UPDATE entries SET size = ?, blocks = ?, atime = ?, mtime = ?, ctime = ? WHERE ino = ?")
        s.bind(1, row.size).bind(2, row.blocks).bind(3, row.atimeNs).bind(4, row.mtimeNs).bind(5, row.ctimeNs).bind(6, row.ino)
        try s.run()
    }

    func updateAttributes(_ row: EntryRow, _ columns: AttributeColumns) throws(IndexError) {
        let names = columns.names
        let s = try connection.prepare("UPDATE entries SET " + names.map { "\($0) = ?" }.joined(separator: ", ") + " WHERE ino = ?")
        for (k, value) in columns.values(of: row).enumerated() { s.bind(Int32(k + 1), value) }
        s.bind(Int32(names.count + 1), row.ino)
        try s.run()
    }

    func updateDirectoryTimes(_ row: EntryRow) throws(IndexError) {
        let s = try connection.prepare("UPDATE entries SET atime = ?, mtime = ?, ctime = ?, nlink = ? WHERE ino = ?")
        s.bind(1, row.atimeNs).bind(2, row.mtimeNs).bind(3, row.ctimeNs).bind(4, row.nlink).bind(5, row.ino)
        try s.run()
    }

    func setName(_ ino: UInt64, parent: UInt64, name: [UInt8], ctime: Int64) throws(IndexError) {
        let s = try connection.prepare("UPDATE entries SET parent = ?, name = ?, ctime = ? WHERE ino = ?")
        s.bind(1, parent).bind(2, blob: name).bind(3, ctime).bind(4, ino)
        try s.run()
    }

    func setLinkCount(_ ino: UInt64, _ nlink: UInt64) throws(IndexError) {
        let s = try connection.prepare(Queries.setLinkCount)
        s.bind(1, nlink).bind(2, ino)
        try s.run()
    }

    func recountLinks(ofDirectory ino: UInt64) throws(IndexError) {
        let s = try connection.prepare("""
            UPDATE entries SET nlink = 2 + (SELECT count(*) FROM entries c WHERE c.parent = ?1 AND c.kind = 2)
            WHERE ino = ?1 AND nlink != 2 + (SELECT count(*) FROM entries c WHERE c.parent = ?1 AND c.kind = 2)
            """)
        s.bind(1, ino)
        try s.run()
    }

    func deleteInode(_ ino: UInt64, links: Bool, shadows: Bool) throws(IndexError) {
        for (sql, needed) in [("DELETE FROM entries WHERE ino = ?", true), ("DELETE FROM links WHERE ino = ?", links),
                              ("DELETE FROM shadows WHERE ino = ?", shadows), ("DELETE FROM xattrs WHERE ino = ?", true),
                              ("DELETE FROM heat WHERE ino = ?", true), ("DELETE FROM checksums WHERE ino = ?", true)] where needed {
            let s = try connection.prepare(sql)
            s.bind(1, ino)
            try s.run()
        }
    }

    func insertLink(parent: UInt64, name: [UInt8], ino: UInt64) throws(IndexError) {
        let s = try connection.prepare("INSERT INTO links(parent, name, ino) VALUES (?, ?, ?)")
        s.bind(1, parent).bind(2, blob: name).bind(3, ino)
        try s.run()
    }

    func deleteLink(parent: UInt64, name: [UInt8]) throws(IndexError) {
        let s = try connection.prepare("DELETE FROM links WHERE parent = ? AND name = ?")
        s.bind(1, parent).bind(2, blob: name)
        try s.run()
    }

    func setXattr(of ino: UInt64, name: [UInt8], value: [UInt8]) throws(IndexError) {
        let s = try connection.prepare("INSERT OR REPLACE INTO xattrs(ino, name, value) VALUES (?, ?, ?)")
        s.bind(1, ino).bind(2, blob: name).bind(3, blob: value)
        try s.run()
    }

    func deleteXattr(of ino: UInt64, name: [UInt8]) throws(IndexError) -> Bool {
        let s = try connection.prepare("DELETE FROM xattrs WHERE ino = ? AND name = ?")
        s.bind(1, ino).bind(2, blob: name)
        try s.run()
        return connection.changes > 0
    }

    func deleteXattrs(of ino: UInt64) throws(IndexError) {
        let s = try connection.prepare("DELETE FROM xattrs WHERE ino = ?")
        s.bind(1, ino)
        try s.run()
    }

    func upsertShadow(_ shadow: ShadowRow) throws(IndexError) {
        let s = try connection.prepare("INSERT OR REPLACE INTO shadows(ino, silo, kind, size, mtime) VALUES (?, ?, ?, ?, ?)")
        s.bind(1, shadow.ino).bind(2, shadow.silo).bind(3, shadow.kind.rawValue).bind(4, shadow.size).bind(5, shadow.mtimeNs)
        try s.run()
    }

    func deleteShadow(ino: UInt64, silo: SiloID) throws(IndexError) {
        let s = try connection.prepare("DELETE FROM shadows WHERE ino = ? AND silo = ?")
        s.bind(1, ino).bind(2, silo)
        try s.run()
    }

    func insertSilo(id: SiloID, name: String, path: String, tier: String) throws(IndexError) {
        let s = try connection.prepare("INSERT INTO silos(id, name, path, tier) VALUES (?, ?, ?, ?)")
        s.bind(1, id).bind(2, name).bind(3, path).bind(4, tier)
        try s.run()
    }

    func updateSilo(id: SiloID, path: String, tier: String) throws(IndexError) {
        let s = try connection.prepare("UPDATE silos SET path = ?, tier = ? WHERE id = ?")
        s.bind(1, path).bind(2, tier).bind(3, id)
        try s.run()
    }

    func recordScan(silo: SiloID, generation: Int64, entries: Int64, at time: Int64) throws(IndexError) {
        let s = try connection.prepare("UPDATE silos SET scan_gen = ?, entries = ?, scanned_at = ? WHERE id = ?")
        s.bind(1, generation).bind(2, entries).bind(3, time).bind(4, silo)
        try s.run()
    }

    func setHealth(silo: SiloID, health: String, reason: String?) throws(IndexError) {
        let s = try connection.prepare("UPDATE silos SET health = ?, health_reason = ? WHERE id = ?")
        s.bind(1, health).bind(2, reason).bind(3, silo)
        try s.run()
    }

    func setDraining(silo: SiloID, _ draining: Bool) throws(IndexError) {
        let s = try connection.prepare("UPDATE silos SET draining = ? WHERE id = ?")
        s.bind(1, draining ? 1 : 0).bind(2, silo)
        try s.run()
    }

    func lockMeta(_ key: String) throws(IndexError) {}

    func setMeta(_ key: String, _ value: String) throws(IndexError) {
        let s = try connection.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)")
        s.bind(1, key).bind(2, value)
        try s.run()
    }
}

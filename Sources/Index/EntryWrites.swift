import Syscalls

extension WriteTransaction {
    /// Inserts `row` under a fresh inode number (row.ino is ignored) and returns that number.
    /// `hint`, an inode number the file carried from an earlier index, is taken when it is free,
    /// so a rebuilt index gives files their old numbers back.
    @discardableResult
    public func insert(_ row: EntryRow, hint: UInt64? = nil) throws(IndexError) -> UInt64 {
        let ino: UInt64
        if let hint, hint > 1, try reader.entry(hint) == nil {
            ino = hint
            if state.nextInode <= hint { state.nextInode = hint + 1 }
        } else {
            ino = allocateInode()
        }
        let s = try connection.prepare(Queries.insertEntry)
        var copy = row
        copy.ino = ino
        bindEntry(s, copy)
        try s.run()
        return ino
    }

    /// Rewrites every column of the entry `row.ino`.
    public func update(_ row: EntryRow) throws(IndexError) {
        let s = try connection.prepare(Queries.updateEntry)
        bindEntry(s, row)
        try s.run()
    }

    private func bindEntry(_ s: Statement, _ row: EntryRow) {
        s.bind(1, row.ino).bind(2, row.parent).bind(3, blob: row.name).bind(4, row.kind.rawValue)
            .bind(5, Int64(row.mode)).bind(6, Int64(row.uid)).bind(7, Int64(row.gid)).bind(8, row.size).bind(9, row.blocks)
            .bind(10, row.atimeNs).bind(11, row.mtimeNs).bind(12, row.ctimeNs).bind(13, row.nlink).bind(14, row.rdev)
            .bind(15, row.silo).bind(16, row.dirSilos).bind(17, row.backingInode)
        if let target = row.target { s.bind(18, blob: target) } else { s.bindNull(18) }
    }

    /// Removes the inode `ino` with its names, shadows and tags (not its children).
    public func delete(_ ino: UInt64) throws(IndexError) {
        // Tables that have held no row since the index was opened have none for `ino` either.
        let links = state.presence.links.load(ordering: .acquiring), shadows = state.presence.shadows.load(ordering: .acquiring)
        for (sql, needed) in [("DELETE FROM entries WHERE ino = ?", true), ("DELETE FROM links WHERE ino = ?", links),
                              ("DELETE FROM shadows WHERE ino = ?", shadows), ("DELETE FROM xattrs WHERE ino = ?", true),
                              ("DELETE FROM heat WHERE ino = ?", true), ("DELETE FROM checksums WHERE ino = ?", true)] where needed {
            let s = try connection.prepare(sql)
            s.bind(1, ino)
            try s.run()
        }
    }

    /// Replaces all tags of `ino` with `tags`.
    public func replaceXattrs(of ino: UInt64, with tags: [(name: [UInt8], value: [UInt8])]) throws(IndexError) {
        let d = try connection.prepare("DELETE FROM xattrs WHERE ino = ?")
        d.bind(1, ino)
        try d.run()
        for tag in tags { try setXattr(of: ino, name: tag.name, value: tag.value) }
    }

    public func setXattr(of ino: UInt64, name: [UInt8], value: [UInt8]) throws(IndexError) {
        let s = try connection.prepare("INSERT OR REPLACE INTO xattrs(ino, name, value) VALUES (?, ?, ?)")
        s.bind(1, ino).bind(2, blob: name).bind(3, blob: value)
        try s.run()
    }

    public func upsertShadow(_ shadow: ShadowRow) throws(IndexError) {
        state.presence.shadows.store(true, ordering: .releasing)
        let s = try connection.prepare("INSERT OR REPLACE INTO shadows(ino, silo, kind, size, mtime) VALUES (?, ?, ?, ?, ?)")
        s.bind(1, shadow.ino).bind(2, shadow.silo).bind(3, shadow.kind.rawValue).bind(4, shadow.size).bind(5, shadow.mtimeNs)
        try s.run()
    }

    public func deleteShadow(ino: UInt64, silo: SiloID) throws(IndexError) {
        let s = try connection.prepare("DELETE FROM shadows WHERE ino = ? AND silo = ?")
        s.bind(1, ino).bind(2, silo)
        try s.run()
    }

    /// Records a silo of the configuration, keeping its id if the name is known. Returns the id.
    public func registerSilo(name: String, path: String, tier: String) throws(IndexError) -> SiloID {
        if let existing = try reader.silos().first(where: { $0.name == name }) {
            let u = try connection.prepare("UPDATE silos SET path = ?, tier = ? WHERE id = ?")
            u.bind(1, path).bind(2, tier).bind(3, existing.id)
            try u.run()
            return existing.id
        }
        let used = Set(try reader.silos().map(\.id))
        guard let id = (0..<64).first(where: { !used.contains($0) }) else {
            throw IndexError(code: 1, message: "a pool holds at most 64 silos")
        }
        let s = try connection.prepare("INSERT INTO silos(id, name, path, tier) VALUES (?, ?, ?, ?)")
        s.bind(1, id).bind(2, name).bind(3, path).bind(4, tier)
        try s.run()
        return id
    }

    public func recordScan(silo: SiloID, generation: Int64, entries: Int64, at time: Int64) throws(IndexError) {
        let s = try connection.prepare("UPDATE silos SET scan_gen = ?, entries = ?, scanned_at = ? WHERE id = ?")
        s.bind(1, generation).bind(2, entries).bind(3, time).bind(4, silo)
        try s.run()
    }

    public func setHealth(silo: SiloID, health: String, reason: String?) throws(IndexError) {
        let s = try connection.prepare("UPDATE silos SET health = ?, health_reason = ? WHERE id = ?")
        s.bind(1, health).bind(2, reason).bind(3, silo)
        try s.run()
    }

    /// Gives `ino` a new first name, leaving every other column as it is.
    public func setName(_ ino: UInt64, parent: UInt64, name: [UInt8], ctime: Int64) throws(IndexError) {
        let s = try connection.prepare("UPDATE entries SET parent = ?, name = ?, ctime = ? WHERE ino = ?")
        s.bind(1, parent).bind(2, blob: name).bind(3, ctime).bind(4, ino)
        try s.run()
    }

    /// Sets a directory's link count to 2 + its subdirectories, as local file systems report
    /// it (find and other tree walkers rely on it).
    public func recountLinks(ofDirectory ino: UInt64) throws(IndexError) {
        let s = try connection.prepare("""
            UPDATE entries SET nlink = 2 + (SELECT count(*) FROM entries c WHERE c.parent = ?1 AND c.kind = 2)
            WHERE ino = ?1 AND nlink != 2 + (SELECT count(*) FROM entries c WHERE c.parent = ?1 AND c.kind = 2)
            """)
        s.bind(1, ino)
        try s.run()
    }

    /// Sets a directory's link count to a value computed by the caller; no write if unchanged.
    public func setLinkCount(_ ino: UInt64, _ nlink: UInt64) throws(IndexError) {
        let s = try connection.prepare(Queries.setLinkCount)
        s.bind(1, nlink).bind(2, ino)
        try s.run()
    }

    public func setMeta(_ key: String, _ value: String) throws(IndexError) {
        let s = try connection.prepare("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)")
        s.bind(1, key).bind(2, value)
        try s.run()
    }
}

extension WriteTransaction {
    public func insertLink(parent: UInt64, name: [UInt8], ino: UInt64) throws(IndexError) {
        state.presence.links.store(true, ordering: .releasing)
        let s = try connection.prepare("INSERT INTO links(parent, name, ino) VALUES (?, ?, ?)")
        s.bind(1, parent).bind(2, blob: name).bind(3, ino)
        try s.run()
    }

    public func deleteLink(parent: UInt64, name: [UInt8]) throws(IndexError) {
        let s = try connection.prepare("DELETE FROM links WHERE parent = ? AND name = ?")
        s.bind(1, parent).bind(2, blob: name)
        try s.run()
    }

    /// Deletes one name of `ino` and returns another remaining name, if any.
    public func anyLink(of ino: UInt64) throws(IndexError) -> (parent: UInt64, name: [UInt8])? {
        let s = try connection.prepare("SELECT parent, name FROM links WHERE ino = ? LIMIT 1")
        defer { s.reset() }
        s.bind(1, ino)
        return try s.step() ? (UInt64(bitPattern: s.int64(0)), s.blob(1)) : nil
    }

    /// Whether `(parent, name)` is a hard-link name (not the first name) of some inode.
    public func isLink(parent: UInt64, name: [UInt8]) throws(IndexError) -> Bool {
        let s = try connection.prepare("SELECT 1 FROM links WHERE parent = ? AND name = ?")
        defer { s.reset() }
        s.bind(1, parent).bind(2, blob: name)
        return try s.step()
    }

    public func deleteXattr(of ino: UInt64, name: [UInt8]) throws(IndexError) -> Bool {
        let s = try connection.prepare("DELETE FROM xattrs WHERE ino = ? AND name = ?")
        s.bind(1, ino).bind(2, blob: name)
        try s.run()
        return connection.changes > 0
    }
}

extension WriteTransaction {
    /// Records size, blocks, times and mode of a row, leaving its name and placement alone
    /// (a rename or move may have changed those meanwhile).
    public func updateData(_ row: EntryRow) throws(IndexError) {
        let s = try connection.prepare(Queries.updateData)
        s.bind(1, row.size).bind(2, row.blocks).bind(3, row.atimeNs).bind(4, row.mtimeNs).bind(5, row.ctimeNs)
            .bind(6, Int64(row.mode)).bind(7, row.nlink).bind(8, row.ino)
        try s.run()
    }
}

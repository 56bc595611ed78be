import Syscalls

extension PostgresSession {
    func insertEntry(_ row: EntryRow) throws(IndexError) {
        try connection.run(PGQueries.insertEntry, entryParams(row))
    }

    func insertEntries(_ rows: [EntryRow]) throws(IndexError) {
        for row in rows { try insertEntry(row) }
    }

    func updateEntry(_ row: EntryRow) throws(IndexError) {
        try connection.run(PGQueries.updateEntry, entryParams(row))
    }

    private func entryParams(_ row: EntryRow) -> PGParams {
        var p = PGParams()
        p.add(row.ino); p.add(row.parent); p.add(bytes: row.name); p.add(row.kind.rawValue)
        p.add(row.mode); p.add(row.uid); p.add(row.gid); p.add(row.size); p.add(row.blocks)
        p.add(row.atimeNs); p.add(row.mtimeNs); p.add(row.ctimeNs); p.add(row.nlink); p.add(row.rdev)
        p.add(row.silo); p.add(row.dirSilos); p.add(row.backingInode)
        if let target = row.target { p.add(bytes: target) } else { p.addNull(PGParams.bytea) }
        return p
    }

    func updateData(_ row: EntryRow) throws(IndexError) {
        var p = PGParams()
        p.add(row.size); p.add(row.blocks); p.add(row.atimeNs); p.add(row.mtimeNs); p.add(row.ctimeNs)
        p.add(row.mode); p.add(row.nlink); p.add(row.ino)
        try connection.run(PGQueries.updateData, p)
    }

    func updateSizeAndTimes(_ row: EntryRow) throws(IndexError) {
        var p = PGParams()
        p.add(row.size); p.add(row.blocks); p.add(row.atimeNs); p.add(row.mtimeNs); p.add(row.ctimeNs); p.add(row.ino)
        try connection.run("UPDATE entries SET size = $1, blocks = $2, atime = $3, mtime = $4, ctime = $5 WHERE ino = $6", p)
    }

    func updateAttributes(_ row: EntryRow, _ columns: AttributeColumns) throws(IndexError) {
        let names = columns.names
        var p = PGParams()
        for value in columns.values(of: row) { p.add(value) }
        p.add(row.ino)
        let set = names.enumerated().map { "\($1) = $\($0 + 1)" }.joined(separator: ", ")
        try connection.run("UPDATE entries SET \(set) WHERE ino = $\(names.count + 1)", p)
    }

    func updateDirectoryTimes(_ row: EntryRow) throws(IndexError) {
        var p = PGParams()
        p.add(row.atimeNs); p.add(row.mtimeNs); p.add(row.ctimeNs); p.add(row.nlink); p.add(row.ino)
        try connection.run("UPDATE entries SET atime = $1, mtime = $2, ctime = $3, nlink = $4 WHERE ino = $5", p)
    }

    func setName(_ ino: UInt64, parent: UInt64, name: [UInt8], ctime: Int64) throws(IndexError) {
        var p = PGParams(); p.add(parent); p.add(bytes: name); p.add(ctime); p.add(ino)
        try connection.run("UPDATE entries SET parent = $1, name = $2, ctime = $3 WHERE ino = $4", p)
    }

    func setLinkCount(_ ino: UInt64, _ nlink: UInt64) throws(IndexError) {
        var p = PGParams(); p.add(nlink); p.add(ino)
        try connection.run(PGQueries.setLinkCount, p)
    }

    func recountLinks(ofDirectory ino: UInt64) throws(IndexError) {
        var p = PGParams(); p.add(ino)
        try connection.run("""
            UPDATE entries SET nlink = 2 + (SELECT count(*) FROM entries c WHERE c.parent = $1 AND c.kind = 2)
            WHERE ino = $1 AND nlink != 2 + (SELECT count(*) FROM entries c WHERE c.parent = $1 AND c.kind = 2)
            """, p)
    }

    func deleteInode(_ ino: UInt64, links: Bool, shadows: Bool) throws(IndexError) {
        for (sql, needed) in [("DELETE FROM entries WHERE ino = $1", true), ("DELETE FROM links WHERE ino = $1", links),
                              ("DELETE FROM shadows WHERE ino = $1", shadows), ("DELETE FROM xattrs WHERE ino = $1", true),
                              ("DELETE FROM heat WHERE ino = $1", true), ("DELETE FROM checksums WHERE ino = $1", true)] where needed {
            var p = PGParams(); p.add(ino)
            try connection.run(sql, p)
        }
    }

    func insertLink(parent: UInt64, name: [UInt8], ino: UInt64) throws(IndexError) {
        var p = PGParams(); p.add(parent); p.add(bytes: name); p.add(ino)
        try connection.run("INSERT INTO links(parent, name, ino) VALUES ($1, $2, $3)", p)
    }

    func deleteLink(parent: UInt64, name: [UInt8]) throws(IndexError) {
        var p = PGParams(); p.add(parent); p.add(bytes: name)
        try connection.run("DELETE FROM links WHERE parent = $1 AND name = $2", p)
    }

    func setXattr(of ino: UInt64, name: [UInt8], value: [UInt8]) throws(IndexError) {
        var p = PGParams(); p.add(ino); p.add(bytes: name); p.add(bytes: value)
        try connection.run("INSERT INTO xattrs(ino, name, value) VALUES ($1, $2, $3) ON CONFLICT (ino, name) DO UPDATE SET value = excluded.value", p)
    }

    func deleteXattr(of ino: UInt64, name: [UInt8]) throws(IndexError) -> Bool {
        var p = PGParams(); p.add(ino); p.add(bytes: name)
        return try connection.run("DELETE FROM xattrs WHERE ino = $1 AND name = $2", p).changed > 0
    }

    func deleteXattrs(of ino: UInt64) throws(IndexError) {
        var p = PGParams(); p.add(ino)
        try connection.run("DELETE FROM xattrs WHERE ino = $1", p)
    }

    func upsertShadow(_ shadow: ShadowRow) throws(IndexError) {
        var p = PGParams()
        p.add(shadow.ino); p.add(shadow.silo); p.add(shadow.kind.rawValue); p.add(shadow.size); p.add(shadow.mtimeNs)
        try connection.run("""
            INSERT INTO shadows(ino, silo, kind, size, mtime) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (ino, silo) DO UPDATE SET kind = excluded.kind, size = excluded.size, mtime = excluded.mtime
            """, p)
    }

    func deleteShadow(ino: UInt64, silo: SiloID) throws(IndexError) {
        var p = PGParams(); p.add(ino); p.add(silo)
        try connection.run("DELETE FROM shadows WHERE ino = $1 AND silo = $2", p)
    }

    func insertSilo(id: SiloID, name: String, path: String, tier: String) throws(IndexError) {
        var p = PGParams(); p.add(id); p.add(name); p.add(path); p.add(tier)
        try connection.run("INSERT INTO silos(id, name, path, tier) VALUES ($1, $2, $3, $4)", p)
    }

    func updateSilo(id: SiloID, path: String, tier: String) throws(IndexError) {
        var p = PGParams(); p.add(path); p.add(tier); p.add(id)
        try connection.run("UPDATE silos SET path = $1, tier = $2 WHERE id = $3", p)
    }

    func recordScan(silo: SiloID, generation: Int64, entries: Int64, at time: Int64) throws(IndexError) {
        var p = PGParams(); p.add(generation); p.add(entries); p.add(time); p.add(silo)
        try connection.run("UPDATE silos SET scan_gen = $1, entries = $2, scanned_at = $3 WHERE id = $4", p)
    }

    func setHealth(silo: SiloID, health: String, reason: String?) throws(IndexError) {
        var p = PGParams(); p.add(health); p.add(reason); p.add(silo)
        try connection.run("UPDATE silos SET health = $1, health_reason = $2 WHERE id = $3", p)
    }

    func setDraining(silo: SiloID, _ draining: Bool) throws(IndexError) {
        var p = PGParams(); p.add(draining ? 1 : 0); p.add(silo)
        try connection.run("UPDATE silos SET draining = $1 WHERE id = $2", p)
    }

    /// The upsert locks the row whether it was there or not (a second inserter waits on the
    /// key), so two nodes appending to one value cannot both read it before either writes.
    func lockMeta(_ key: String) throws(IndexError) {
        var p = PGParams(); p.add(key)
        try connection.run("INSERT INTO meta(key, value) VALUES ($1, '') ON CONFLICT (key) DO UPDATE SET value = meta.value", p)
    }

    func setMeta(_ key: String, _ value: String) throws(IndexError) {
        var p = PGParams(); p.add(key); p.add(value)
        try connection.run(PGQueries.setMeta, p)
    }

    /// One statement: the counter row is locked until the batch commits, so two writers
    /// never take the same block.
    func reserveInodes(from minimum: UInt64, count: UInt64) throws(IndexError) -> UInt64 {
        var p = PGParams(); p.add(minimum); p.add(count)
        let r = try connection.run("""
            UPDATE meta SET value = (GREATEST(value::bigint, $1) + $2)::text WHERE key = 'next_ino' RETURNING value::bigint - $2
            """, p)
        guard r.rows == 1 else { throw IndexError(.corrupt, "\(connection.location): the index has no inode counter (meta next_ino)") }
        return r.ino(0, 0)
    }

    /// Travels with the COMMIT (delivered to listeners only if it commits). The payload is
    /// hex digits and punctuation (RemoteChange.encode), so it needs no quoting.
    func publish(_ payload: String) throws(IndexError) {
        connection.sendWithNext("NOTIFY \(PGListener.channel), '\(payload)'")
    }
}

/// Heartbeats are stamped with the server's clock, not the node's (`started` and `at` are
/// ignored): nodes on hosts whose clocks disagree still judge each other's heartbeats alike.
let pgNow = "floor(extract(epoch from clock_timestamp()))::bigint"

extension PostgresSession {
    func registerNode(_ node: NodeRow) throws(IndexError) {
        var p = PGParams(); p.add(node.id); p.add(node.host); p.add(node.pid); p.add(node.mountpoint)
        try connection.run("""
            INSERT INTO nodes(id, host, pid, mountpoint, started, heartbeat) VALUES ($1, $2, $3, $4, \(pgNow), \(pgNow))
            ON CONFLICT (id) DO UPDATE SET heartbeat = excluded.heartbeat
            """, p)
    }

    func renewNode(_ id: String, at time: Int64) throws(IndexError) -> Bool {
        var p = PGParams(); p.add(id)
        return try connection.run("UPDATE nodes SET heartbeat = \(pgNow) WHERE id = $1", p).changed > 0
    }

    func removeNode(_ id: String) throws(IndexError) {
        var p = PGParams(); p.add(id)
        try connection.run("DELETE FROM nodes WHERE id = $1", p)
    }

    func nodes() throws(IndexError) -> [NodeRow] {
        let r = try connection.run("SELECT id, host, pid, mountpoint, started, heartbeat FROM nodes ORDER BY started, id")
        return (0..<r.rows).map { i in
            NodeRow(id: r.text(i, 0) ?? "", host: r.text(i, 1) ?? "", pid: r.int64(i, 2), mountpoint: r.text(i, 3) ?? "",
                    started: r.int64(i, 4), heartbeat: r.int64(i, 5))
        }
    }
}

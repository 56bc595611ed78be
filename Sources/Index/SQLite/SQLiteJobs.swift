private let jobColumns = "id, ino, source, destination, state, extent_size, size, source_mtime, done, hashes, log, bytes_copied, batch, error, created, updated"

extension Statement {
    func jobRow() -> JobRow {
        var row = JobRow(ino: ino(1), source: int(2), destination: int(3), extentSize: int(5), created: int64(14))
        row.id = int64(0)
        row.state = JobState(rawValue: text(4) ?? "") ?? .failed
        row.size = int64(6); row.sourceMtime = int64(7)
        row.done = blob(8); row.hashes = blob(9); row.log = blob(10); row.bytesCopied = int64(11)
        row.batch = isNull(12) ? nil : int64(12)
        row.error = text(13)
        row.updated = int64(15)
        return row
    }
}

/// Move jobs, extent checksums and access heat in SQLite.
extension SQLiteSession {
    func job(_ id: Int64) throws(IndexError) -> JobRow? {
        let s = try connection.prepare("SELECT \(jobColumns) FROM jobs WHERE id = ?")
        defer { s.reset() }
        s.bind(1, id)
        return try s.step() ? s.jobRow() : nil
    }

    func jobs(all: Bool, limit: Int) throws(IndexError) -> [JobRow] {
        let filter = all ? "" : "WHERE state NOT IN ('done', 'cancelled', 'failed')"
        let s = try connection.prepare("SELECT \(jobColumns) FROM jobs \(filter) ORDER BY id DESC LIMIT ?")
        defer { s.reset() }
        s.bind(1, limit)
        var rows: [JobRow] = []
        while try s.step() { rows.append(s.jobRow()) }
        return rows
    }

    func failedJobs() throws(IndexError) -> [FailedJob] {
        let s = try connection.prepare("""
            SELECT id, ino, source, destination, size, source_mtime, updated, coalesce(error, '')
            FROM jobs WHERE state = 'failed' ORDER BY id
            """)
        defer { s.reset() }
        var rows: [FailedJob] = []
        while try s.step() {
            rows.append(FailedJob(id: s.int64(0), ino: s.ino(1), source: s.int(2), destination: s.int(3), size: s.int64(4),
                                  sourceMtime: s.int64(5), updated: s.int64(6), error: s.text(7) ?? ""))
        }
        return rows
    }

    func completedMoves() throws(IndexError) -> [UInt64: (updated: Int64, id: Int64)] {
        let s = try connection.prepare("SELECT ino, max(updated), max(id) FROM jobs WHERE state = 'done' GROUP BY ino")
        defer { s.reset() }
        var moves: [UInt64: (updated: Int64, id: Int64)] = [:]
        while try s.step() { moves[s.ino(0)] = (s.int64(1), s.int64(2)) }
        return moves
    }

    func inodesWithJobs(since: Int64) throws(IndexError) -> Set<UInt64> {
        let s = try connection.prepare("SELECT ino FROM jobs WHERE updated >= ?")
        defer { s.reset() }
        s.bind(1, since)
        var inodes = Set<UInt64>()
        while try s.step() { inodes.insert(s.ino(0)) }
        return inodes
    }

    func hasJob(for ino: UInt64, since: Int64) throws(IndexError) -> Bool {
        let s = try connection.prepare("SELECT 1 FROM jobs WHERE ino = ? AND updated >= ? LIMIT 1")
        defer { s.reset() }
        s.bind(1, ino).bind(2, since)
        return try s.step()
    }

    func checksums(of ino: UInt64) throws(IndexError) -> ChecksumRow? {
        let s = try connection.prepare("SELECT silo, size, mtime, extent_size, hashes FROM checksums WHERE ino = ?")
        defer { s.reset() }
        s.bind(1, ino)
        return try s.step() ? ChecksumRow(ino: ino, silo: s.int(0), size: s.int64(1), mtime: s.int64(2), extentSize: s.int(3), hashes: s.blob(4)) : nil
    }

    func heat(limit: Int) throws(IndexError) -> [(ino: UInt64, score: Double, updated: Int64)] {
        let s = try connection.prepare("SELECT ino, score, updated FROM heat ORDER BY score DESC LIMIT ?")
        defer { s.reset() }
        s.bind(1, limit)
        var rows: [(ino: UInt64, score: Double, updated: Int64)] = []
        while try s.step() { rows.append((s.ino(0), s.double(1), s.int64(2))) }
        return rows
    }

    func heatRow(_ ino: UInt64) throws(IndexError) -> (score: Double, updated: Int64, extents: [UInt8])? {
        let s = try connection.prepare("SELECT score, updated, extents FROM heat WHERE ino = ?")
        defer { s.reset() }
        s.bind(1, ino)
        return try s.step() ? (s.double(0), s.int64(1), s.blob(2)) : nil
    }

    func insertJob(_ job: JobRow) throws(IndexError) -> Int64 {
        let s = try connection.prepare("""
            INSERT INTO jobs(ino, source, destination, state, extent_size, size, source_mtime, done, hashes, log, bytes_copied, batch, error, created, updated)
            VALUES (?, ?, ?, ?, ?, ?, ?, x'', x'', x'', 0, ?, NULL, ?, ?)
            """)
        s.bind(1, job.ino).bind(2, job.source).bind(3, job.destination).bind(4, job.state.rawValue).bind(5, job.extentSize)
            .bind(6, job.size).bind(7, job.sourceMtime)
        if let batch = job.batch { s.bind(8, batch) } else { s.bindNull(8) }
        s.bind(9, job.created).bind(10, job.updated)
        try s.run()
        return connection.lastInsertRowID
    }

    func updateJob(_ job: JobRow) throws(IndexError) {
        let s = try connection.prepare("""
            UPDATE jobs SET state = ?, size = ?, source_mtime = ?, done = ?, hashes = ?, log = ?, bytes_copied = ?, error = ?, updated = ?
            WHERE id = ?
            """)
        s.bind(1, job.state.rawValue).bind(2, job.size).bind(3, job.sourceMtime).bind(4, blob: job.done)
            .bind(5, blob: job.hashes).bind(6, blob: job.log).bind(7, job.bytesCopied).bind(8, job.error)
            .bind(9, job.updated).bind(10, job.id)
        try s.run()
        if connection.changes == 0 { throw IndexError(.notFound, "no move job \(job.id)") }
    }

    func setChecksums(_ row: ChecksumRow) throws(IndexError) {
        let s = try connection.prepare("INSERT OR REPLACE INTO checksums(ino, silo, size, mtime, extent_size, hashes) VALUES (?, ?, ?, ?, ?, ?)")
        s.bind(1, row.ino).bind(2, row.silo).bind(3, row.size).bind(4, row.mtime).bind(5, row.extentSize).bind(6, blob: row.hashes)
        try s.run()
    }

    func setHeat(ino: UInt64, score: Double, updated: Int64, extents: [UInt8]) throws(IndexError) -> Bool {
        // Heat of a file deleted since it was read is not kept: the row would outlive the file.
        let s = try connection.prepare("INSERT OR REPLACE INTO heat(ino, score, updated, extents) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM entries WHERE ino = ?1)")
        s.bind(1, ino).bind(2, score).bind(3, updated).bind(4, blob: extents)
        try s.run()
        return connection.changes > 0
    }
}

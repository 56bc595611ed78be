private let jobColumns = "id, ino, source, destination, state, extent_size, size, source_mtime, done, hashes, log, bytes_copied, batch, error, created, updated"

extension PGResult {
    func jobRow(_ r: Int32) -> JobRow {
        var row = JobRow(ino: ino(r, 1), source: int(r, 2), destination: int(r, 3), extentSize: int(r, 5), created: int64(r, 14))
        row.id = int64(r, 0)
        row.state = JobState(rawValue: text(r, 4) ?? "") ?? .failed
        row.size = int64(r, 6); row.sourceMtime = int64(r, 7)
        row.done = bytes(r, 8); row.hashes = bytes(r, 9); row.log = bytes(r, 10); row.bytesCopied = int64(r, 11)
        row.batch = isNull(r, 12) ? nil : int64(r, 12)
        row.error = text(r, 13)
        row.updated = int64(r, 15)
        return row
    }
}

/// Move jobs, extent checksums and access heat in PostgreSQL.
extension PostgresSession {
    func job(_ id: Int64) throws(IndexError) -> JobRow? {
        var p = PGParams(); p.add(id)
        let r = try connection.run("SELECT \(jobColumns) FROM jobs WHERE id = $1", p)
        return r.rows > 0 ? r.jobRow(0) : nil
    }

    func jobs(all: Bool, limit: Int) throws(IndexError) -> [JobRow] {
        let filter = all ? "" : "WHERE state NOT IN ('done', 'cancelled', 'failed')"
        var p = PGParams(); p.add(limit)
        let r = try connection.run("SELECT \(jobColumns) FROM jobs \(filter) ORDER BY id DESC LIMIT $1", p)
        return (0..<r.rows).map { r.jobRow($0) }
    }

    func failedJobs() throws(IndexError) -> [FailedJob] {
        let r = try connection.run("""
            SELECT id, ino, source, destination, size, source_mtime, updated, coalesce(error, '')
            FROM jobs WHERE state = 'failed' ORDER BY id
            """)
        return (0..<r.rows).map { i in
            FailedJob(id: r.int64(i, 0), ino: r.ino(i, 1), source: r.int(i, 2), destination: r.int(i, 3), size: r.int64(i, 4),
                      sourceMtime: r.int64(i, 5), updated: r.int64(i, 6), error: r.text(i, 7) ?? "")
        }
    }

    func completedMoves() throws(IndexError) -> [UInt64: (updated: Int64, id: Int64)] {
        let r = try connection.run("SELECT ino, max(updated), max(id) FROM jobs WHERE state = 'done' GROUP BY ino")
        var moves: [UInt64: (updated: Int64, id: Int64)] = [:]
        for i in 0..<r.rows { moves[r.ino(i, 0)] = (r.int64(i, 1), r.int64(i, 2)) }
        return moves
    }

    func inodesWithJobs(since: Int64) throws(IndexError) -> Set<UInt64> {
        var p = PGParams(); p.add(since)
        return try connection.run("SELECT ino FROM jobs WHERE updated >= $1", p).inodeSet
    }

    func hasJob(for ino: UInt64, since: Int64) throws(IndexError) -> Bool {
        var p = PGParams(); p.add(ino); p.add(since)
        return try connection.run("SELECT 1 FROM jobs WHERE ino = $1 AND updated >= $2 LIMIT 1", p).rows > 0
    }

    func checksums(of ino: UInt64) throws(IndexError) -> ChecksumRow? {
        var p = PGParams(); p.add(ino)
        let r = try connection.run("SELECT silo, size, mtime, extent_size, hashes FROM checksums WHERE ino = $1", p)
        return r.rows > 0 ? ChecksumRow(ino: ino, silo: r.int(0, 0), size: r.int64(0, 1), mtime: r.int64(0, 2), extentSize: r.int(0, 3), hashes: r.bytes(0, 4)) : nil
    }

    func heat(limit: Int) throws(IndexError) -> [(ino: UInt64, score: Double, updated: Int64)] {
        var p = PGParams(); p.add(limit)
        let r = try connection.run("SELECT ino, score, updated FROM heat ORDER BY score DESC LIMIT $1", p)
        return (0..<r.rows).map { (r.ino($0, 0), r.double($0, 1), r.int64($0, 2)) }
    }

    func heatRow(_ ino: UInt64) throws(IndexError) -> (score: Double, updated: Int64, extents: [UInt8])? {
        var p = PGParams(); p.add(ino)
        let r = try connection.run("SELECT score, updated, extents FROM heat WHERE ino = $1", p)
        return r.rows > 0 ? (r.double(0, 0), r.int64(0, 1), r.bytes(0, 2)) : nil
    }

    /// `RETURNING id`: the id the sequence gave, in the same round trip.
    func insertJob(_ job: JobRow) throws(IndexError) -> Int64 {
        var p = PGParams()
        p.add(job.ino); p.add(job.source); p.add(job.destination); p.add(job.state.rawValue); p.add(job.extentSize)
        p.add(job.size); p.add(job.sourceMtime)
        if let batch = job.batch { p.add(batch) } else { p.addNull(PGParams.int8) }
        p.add(job.created); p.add(job.updated)
        let r = try connection.run("""
            INSERT INTO jobs(ino, source, destination, state, extent_size, size, source_mtime, done, hashes, log, bytes_copied, batch, error, created, updated)
            VALUES ($1, $2, $3, $4, $5, $6, $7, '\\x', '\\x', '\\x', 0, $8, NULL, $9, $10) RETURNING id
            """, p)
        return r.int64(0, 0)
    }

    func updateJob(_ job: JobRow) throws(IndexError) {
        var p = PGParams()
        p.add(job.state.rawValue); p.add(job.size); p.add(job.sourceMtime); p.add(bytes: job.done); p.add(bytes: job.hashes)
        p.add(bytes: job.log); p.add(job.bytesCopied); p.add(job.error); p.add(job.updated); p.add(job.id)
        let r = try connection.run("""
            UPDATE jobs SET state = $1, size = $2, source_mtime = $3, done = $4, hashes = $5, log = $6, bytes_copied = $7, error = $8, updated = $9
            WHERE id = $10
            """, p)
        if r.changed == 0 { throw IndexError(.notFound, "no move job \(job.id)") }
    }

    func setChecksums(_ row: ChecksumRow) throws(IndexError) {
        var p = PGParams(); p.add(row.ino); p.add(row.silo); p.add(row.size); p.add(row.mtime); p.add(row.extentSize); p.add(bytes: row.hashes)
        try connection.run("""
            INSERT INTO checksums(ino, silo, size, mtime, extent_size, hashes) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (ino) DO UPDATE SET silo = excluded.silo, size = excluded.size, mtime = excluded.mtime,
                extent_size = excluded.extent_size, hashes = excluded.hashes
            """, p)
    }

    /// Heat of a file deleted since it was read is not kept: the row would outlive the file.
    func setHeat(ino: UInt64, score: Double, updated: Int64, extents: [UInt8]) throws(IndexError) -> Bool {
        var p = PGParams(); p.add(ino); p.add(score); p.add(updated); p.add(bytes: extents)
        let r = try connection.run("""
            INSERT INTO heat(ino, score, updated, extents) SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM entries WHERE ino = $1)
            ON CONFLICT (ino) DO UPDATE SET score = excluded.score, updated = excluded.updated, extents = excluded.extents
            """, p)
        return r.changed > 0
    }
}

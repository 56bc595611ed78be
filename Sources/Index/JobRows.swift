import CSQLite
/// The states of a move job, in order. A job only ever moves forward.
public enum JobState: String, Sendable, Codable, CaseIterable {
    case queued, copying, renaming, switched, done, cancelled, failed

    public var isFinished: Bool { self == .done || self == .cancelled || self == .failed }
}

/// The index's record of one move job.
public struct JobRow: Sendable, Equatable {
    public var id: Int64
    public var ino: UInt64
    public var source: SiloID
    public var destination: SiloID
    public var state: JobState
    public var extentSize: Int
    public var size: Int64
    public var sourceMtime: Int64
    public var done: [UInt8]
    public var hashes: [UInt8]
    public var log: [UInt8]
    public var bytesCopied: Int64
    public var batch: Int64?
    public var error: String?
    public var created: Int64
    public var updated: Int64

    public init(id: Int64 = 0, ino: UInt64, source: SiloID, destination: SiloID, state: JobState = .queued, extentSize: Int,
                size: Int64 = 0, sourceMtime: Int64 = 0, batch: Int64? = nil, created: Int64) {
        self.id = id; self.ino = ino; self.source = source; self.destination = destination; self.state = state
        self.extentSize = extentSize; self.size = size; self.sourceMtime = sourceMtime
        done = []; hashes = []; log = []; bytesCopied = 0; self.batch = batch; error = nil
        self.created = created; updated = created
    }

    public var extentCount: Int { size <= 0 ? 0 : Int((size + Int64(extentSize) - 1) / Int64(extentSize)) }

    public func isDone(_ extent: Int) -> Bool {
        extent / 8 < done.count && done[extent / 8] & (1 << UInt8(extent % 8)) != 0
    }

    public var doneCount: Int { (0..<extentCount).filter(isDone).count }

    /// Extent numbers in the order they arrived on the destination.
    public var arrivalOrder: [Int] {
        var order: [Int] = []
        var i = 0
        while i + 4 <= log.count {
            var value = 0
            for k in 0..<4 { value |= Int(log[i + k]) << (8 * k) }
            order.append(value)
            i += 4
        }
        return order
    }

    public func hash(_ extent: Int) -> UInt64 {
        let base = extent * 8
        guard base + 8 <= hashes.count else { return 0 }
        return (0..<8).reduce(UInt64(0)) { $0 | UInt64(hashes[base + $1]) << (8 * UInt64($1)) }
    }
}

private let jobColumns = "id, ino, source, destination, state, extent_size, size, source_mtime, done, hashes, log, bytes_copied, batch, error, created, updated"

extension Statement {
    func jobRow() -> JobRow {
        var row = JobRow(ino: UInt64(bitPattern: int64(1)), source: int(2), destination: int(3), extentSize: int(5), created: int64(14))
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

extension ReadTransaction {
    public func job(_ id: Int64) throws(IndexError) -> JobRow? {
        let s = try connection.prepare("SELECT \(jobColumns) FROM jobs WHERE id = ?")
        defer { s.reset() }
        s.bind(1, id)
        return try s.step() ? s.jobRow() : nil
    }

    /// Jobs, newest first; only unfinished ones unless `all`.
    public func jobs(all: Bool = false, limit: Int = 10_000) throws(IndexError) -> [JobRow] {
        let filter = all ? "" : "WHERE state NOT IN ('done', 'cancelled', 'failed')"
        let s = try connection.prepare("SELECT \(jobColumns) FROM jobs \(filter) ORDER BY id DESC LIMIT ?")
        defer { s.reset() }
        s.bind(1, limit)
        var rows: [JobRow] = []
        while try s.step() { rows.append(s.jobRow()) }
        return rows
    }

    public func checksums(of ino: UInt64) throws(IndexError) -> (silo: SiloID, size: Int64, mtime: Int64, extentSize: Int, hashes: [UInt8])? {
        let s = try connection.prepare("SELECT silo, size, mtime, extent_size, hashes FROM checksums WHERE ino = ?")
        defer { s.reset() }
        s.bind(1, ino)
        return try s.step() ? (s.int(0), s.int64(1), s.int64(2), s.int(3), s.blob(4)) : nil
    }

    public func heat(limit: Int) throws(IndexError) -> [(ino: UInt64, score: Double, updated: Int64)] {
        let s = try connection.prepare("SELECT ino, score, updated FROM heat ORDER BY score DESC LIMIT ?")
        defer { s.reset() }
        s.bind(1, limit)
        var rows: [(ino: UInt64, score: Double, updated: Int64)] = []
        while try s.step() { rows.append((UInt64(bitPattern: s.int64(0)), s.double(1), s.int64(2))) }
        return rows
    }

    public func heatRow(_ ino: UInt64) throws(IndexError) -> (score: Double, updated: Int64, extents: [UInt8])? {
        let s = try connection.prepare("SELECT score, updated, extents FROM heat WHERE ino = ?")
        defer { s.reset() }
        s.bind(1, ino)
        return try s.step() ? (s.double(0), s.int64(1), s.blob(2)) : nil
    }

    public func drainingSilos() throws(IndexError) -> Set<SiloID> {
        let s = try connection.prepare("SELECT id FROM silos WHERE draining = 1")
        defer { s.reset() }
        var ids = Set<SiloID>()
        while try s.step() { ids.insert(s.int(0)) }
        return ids
    }
}

extension WriteTransaction {
    public func insertJob(_ job: JobRow) throws(IndexError) -> Int64 {
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

    public func updateJob(_ job: JobRow) throws(IndexError) {
        let s = try connection.prepare("""
            UPDATE jobs SET state = ?, size = ?, source_mtime = ?, done = ?, hashes = ?, log = ?, bytes_copied = ?, error = ?, updated = ?
            WHERE id = ?
            """)
        s.bind(1, job.state.rawValue).bind(2, job.size).bind(3, job.sourceMtime).bind(4, blob: job.done)
            .bind(5, blob: job.hashes).bind(6, blob: job.log).bind(7, job.bytesCopied).bind(8, job.error)
            .bind(9, job.updated).bind(10, job.id)
        try s.run()
    }

    public func setChecksums(ino: UInt64, silo: SiloID, size: Int64, mtime: Int64, extentSize: Int, hashes: [UInt8]) throws(IndexError) {
        let s = try connection.prepare("INSERT OR REPLACE INTO checksums(ino, silo, size, mtime, extent_size, hashes) VALUES (?, ?, ?, ?, ?, ?)")
        s.bind(1, ino).bind(2, silo).bind(3, size).bind(4, mtime).bind(5, extentSize).bind(6, blob: hashes)
        try s.run()
    }

    @discardableResult
    public func setHeat(ino: UInt64, score: Double, updated: Int64, extents: [UInt8]) throws(IndexError) -> Bool {
        // Heat of a file deleted since it was read is not kept: the row would outlive the file.
        let s = try connection.prepare("INSERT OR REPLACE INTO heat(ino, score, updated, extents) SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM entries WHERE ino = ?1)")
        s.bind(1, ino).bind(2, score).bind(3, updated).bind(4, blob: extents)
        try s.run()
        return sqlite3_changes(connection.db) > 0
    }

    public func setDraining(silo: SiloID, _ draining: Bool) throws(IndexError) {
        let s = try connection.prepare("UPDATE silos SET draining = ? WHERE id = ?")
        s.bind(1, draining ? 1 : 0).bind(2, silo)
        try s.run()
    }
}

extension ReadTransaction {
    public func regularFiles(on silo: SiloID) throws(IndexError) -> [UInt64] {
        let s = try connection.prepare("SELECT ino FROM entries WHERE silo = ? AND kind = 1")
        defer { s.reset() }
        s.bind(1, silo)
        var inodes: [UInt64] = []
        while try s.step() { inodes.append(UInt64(bitPattern: s.int64(0))) }
        return inodes
    }
}

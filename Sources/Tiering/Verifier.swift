import Index
import Namespace
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// What re-reading a file against its recorded hashes found.
public struct VerifyResult: Sendable {
    public enum Outcome: String, Sendable { case ok, mismatch, missing, unrecorded, unreadable }
    public var ino: UInt64
    public var outcome: Outcome
    public var badExtents: [Int]
    public var detail: String
}

/// `estuary verify`: re-reads a file's current copy and checks every extent against the XXH3
/// hash recorded when a move verified it. A file changed since then (size or mtime differ) has
/// no valid record and is reported as such, not as damaged.
public struct Verifier: Sendable {
    let index: IndexStore
    let namespace: Namespace
    let silos: SiloSet

    public init(index: IndexStore, namespace: Namespace, silos: SiloSet) { self.index = index; self.namespace = namespace; self.silos = silos }

    public func verify(_ row: EntryRow) -> VerifyResult {
        if let silo = silos[row.silo], silo.isObjectStore { return verifyObject(row, silo) }
        guard let record = (try? index.query({ tx throws(IndexError) in try tx.checksums(of: row.ino) })) ?? nil,
              record.silo == row.silo, record.size == row.size, record.mtime == row.mtimeNs else {
            return VerifyResult(ino: row.ino, outcome: .unrecorded, badExtents: [], detail: "no hashes recorded for this copy (never moved, or changed since)")
        }
        guard let silo = silos[row.silo], let path = try? namespace.relativePath(of: row),
              let fd = try? silo.open(path, flags: O_RDONLY | O_NOFOLLOW) else {
            return VerifyResult(ino: row.ino, outcome: .unreadable, badExtents: [], detail: "cannot open the copy")
        }
        defer { Sys.close(fd) }
        let copier = ExtentCopier(extentSize: record.extentSize)
        var job = JobRow(ino: row.ino, source: row.silo, destination: row.silo, extentSize: record.extentSize, size: record.size, created: 0)
        job.hashes = record.hashes
        var bad: [Int] = []
        for extent in 0..<job.extentCount {
            guard let hash = try? copier.verify(extent, of: fd, size: record.size) else {
                return VerifyResult(ino: row.ino, outcome: .unreadable, badExtents: [extent], detail: "read error at extent \(extent)")
            }
            if hash != job.hash(extent) { bad.append(extent) }
        }
        return VerifyResult(ino: row.ino, outcome: bad.isEmpty ? .ok : .mismatch, badExtents: bad,
                            detail: bad.isEmpty ? "\(job.extentCount) extents match" : "\(bad.count) extent(s) differ from their recorded hash")
    }
}

import Index
import Silos

/// What the reconcile loop remembers of moves that failed, so that a move which cannot succeed
/// is not queued again by every pass (once a minute, 1,400 failed jobs a day per file).
///
/// The memory is the jobs table itself: failed jobs since the file's last completed move. A
/// failure counts against a planned move only while nothing relevant changed: the file is still
/// on the same silo with the same size and mtime, the move goes to the same tier, and the
/// objectives were not reloaded since. Counted failures back off exponentially from the
/// reconcile interval (at least a minute), capped at six hours; after `giveUpAfter` of them the
/// move is given up until one of those things changes. Either way the file is reported as a
/// failed move (`estuary objectives check`, the FAILED column of `estuary status`) with its
/// last error, never silently dropped.
struct MoveFailures {
    struct Failure {
        var source: SiloID
        var destination: SiloID
        var size: Int64
        var mtimeNs: Int64
        var updated: Int64
        var error: String
    }

    /// Failed jobs per inode, oldest first, since its last completed move.
    private(set) var byInode: [UInt64: [Failure]] = [:]

    static let giveUpAfter = 5
    static let maximumDelay: Int64 = 6 * 3600

    /// Reads the failed jobs; `lastDone` is each inode's newest completed job id.
    static func load(_ tx: ReadTransaction, lastDone: [UInt64: Int64]) throws(IndexError) -> MoveFailures {
        var failures = MoveFailures()
        for job in try tx.failedJobs() {
            if let done = lastDone[job.ino], done > job.id { continue }
            failures.byInode[job.ino, default: []].append(Failure(
                source: job.source, destination: job.destination, size: job.size, mtimeNs: job.sourceMtime,
                updated: job.updated, error: job.error))
        }
        return failures
    }

    /// The verdict on moving `row` to `tier` now.
    enum Verdict {
        case go
        /// Not now: `retryAt` nil means given up until something relevant changes.
        case wait(attempts: Int, retryAt: Int64?, error: String)
    }

    func verdict(for row: EntryRow, to tier: String, silos: SiloSet, baseDelay: Int64, policySince: Int64, now: Int64) -> Verdict {
        let relevant = (byInode[row.ino] ?? []).filter {
            $0.source == row.silo && $0.size == row.size && $0.mtimeNs == row.mtimeNs && $0.updated >= policySince
                && silos[$0.destination]?.tier == tier
        }
        guard let last = relevant.last else { return .go }
        if relevant.count >= Self.giveUpAfter { return .wait(attempts: relevant.count, retryAt: nil, error: last.error) }
        let delay = min(Self.maximumDelay, max(60, baseDelay) << min(20, relevant.count - 1))
        let retryAt = last.updated + delay
        return now >= retryAt ? .go : .wait(attempts: relevant.count, retryAt: retryAt, error: last.error)
    }
}

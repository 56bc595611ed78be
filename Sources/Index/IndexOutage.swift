import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The index's database going away (a PostgreSQL restart, a network cut): a call meeting an
/// `unavailable` index waits for it, up to `outageWait` seconds counted from the first
/// failure, trying again every 100 ms (each try reconnects), then fails as before (EIO at the
/// FUSE boundary). Nothing else changes: the daemon keeps serving what its caches hold.
///
/// What is retried is only what cannot have happened: a read, a change inside the group-commit
/// batch (the batch it joined is lost with the connection, counted in `lostBatches` and
/// brought level by the rescan that follows), a write transaction that failed before its
/// COMMIT. A COMMIT whose answer was lost is settled by asking the engine what became of its
/// transaction (`WriterState.commitSettlingLostAnswer`): committed is a success, rolled back
/// may be run again, and one the engine cannot tell about within the wait fails, never rerun.
final class OutagePolicy: Sendable {
    /// Milliseconds; 0: fail at once.
    let waitMilliseconds = Atomic<Int>(0)
}

extension IndexStore {
    /// Seconds a call waits for an unavailable index before failing (`[pool] index_timeout`).
    public var outageWait: Double {
        get { Double(outage.waitMilliseconds.load(ordering: .relaxed)) / 1000 }
        set { outage.waitMilliseconds.store(max(0, Int(newValue * 1000)), ordering: .relaxed) }
    }

    /// Runs `body`, again while the index is unavailable and the wait has not run out.
    /// `mayRetry` says whether a failure may be retried (false after a COMMIT was sent).
    func waitingOutOutage<R>(_ body: () throws(IndexError) -> R, mayRetry: () -> Bool = { true }) throws(IndexError) -> R {
        var deadline: Double?
        while true {
            // The wait is read at every failure: a stopping daemon sets it to 0, and a thread
            // already waiting gives up then instead of holding the stop for the whole wait.
            let limit = outage.waitMilliseconds.load(ordering: .relaxed)
            do throws(IndexError) { return try body() } catch where error.kind == .unavailable && limit > 0 && mayRetry() {
                let now = monotonicSeconds()
                if deadline == nil { deadline = now + Double(limit) / 1000 }
                guard let deadline, now < deadline else { throw error }
                // A batch whose connection died is ended here (counted as lost), so the next
                // try opens a new one on a new connection.
                try? writer.withLock { state throws(IndexError) in
                    if state.batchOpen && !state.session.inTransaction {
                        state.rollback()
                        batch.lost.add(1, ordering: .relaxed)
                        batch.settlePending()
                    }
                }
                usleep(100_000)
            }
        }
    }
}

import CCounters
import CShims
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Group commit for namespace changes.
///
/// Why: a create, rename or unlink used to run its own write transaction plus one or two read
/// transactions on other sessions, each taking the engine's locks (with SQLite: its file locks,
/// dropping every reader's page cache); on a loaded 2-core machine that was most of the
/// daemon's CPU per call. It sits above the engine seam, so every engine gets it.
/// With group commit a change runs inside one open write transaction (a savepoint each, so a
/// failing change undoes only itself) and a background thread commits the batch a few
/// milliseconds after it opened. Lookups meanwhile run on the writer session, which sees
/// the batch, so the namespace answers exactly as if every change had committed.
///
/// Crash safety: the silo is always changed before the index, so a crash that loses the last
/// batch leaves the index behind the silos, never claiming data they lack; the daemon rescans
/// after an unclean stop. fsync and fsyncdir commit the batch, like a journal commit.
final class GroupCommit: Sendable {
    /// A batch is open (read without the writer lock by `query` and `read`).
    let pending = Atomic<Bool>(false)
    let running = Atomic<Bool>(false)
    /// Batches that could not be committed: the index lags the silos until a rescan.
    let lost = Atomic<Int>(0)
    /// Written once per batch to wake the committer; read end, write end.
    let wake: (Int32, Int32)
    let thread = Mutex<OSThread?>(nil)
    /// Changes queued by `changeLater`, oldest first. `pending` is set and cleared under this
    /// lock too, so it is never false while a change waits here.
    let deferred = Mutex<[DeferredChange]>([])

    init() {
        var fds: [Int32] = [-1, -1]
        if estuary_pipe_cloexec(&fds) != 0 { fds = [-1, -1] }
        for fd in fds where fd >= 0 { _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        wake = (fds[0], fds[1])
    }

    deinit {
        if wake.0 >= 0 { close(wake.0); close(wake.1) }
    }

    /// Changes per batch at most: bounds the work a crash can lose and the writer's dirty pages.
    static let maxChanges = 4096

    /// After a commit: pending again only if changes were queued meanwhile.
    func settlePending() {
        deferred.withLock { queue in pending.store(!queue.isEmpty, ordering: .releasing) }
    }
}

/// A namespace change whose index part runs after its request was answered.
public typealias DeferredChange = @Sendable (WriteTransaction) throws(IndexError) -> Void

extension IndexStore {
    /// Runs `body` as one namespace change in the current group-commit batch; it is committed
    /// within the group-commit interval, or at once when no committer runs (tools, tests).
    public func change<R>(_ body: (WriteTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        guard batch.running.load(ordering: .relaxed) else { return try write(body) }
        // A reservation's commit failing is the only COMMIT here; the batch's own commit runs
        // later on the committer thread, so a change that failed never committed.
        var committing = false
        return try waitingOutOutage({ () throws(IndexError) -> R in try changeOnce(body, &committing) }, mayRetry: { !committing })
    }

    private func changeOnce<R>(_ body: (WriteTransaction) throws(IndexError) -> R, _ committing: inout Bool) throws(IndexError) -> R {
        try writer.withLock { state throws(IndexError) -> R in
            try applyDeferred(state)
            try openBatch(state)
            let result = try state.asChange(body)
            state.batchChanges += 1
            // A number handed out must be reserved durably before the caller writes it into
            // a silo as an inode hint.
            if state.mustCommitReservation || state.batchChanges >= GroupCommit.maxChanges {
                committing = true
                do throws(IndexError) { try commitBatch(state) } catch {
                    // Rolled back for sure: this change (and the batch) never happened.
                    if state.commitRolledBack { committing = false }
                    throw error
                }
            }
            return result
        }
    }

    /// Queues a namespace change whose result nobody waits for: the request that made it is
    /// answered at once, and the change joins the batch in order, before anything else takes
    /// the writer (every read and write of the index does, or commits the batch, first). So
    /// the index answers exactly as if it had run in place. A change that fails is counted
    /// in `lostBatches`, like a batch that failed to commit: the silos are ahead of the index
    /// until the rescan that follows. Without a committer it runs at once.
    public func changeLater(_ body: @escaping DeferredChange) {
        guard batch.running.load(ordering: .relaxed) else {
            do { try write(body) } catch { batch.lost.add(1, ordering: .relaxed) }
            return
        }
        let waiting = batch.deferred.withLock { queue in
            queue.append(body)
            batch.pending.store(true, ordering: .releasing)
            return queue.count
        }
        if waiting == 1 {
            var byte: UInt8 = 1
            _ = Glibc.write(batch.wake.1, &byte, 1)
        } else if waiting >= GroupCommit.maxChanges {
            // A writer far ahead of the committer takes its own changes in.
            try? writer.withLock { state throws(IndexError) in try applyDeferred(state) }
        }
    }

    /// Runs the queued changes in order, each in its own savepoint. Writer lock held.
    func applyDeferred(_ state: WriterState) throws(IndexError) {
        let queued = batch.deferred.withLock { queue -> [DeferredChange] in
            let taken = queue
            queue = []
            return taken
        }
        for body in queued {
            try openBatch(state)
            do { try state.asChange(body) } catch { batch.lost.add(1, ordering: .relaxed) }
            state.batchChanges += 1
            if state.batchChanges >= GroupCommit.maxChanges { try commitBatch(state) }
        }
    }

    /// Opens the batch a change joins and wakes the committer. Writer lock held.
    func openBatch(_ state: WriterState) throws(IndexError) {
        guard !state.batchOpen else { return }
        try state.begin()
        state.batchOpen = true
        batch.pending.store(true, ordering: .releasing)
        var byte: UInt8 = 1
        _ = Glibc.write(batch.wake.1, &byte, 1)
    }

    /// Commits the open batch and the changes queued for it, if any. fsync, fsyncdir and
    /// unmount call this.
    public func commitPending() throws(IndexError) {
        guard batch.pending.load(ordering: .acquiring) else { return }
        try writer.withLock { state throws(IndexError) in try commitBatch(state) }
    }

    /// Must be called with the writer lock held.
    func commitBatch(_ state: WriterState) throws(IndexError) {
        try applyDeferred(state)
        guard state.batchOpen else { batch.settlePending(); return }
        let started = estuary_metrics_start()
        do throws(IndexError) {
            try state.commit()
            estuary_metrics_commit_done(started)   // commit latency, for the metrics exporter
        } catch {
            // An engine may roll back by itself (SQLite on a full disk or an I/O error); a busy
            // COMMIT stays open and the next attempt retries it.
            if !state.session.inTransaction {
                state.batchOpen = false
                state.batchChanges = 0
                batch.lost.add(1, ordering: .relaxed)
                batch.settlePending()
            }
            throw error
        }
        batch.settlePending()
    }

    /// Starts the committer thread: a batch is committed `interval` seconds after it opened.
    public func startGroupCommit(interval: Double = 0.005) {
        guard batch.wake.0 >= 0, !batch.running.exchange(true, ordering: .relaxed) else { return }
        let pause = UInt32(max(100, interval * 1e6))
        let t = OSThread.start { [self] in
            var poll = pollfd(fd: batch.wake.0, events: Int16(POLLIN), revents: 0)
            var drain = [UInt8](repeating: 0, count: 64)
            while batch.running.load(ordering: .relaxed) {
                _ = Glibc.poll(&poll, 1, 1000)
                while Glibc.read(batch.wake.0, &drain, drain.count) > 0 {}
                guard batch.pending.load(ordering: .acquiring) else { continue }
                usleep(pause)
                // A failure is counted in `lost`; the daemon logs it and rescans.
                try? commitPending()
            }
        }
        batch.thread.withLock { $0 = t }
    }

    /// Stops the committer and commits what is left; from then on changes commit at once.
    public func stopGroupCommit() throws(IndexError) {
        guard batch.running.exchange(false, ordering: .relaxed) else { return }
        var byte: UInt8 = 1
        _ = Glibc.write(batch.wake.1, &byte, 1)
        batch.thread.withLock { $0 }?.join()
        try commitPending()
    }

    /// How many batches were lost to a failed commit since the index was opened.
    public var lostBatches: Int { batch.lost.load(ordering: .relaxed) }
}

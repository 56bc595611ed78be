import CShims
import Index
import Logging
import Namespace
import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The tier mover: worker threads running move jobs from the index, hottest file first, within
/// the pool's bandwidth and concurrency limits. Jobs persist, so a restart resumes them.
public final class Mover: Sendable {
    let index: IndexStore
    let namespace: Namespace
    let silos: SiloSet
    public let heat: HeatTracker
    let throttle: Throttle
    let foreground: ForegroundActivity
    let logger: Logger
    let extentSize: Int
    private let concurrency: Int
    private let running = Atomic<Bool>(false)
    private let threads = Mutex<[OSThread]>([])
    /// Jobs taken by a worker, with their files: a file is never moved by two workers at once
    /// (two gates on one file would let writes slip past both).
    private let claimed = Mutex<[Int64: UInt64]>([:])
    /// Moves started for writes that found their silo full, by file, so writes failing together
    /// wait for one move instead of queueing one each (each would replace the one before).
    private let rescues = Mutex<[UInt64: Int64]>([:])
    private let cancelled = Mutex<Set<Int64>>([])
    /// Rung when a job is queued: an idle worker starts it at once rather than at its next poll.
    private let queued = Doorbell()
    /// Jobs recorded as finished so far, and a bell rung after each: `waitForAFinishedJob`.
    private let finishedJobs = Atomic<Int>(0)
    private let jobFinished = Doorbell()
    /// Live progress of running jobs, for status and `user.estuary.state`.
    private let live = Mutex<[UInt64: LiveProgress]>([:])
    /// This daemon in a shared index's node registry: a job runs only under its lease, so
    /// exactly one node moves a file, and a dead node's jobs pass to another. Nil: the only
    /// daemon of the pool, which runs every job.
    private let membership = Mutex<NodeMembership?>(nil)
    var node: NodeMembership? { membership.withLock { $0 } }
    /// Other nodes' answers to this node's moves, and this node's part in theirs.
    let acks = MoveAcks()
    private let peerMoves = Mutex<PeerMoves?>(nil)

    public struct LiveProgress: Sendable {
        public var id: Int64
        public var state: JobState
        public var size: Int64
        public var extents: Int
        public var extentsDone: Int
        public var bytesCopied: Int64
    }

    public init(index: IndexStore, namespace: Namespace, silos: SiloSet, heat: HeatTracker, foreground: ForegroundActivity,
                extentSize: Int, bandwidth: UInt64, concurrency: Int, logger: Logger) {
        self.index = index; self.namespace = namespace; self.silos = silos; self.heat = heat; self.foreground = foreground
        self.extentSize = extentSize; self.concurrency = max(1, concurrency); self.logger = logger
        throttle = Throttle(bytesPerSecond: bandwidth)
    }

    static func stagingName(_ id: Int64) -> [UInt8] { Array("job-\(id)".utf8) }

    /// Runs jobs as `node` of a shared index (before `start`).
    public func runAsNode(_ node: NodeMembership?) {
        membership.withLock { $0 = node }
        guard let node else { return }
        let peers = PeerMoves(namespace: namespace, index: index, silos: silos, node: node, logger: logger)
        peerMoves.withLock { $0 = peers }
        node.onSilence { silentFor in peers.recover(silentFor: silentFor) }
    }

    /// A move signal from the index listener (MoveSignals.swift): answers to this node's moves,
    /// or another node's move asking for this node's part. Ignored before `runAsNode`.
    public func receive(_ signal: MoveSignal) {
        guard let me = node?.node.id else { return }
        if signal.kind == .ack {
            if signal.to == me { acks.record(signal) }
            return
        }
        peerMoves.withLock { $0 }?.receive(signal)
    }

    public func start() {
        cleanStaging()
        running.store(true, ordering: .relaxed)
        let started = (0..<concurrency).map { _ in OSThread.start { [self] in workLoop() } }
        threads.withLock { $0 = started }
    }

    public func stop() {
        running.store(false, ordering: .relaxed)
        queued.ring()
        threads.withLock { $0 }.forEach { $0.join() }
        peerMoves.withLock { $0 }?.stop()
    }

    /// Queues a move of `ino` to `destination`; an unfinished job for the file is replaced.
    @discardableResult
    public func enqueue(_ ino: UInt64, to destination: SiloID, batch: Int64? = nil) throws(IndexError) -> JobRow? {
        guard let row = try? namespace.currentRow(ino), row.kind == .regular, row.silo != destination else { return nil }
        var job = JobRow(ino: ino, source: row.silo, destination: destination, extentSize: extentSize, size: row.size,
                         sourceMtime: row.mtimeNs, batch: batch, created: Int64(time(nil)))
        let copy = job
        let running = claimed.withLock { $0 }
        let node = node
        let (id, replacedJobs) = try index.write { tx throws(IndexError) -> (Int64, [JobRow]) in
            // A queued job a worker has taken is running: it is not replaced under the worker
            // (this node's, or another node's holding the job's lease; asked only when there
            // is such a job, so a tree of moves costs no extra round trips).
            var elsewhere: Set<String>?
            var replacedJobs: [JobRow] = []
            for other in try tx.reader.jobs() where other.ino == ino && other.state == .queued && !running.keys.contains(other.id) {
                if elsewhere == nil { elsewhere = node?.heldElsewhere() ?? [] }
                if elsewhere?.contains(LeaseRow.job(other.id)) == true { continue }
                var replaced = other
                replaced.state = .cancelled
                replaced.error = "replaced by a newer move"
                try tx.updateJob(replaced)
                replacedJobs.append(replaced)
            }
            return (try tx.insertJob(copy), replacedJobs)
        }
        job.id = id
        // A replaced job may have a staging copy from a run a crash interrupted (kept for the
        // resume): nobody resumes it now.
        replacedJobs.forEach(removeStaging)
        queued.ring()
        return job
    }

    /// Moves `ino` to `destination` now and waits for it: for a write that found its silo full.
    /// Concurrent calls for one file share one move. True when the file left the silo it was on.
    public func moveAndWait(_ ino: UInt64, to destination: SiloID, timeout: Double = 3600) -> Bool {
        guard let before = try? namespace.currentRow(ino) else { return false }
        // Another node moving the file already (a recall for its own writer, an upload): its
        // job ends first. A second job here would run a second gate on the file beside it.
        if waitForMovesElsewhere(ino, timeout: timeout),
           let now = try? index.query({ tx throws(IndexError) in try tx.entry(ino) }), now.silo != before.silo {
            namespace.refreshAfterMove(now)
            if silos[now.silo]?.isObjectStore != true { return true }
        }
        let id = rescues.withLock { r -> Int64? in
            if let id = r[ino] { return id }
            guard let job = try? enqueue(ino, to: destination) else { return nil }
            r[ino] = job.id
            return job.id
        }
        if let id {
            let deadline = monotonicSeconds() + timeout
            while monotonicSeconds() < deadline {
                if let row = try? index.query({ tx throws(IndexError) in try tx.job(id) }), row.state.isFinished { break }
                usleep(20_000)
            }
            rescues.withLock { r in if r[ino] == id { r.removeValue(forKey: ino) } }
        }
        guard let after = try? namespace.currentRow(ino) else { return false }
        return after.silo != before.silo
    }

    /// Waits while another live node runs an unfinished job of `ino`; true when there was one.
    private func waitForMovesElsewhere(_ ino: UInt64, timeout: Double) -> Bool {
        guard let node else { return false }
        let deadline = monotonicSeconds() + timeout
        var waited = false
        while monotonicSeconds() < deadline {
            guard let jobs = try? index.query({ tx throws(IndexError) in try tx.jobs() }) else { return waited }
            let mine = claimed.withLock { Set($0.keys) }
            let open = jobs.filter { $0.ino == ino && !$0.state.isFinished && !mine.contains($0.id) }
            if open.isEmpty { return waited }
            let elsewhere = node.heldElsewhere()
            if !open.contains(where: { elsewhere.contains(LeaseRow.job($0.id)) }) { return waited }
            waited = true
            usleep(20_000)
        }
        return waited
    }

    public func cancel(_ id: Int64) throws(IndexError) -> Bool {
        guard let job = try index.query({ tx throws(IndexError) in try tx.job(id) }), !job.state.isFinished else { return false }
        if job.state == .switched || job.state == .renaming { return false }   // too late: the copy is already the file
        cancelled.withLock { _ = $0.insert(id) }
        if claimed.withLock({ $0[id] == nil }) {
            var stopped = job
            stopped.state = .cancelled
            try index.write { tx throws(IndexError) in try tx.updateJob(stopped) }
            removeStaging(stopped)
            noteFinished()
        }
        return true
    }

    func noteFinished() {
        finishedJobs.add(1, ordering: .relaxed)
        jobFinished.ring()
    }

    /// Waits until a job is recorded as finished after this call began, or `seconds` pass.
    public func waitForAFinishedJob(seconds: Double) {
        let start = finishedJobs.load(ordering: .relaxed)
        let deadline = monotonicSeconds() + max(0, min(seconds, 5))
        while finishedJobs.load(ordering: .relaxed) == start {
            let left = deadline - monotonicSeconds()
            if left <= 0 { return }
            jobFinished.wait(seconds: left)
        }
    }

    func isCancelled(_ id: Int64) -> Bool { cancelled.withLock { $0.contains(id) } || !running.load(ordering: .relaxed) }

    func noteProgress(_ job: JobRow) {
        let progress = LiveProgress(id: job.id, state: job.state, size: job.size, extents: job.extentCount,
                                    extentsDone: job.doneCount, bytesCopied: job.bytesCopied)
        live.withLock { $0[job.ino] = progress }
    }

    /// "resident", or "moving 37%" while a job runs.
    public func state(of ino: UInt64) -> String {
        guard let job = live.withLock({ $0[ino] }) else { return "resident" }
        return "moving \(job.extentsDone * 100 / max(1, job.extents))%"
    }

    func forgetProgress(_ ino: UInt64) { live.withLock { _ = $0.removeValue(forKey: ino) } }

    public func liveProgress(_ id: Int64) -> LiveProgress? { live.withLock { $0.values.first { $0.id == id } } }

    /// Steps aside briefly while the mount serves reads and writes, but never more than a few
    /// milliseconds per extent: under constant load the move must still finish.
    func yieldToForeground() {
        var waited = 0
        while foreground.idleMilliseconds < 2 && waited < 5 { usleep(1000); waited += 1 }
    }

    private func workLoop() {
        while running.load(ordering: .relaxed) {
            // Every enqueue rings; the timeout only finds jobs that became due without a ring
            // (a retry after a silo came back), so an idle daemon does not query the index
            // twenty times a second per worker.
            guard let job = claimNext() else { queued.wait(seconds: 2); continue }
            run(job)
            // Released whatever the outcome: an unfinished job (shutting down, a silo offline)
            // is then free for any node at once.
            node?.release(LeaseRow.job(job.id))
            claimed.withLock { _ = $0.removeValue(forKey: job.id) }
            live.withLock { _ = $0.removeValue(forKey: job.ino) }
        }
    }

    /// The unfinished job whose file is hottest, not yet taken by another worker.
    private func claimNext() -> JobRow? {
        guard let jobs = try? index.query({ tx throws(IndexError) in try tx.jobs() }), !jobs.isEmpty else { return nil }
        let ordered = jobs.sorted { heat.score($0.ino) > heat.score($1.ino) || (heat.score($0.ino) == heat.score($1.ino) && $0.id < $1.id) }
        var refused = Set<Int64>()
        while true {
            let candidate = claimed.withLock { taken -> JobRow? in
                // A file already being moved by one worker is not taken by another, whatever the
                // index says of that worker's job meanwhile.
                let busy = Set(taken.values)
                guard let next = ordered.first(where: { taken[$0.id] == nil && !busy.contains($0.ino) && !refused.contains($0.id) }) else { return nil }
                taken[next.id] = next.ino
                return next
            }
            guard let candidate else { return nil }
            // Another node runs it (or this node's heartbeat lapsed): the job stays theirs.
            guard let node, !node.hold(LeaseRow.job(candidate.id)) else { return fresh(candidate) }
            claimed.withLock { _ = $0.removeValue(forKey: candidate.id) }
            refused.insert(candidate.id)
        }
    }

    /// The job's row as it is now that this node holds its lease: a node that died while
    /// running it recorded progress since the list was read.
    private func fresh(_ job: JobRow) -> JobRow? {
        guard node != nil else { return job }
        guard let now = try? index.query({ tx throws(IndexError) in try tx.job(job.id) }), !now.state.isFinished else {
            node?.release(LeaseRow.job(job.id))
            claimed.withLock { _ = $0.removeValue(forKey: job.id) }
            return nil
        }
        return now
    }

    private func run(_ job: JobRow) {
        var execution = MoveExecution(mover: self, job: job)
        do throws(MoveStop) {
            try execution.run()
            try? execution.persist()
            logger.info("job \(job.id): moved inode \(job.ino) to silo \(silos[job.destination]?.name ?? "?")")
        } catch {
            handle(error, &execution, job)
        }
        cancelled.withLock { _ = $0.remove(job.id) }
    }

    private func handle(_ stop: MoveStop, _ execution: inout MoveExecution, _ job: JobRow) {
        switch stop {
        case .leaseLost:
            logger.warning("job \(job.id): another node took over the move (this node was taken for dead); leaving it to that node")
        case .cancelled:
            if !running.load(ordering: .relaxed) { try? execution.persist(); return }   // shutting down: resume later
            removeStaging(job)
            execution.job.state = .cancelled
            try? execution.persist()
            logger.info("job \(job.id) cancelled; the file stays whole on silo \(silos[job.source]?.name ?? "?")")
        case .deferred(let reason):
            // Another node could not take part (yet): the source stays the file and the job is
            // retried from where it was (a staging file is kept: the retry checks it).
            try? execution.persist()
            logger.notice("job \(job.id): \(reason); retrying")
            usleep(1_000_000)
        case .failed(let reason):
            if execution.job.state != .switched { removeStaging(job) }
            let retry = reason.contains("offline")
            if !retry {
                execution.job.state = execution.job.state == .switched ? .switched : .failed
                execution.job.error = reason
            }
            try? execution.persist()
            logger.error("job \(job.id): \(reason)")
            if retry || execution.job.state == .switched { usleep(1_000_000) }
        }
    }

    private func removeStaging(_ job: JobRow) {
        guard let silo = silos[job.destination], let dir = try? silo.open(Array(".estuary/staging".utf8), flags: ESTUARY_O_PATH | O_DIRECTORY) else { return }
        defer { Sys.close(dir) }
        _ = withCPath(Mover.stagingName(job.id)) { unlinkat(dir, $0, 0) }
    }

    /// Staging files of jobs that are finished or unknown are leftovers of a crash. The names
    /// are listed before the jobs are read: a job is recorded before its staging file is
    /// made, so a file another node has just started for a new job has its job in the list.
    private func cleanStaging() {
        var found: [(silo: Silo, names: [[UInt8]])] = []
        for silo in silos.all where silo.isOnline {
            guard let fd = try? silo.open(Array(".estuary/staging".utf8), flags: O_RDONLY | O_DIRECTORY) else { continue }
            var names: [[UInt8]] = []
            var stream = DirectoryStream(fd: fd)
            while let entry = try? stream.next() { names.append(Array(entry.name)) }
            found.append((silo, names))
        }
        guard let jobs = try? index.query({ tx throws(IndexError) in try tx.jobs() }) else { return }
        let open = Set(jobs.map { Mover.stagingName($0.id) })
        for (silo, names) in found {
            guard let dir = try? silo.open(Array(".estuary/staging".utf8), flags: ESTUARY_O_PATH | O_DIRECTORY) else { continue }
            for name in names where !open.contains(name) { _ = withCPath(name) { unlinkat(dir, $0, 0) } }
            Sys.close(dir)
        }
    }
}

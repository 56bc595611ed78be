import Index
import Logging
import Namespace
import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// This node's part in moves other nodes run (MoveSignals.swift). Writes through this mount
/// go to the shared source copy like the mover's own node's writes, so they pass a gate here:
/// `gate` opens one on the file (its dirty extents are this node's writes since), `hold`
/// holds this node's writers and opens back, hands the dirty extents to the mover and opens
/// every handle of the file on the copy, and `switch` points the handles at the copy once the
/// index names it. `release` (or the mover losing its lease) lets the writers go on the source.
///
/// One thread serves the signals in the order they came, so a slow hold (writes in flight)
/// never delays invalidations on the listener's thread.
final class PeerMoves: Sendable {
    private let namespace: Namespace
    private let index: IndexStore
    private let silos: SiloSet
    private let logger: Logger
    private let node: NodeMembership
    private let inbox = Mutex<[MoveSignal]>([])
    private let bell = Doorbell()
    private let running = Atomic<Bool>(true)
    private let thread = Mutex<OSThread?>(nil)
    private let table = Table()
    private let recoveries = Mutex<[Recovery]>([])

    /// A recovery after a fence (FenceRecovery.swift) asked of the serving thread.
    private final class Recovery: Sendable {
        let silentFor: Double
        let done = Doorbell()
        /// 0 while pending, 1 done, 2 failed.
        let outcome = Atomic<Int>(0)
        init(silentFor: Double) { self.silentFor = silentFor }
    }

    /// The moves this node takes part in, by file; touched only on the serving thread.
    private final class Table: @unchecked Sendable {
        var entries: [UInt64: Entry] = [:]
    }

    private final class Entry {
        let request: MoveSignal
        let gate: MoveGate
        var held = false
        var handles: HandleSwitch?
        var since = monotonicSeconds()
        var reported = monotonicSeconds()
        init(request: MoveSignal, gate: MoveGate) { self.request = request; self.gate = gate }
    }

    /// A gate without word from its mover this long is checked against the job's lease.
    static let checkAfter = 2.0
    /// How often a gated node tells the mover which extents it wrote during the copy: without
    /// it they all waited for the hold, to be copied with every writer held (1.5 s of a 6 MiB
    /// move under random writes, at 4 MiB/s).
    static let reportEvery = 0.2

    init(namespace: Namespace, index: IndexStore, silos: SiloSet, node: NodeMembership, logger: Logger) {
        self.namespace = namespace; self.index = index; self.silos = silos; self.node = node; self.logger = logger
        let t = OSThread.start { [self] in serve() }
        thread.withLock { $0 = t }
    }

    func receive(_ signal: MoveSignal) {
        guard signal.from != node.node.id, signal.kind != .ack else { return }
        inbox.withLock { $0.append(signal) }
        bell.ring()
    }

    func stop() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        bell.ring()
        thread.withLock { $0 }?.join()
        for ino in Array(table.entries.keys) { letGo(ino, reason: nil) }
    }

    /// Levels this node's handles and caches with the index after it was silent past its
    /// validity; the heartbeat's thread waits for it. It runs on the serving thread, between
    /// signals: a hold or switch of a move that began once this node was back never runs at
    /// the same time, and finds the handles already on the file the move copies.
    func recover(silentFor: Double) -> Bool {
        let recovery = Recovery(silentFor: silentFor)
        recoveries.withLock { $0.append(recovery) }
        bell.ring()
        let start = monotonicSeconds()
        while recovery.outcome.load(ordering: .acquiring) == 0 {
            if monotonicSeconds() - start > Double(node.deadAfter) || !running.load(ordering: .relaxed) { return false }
            recovery.done.wait(seconds: 0.5)
        }
        return recovery.outcome.load(ordering: .acquiring) == 1
    }

    private func runRecoveries() {
        for recovery in recoveries.withLock({ r -> [Recovery] in let all = r; r.removeAll(); return all }) {
            let start = monotonicSeconds()
            logger.warning("""
                this node was silent for \(Int(recovery.silentFor * 10) / 10) s, longer than its validity (node_timeout less \
                \(NodeMembership.interval) s): the other nodes may have taken it for dead and moved files it holds open; \
                requests wait until its handles follow the index again
                """)
            guard let result = namespace.levelWithIndex() else {
                recovery.outcome.store(2, ordering: .releasing)
                recovery.done.ring()
                continue
            }
            logger.notice("""
                fence lifted after \(Int((monotonicSeconds() - start) * 1000)) ms: \(result.checked) open handle(s) checked, \
                \(result.repointed) pointed at their file's current copy, \(result.failed) could not follow it
                """)
            recovery.outcome.store(1, ordering: .releasing)
            recovery.done.ring()
        }
    }

    private func serve() {
        while running.load(ordering: .relaxed) {
            runRecoveries()
            let signals = inbox.withLock { s -> [MoveSignal] in let all = s; s.removeAll(); return all }
            for signal in signals { handle(signal) }
            reportDirty()
            checkSilentMovers()
            if signals.isEmpty { bell.wait(seconds: table.entries.isEmpty ? 1 : PeerMoves.reportEvery) }
        }
    }

    private func handle(_ signal: MoveSignal) {
        let current = table.entries[signal.ino]
        let mine = current.map { $0.request.job == signal.job && $0.request.attempt == signal.attempt } ?? false
        switch signal.kind {
        case .gate:
            if mine { return answer(signal, ok: true) }
            if let current {
                // An earlier run the mover gave up on without a word that came through, or a
                // second mover of the file: the older one goes only if its lease has gone.
                guard !moverStillRuns(current.request) else { return answer(signal, ok: false, "the file has a move gate already") }
                letGo(signal.ino, reason: "superseded by job \(signal.job)")
            }
            guard let gate = namespace.beginPeerMove(signal.ino, extentSize: signal.extentSize) else {
                return answer(signal, ok: false, "the file has a move gate already")
            }
            table.entries[signal.ino] = Entry(request: signal, gate: gate)
            answer(signal, ok: true)
        case .hold:
            guard mine, let entry = current else { return answer(signal, ok: false, "no gate since the copy began") }
            hold(entry, signal)
        case .switchOver:
            guard mine, let entry = current, entry.held else { return answer(signal, ok: false, "not held") }
            let failed = switchOver(entry)
            answer(signal, ok: failed == 0, failed == 0 ? "" : "\(failed) handle(s) stayed on the old copy")
        case .dirty:
            return
        case .release:
            guard mine, let entry = current else { return }
            // The index names the copy already (a release crossing the switch): follow it.
            if entry.held, let row = try? index.query({ tx throws(IndexError) in try tx.entry(signal.ino) }), row.silo == signal.destination {
                _ = switchOver(entry)
            } else {
                letGo(signal.ino, reason: nil)
            }
        case .ack:
            return
        }
    }

    /// Sends the extents written through this node since the last report, for every gate not
    /// yet held (a held gate's go with the hold's answer). Sent in order with the hold's answer
    /// on one session, so the mover has every report before that answer.
    private func reportDirty() {
        let now = monotonicSeconds()
        for entry in table.entries.values where !entry.held && now - entry.reported >= PeerMoves.reportEvery {
            entry.reported = now
            let dirty = entry.gate.takeDirty()
            if dirty.isEmpty { continue }
            var report = entry.request.ack(from: node.node.id, ok: true, detail: MoveSignal.extentList(dirty))
            report.answers = .dirty
            do { try node.send(report) } catch {
                // Not lost: they go with the hold's answer instead.
                logger.warning("could not report job \(entry.request.job)'s written extents: \(error)")
                entry.gate.putBackDirty(dirty)
            }
        }
    }

    /// Writers and opens wait from here until the switch or the release; this node's size and
    /// times reach the index first (the mover takes the row from it).
    private func hold(_ entry: Entry, _ signal: MoveSignal) {
        if !entry.held {
            entry.gate.beginSwitch()
            entry.held = true
            namespace.flushMetadata(entry.request.ino)
            try? index.commitPending()
        }
        entry.since = monotonicSeconds()
        let dirty = entry.gate.takeDirty()
        do {
            entry.handles = try prepare(entry, renamed: signal.renamed)
        } catch {
            letGo(entry.request.ino, reason: nil)
            return answer(signal, ok: false, "cannot open the copy for this node's handles: \(error)")
        }
        answer(signal, ok: true, MoveSignal.extentList(dirty))
    }

    /// Every handle of the file opened on the copy, before the index names it. Into a bucket
    /// the copy is an object no descriptor can hold: each handle is opened read-only on the
    /// local file instead, whose bytes are the object's (writers are held from here), and a
    /// write through it later fails with EBADF and recalls the file first (Namespace.write).
    private func prepare(_ entry: Entry, renamed: Bool) throws(Errno) -> HandleSwitch {
        let request = entry.request
        guard let destination = silos[request.destination] else { throw Errno.noSuchFileOrDirectory }
        if destination.isObjectStore {
            let row = try namespace.currentRow(request.ino)
            guard let source = silos[row.silo], !source.isObjectStore else { throw Errno.ioError }
            let path = try namespace.relativePath(of: row)
            return try namespace.prepareHandleSwitch(request.ino) { _ throws(Errno) -> Int32 in
                try source.open(path, flags: O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
            }
        }
        let path: [UInt8]
        if renamed { path = try namespace.relativePath(of: try namespace.currentRow(request.ino)) }
        else { path = Array(".estuary/staging/".utf8) + Mover.stagingName(request.job) }
        return try namespace.prepareHandleSwitch(request.ino) { flags throws(Errno) -> Int32 in
            try destination.open(path, flags: flags | O_CLOEXEC)
        }
    }

    /// The index names the copy now: handles go to it, the cached row is the new one, and
    /// writers go on. Returns how many handles could not be switched.
    private func switchOver(_ entry: Entry) -> Int {
        let ino = entry.request.ino
        defer { table.entries.removeValue(forKey: ino); entry.gate.endSwitch(); namespace.endMove(ino) }
        guard let row = try? index.query({ tx throws(IndexError) in try tx.entry(ino) }), row.silo == entry.request.destination,
              let handles = entry.handles.take() else {
            // The handles stay on the source: the mover must keep it.
            logger.error("inode \(ino): told to switch to silo \(entry.request.destination), which the index does not name")
            return 1
        }
        return namespace.switchHandles(handles, to: row)
    }

    /// Ends this node's part: prepared descriptors closed, writers go on with the source.
    private func letGo(_ ino: UInt64, reason: String?) {
        guard let entry = table.entries.removeValue(forKey: ino) else { return }
        _ = entry.handles.take()
        if entry.held { entry.gate.endSwitch() }
        namespace.endMove(ino)
        if let reason { logger.notice("inode \(ino): released the gate of job \(entry.request.job) (\(reason))") }
    }

    /// A mover that died or gave up without a word that came through: once its job's lease is
    /// no longer its, it can no longer switch the index (the switch is fenced by the lease).
    /// If it had switched, this node follows the copy; else the writers go on with the source.
    private func checkSilentMovers() {
        let now = monotonicSeconds()
        for (ino, entry) in table.entries where now - entry.since > PeerMoves.checkAfter {
            entry.since = now
            guard !moverStillRuns(entry.request) else { continue }
            if entry.held, let row = try? index.query({ tx throws(IndexError) in try tx.entry(ino) }), row.silo == entry.request.destination {
                let failed = switchOver(entry)
                logger.notice("inode \(ino): the mover of job \(entry.request.job) went silent after the switch; \(failed) handle(s) left on the old copy")
            } else {
                letGo(ino, reason: "its mover no longer holds the job")
            }
        }
    }

    /// Whether the node that asked still holds the job's lease (true when the database cannot
    /// be asked: nothing is decided on a guess).
    private func moverStillRuns(_ request: MoveSignal) -> Bool {
        guard let holder = try? node.liveHolder(of: LeaseRow.job(request.job)) else { return true }
        return holder == request.from
    }

    private func answer(_ request: MoveSignal, ok: Bool, _ detail: String = "") {
        do { try node.send(request.ack(from: node.node.id, ok: ok, detail: detail)) }
        catch { logger.warning("could not answer job \(request.job)'s \(request.kind.rawValue): \(error)") }
    }
}

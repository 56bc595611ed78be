import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The pool's index: one writer session and a pool of reader sessions of an engine (SQLite
/// by default). Transactions are closures; a busy write lock reruns the BEGIN. Group commit,
/// write-behind and the inode counter live here, above the engine seam (`IndexEngine`).
public final class IndexStore: Sendable {
    public let engine: any IndexEngine
    let writer: Mutex<WriterState>
    private let readers: Mutex<[any IndexSession]>
    let batch: GroupCommit
    let presence: RowPresence
    let outage = OutagePolicy()
    /// Numbers a create may take without the writer (ReservedInodes.swift).
    let inodeBlock = InodeBlock()

    /// Opens (creating if needed) the SQLite index at `path` and applies pending migrations.
    public convenience init(path: String) throws(IndexError) {
        try self.init(engine: SQLiteEngine(path: path))
    }

    /// Opens the index `engine` keeps: its writer session migrates the schema.
    public init(engine: any IndexEngine) throws(IndexError) {
        self.engine = engine
        let session = try engine.openWriter()
        let next = try session.meta("next_ino").flatMap { UInt64($0) } ?? 2
        // Another daemon may add links or shadows unseen: the shortcuts stay off.
        presence = engine.isShared ? RowPresence(shadows: true, links: true)
            : RowPresence(shadows: try session.hasAnyShadows(), links: try session.hasAnyLinks())
        writer = Mutex(WriterState(session: session, nextInode: next, presence: presence, shared: engine.isShared,
                                   handedOut: inodeBlock, outage: outage))
        readers = Mutex([])
        batch = GroupCommit()
    }

    /// Where the index lives, for messages.
    public var path: String { engine.location }

    /// Whether other daemons write this index too: rows this one holds in memory may be
    /// stale, so a change that depends on a row's counts reads them in its transaction.
    public var isShared: Bool { engine.isShared }

    /// False while the index has held no shadow row since it was opened: then no entry has
    /// hidden copies, and unlink and rename skip asking for them (a query on every call).
    public var mayHoldShadows: Bool { presence.shadows.load(ordering: .acquiring) }
    /// False while the index has held no hard-link row since it was opened: a name that is no
    /// entry's first name is then absent, without a second query (every create's lookup).
    public var mayHoldLinks: Bool { presence.links.load(ordering: .acquiring) }

    /// Names of the migrations applied to this index, oldest first.
    public func appliedMigrations() throws(IndexError) -> [String] {
        try read { tx throws(IndexError) in try tx.session.appliedMigrations() }
    }

    /// Runs `body` in a write transaction and always rolls it back: what a change would do,
    /// without doing it (`estuary fsck` without --repair).
    public func dryRun<R>(_ body: (WriteTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        try writer.withLock { state throws(IndexError) -> R in
            try commitBatch(state)
            try state.begin()
            defer { state.session.rollback() }
            return try body(WriteTransaction(state: state))
        }
    }

    /// Runs `body` in one write transaction and commits it before returning, together with any
    /// namespace changes still waiting in the group-commit batch (see `change`). A failing body
    /// leaves no trace in the index; BEGIN waits while another process holds the write lock.
    public func write<R>(_ body: (WriteTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        var committing = false
        return try waitingOutOutage({ () throws(IndexError) -> R in
            try writer.withLock { state throws(IndexError) -> R in
                try applyDeferred(state)
                if state.batchOpen {
                    let result = try state.asChange(body)
                    committing = true
                    do throws(IndexError) { try commitBatch(state) } catch {
                        if state.commitRolledBack { committing = false }
                        throw error
                    }
                    return result
                }
                try state.begin()
                let result: R
                do throws(IndexError) {
                    result = try body(WriteTransaction(state: state))
                    committing = true
                    try state.commit()
                } catch {
                    // A COMMIT known to have rolled back did nothing: it may run again.
                    if state.commitRolledBack { committing = false }
                    state.rollback()
                    throw error
                }
                return result
            }
        }, mayRetry: { !committing })
    }

    /// Runs `body` on a reader session inside one read transaction (a consistent snapshot).
    /// Namespace changes waiting in the group-commit batch are committed first, so the snapshot
    /// holds every change made before the call.
    public func read<R>(_ body: (ReadTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        try waitingOutOutage { () throws(IndexError) -> R in try readOnce(body) }
    }

    private func readOnce<R>(_ body: (ReadTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        if batch.pending.load(ordering: .acquiring) { try commitPending() }
        let session = try takeReader()
        defer { returnReader(session) }
        try session.beginRead()
        defer { session.endRead() }
        return try body(ReadTransaction(session: session))
    }

    /// Runs `body` on a reader session in autocommit mode: cheapest for a single statement.
    /// While namespace changes wait in the group-commit batch, the query runs on the writer
    /// session, which sees them; a lookup right after a create finds the new entry.
    public func query<R>(_ body: (ReadTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        try waitingOutOutage { () throws(IndexError) -> R in try queryOnce(body) }
    }

    private func queryOnce<R>(_ body: (ReadTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        if batch.pending.load(ordering: .acquiring) {
            let answered = try writer.withLock { state throws(IndexError) -> R? in
                try applyDeferred(state)
                return state.batchOpen ? try body(ReadTransaction(session: state.session)) : nil
            }
            if let answered { return answered }
        }
        // The writer's cache stays valid across commits (nobody else writes), while a reader's
        // is dropped whenever the index changed since its last use (SQLite's page cache): an
        // idle writer answers faster. A busy one is not waited for.
        if let answered = try writer.withLockIfAvailable({ state throws(IndexError) -> R in
            try body(ReadTransaction(session: state.session))
        }) { return answered }
        let session = try takeReader()
        defer { returnReader(session) }
        return try body(ReadTransaction(session: session))
    }

    /// Runs `body` on the writer session under the writer lock: it sees every change of this
    /// store, committed or still in its batch, and no change of this store runs meanwhile.
    /// For reads that a change made here must not overtake (the namespace taking another
    /// node's rows: a reader session would miss this node's own change still in its batch,
    /// and the row read before it would replace the one written after).
    public func readAtWriter<R>(_ body: (ReadTransaction) throws(IndexError) -> R) throws(IndexError) -> R {
        try waitingOutOutage { () throws(IndexError) -> R in
            try writer.withLock { state throws(IndexError) -> R in
                try applyDeferred(state)
                return try body(ReadTransaction(session: state.session))
            }
        }
    }

    private func takeReader() throws(IndexError) -> any IndexSession {
        if let s = readers.withLock({ $0.popLast() }) { return s }
        return try engine.openReader()
    }

    private func returnReader(_ s: any IndexSession) {
        readers.withLock { if $0.count < 64 { $0.append(s) } }
    }

    /// Runs the engine's consistency check; returns the problems found (empty when sound).
    public func quickCheck() throws(IndexError) -> [String] {
        try query { tx throws(IndexError) in try tx.session.integrityProblems() }
    }
}

/// The writer session and the inode counter it alone advances. Guarded by `IndexStore.writer`.
final class WriterState: @unchecked Sendable {
    let session: any IndexSession
    var nextInode: UInt64
    /// `next_ino` as committed: every number handed out is below it once its change commits,
    /// so numbers are never reused, even after a crash that loses the last batch.
    var reservedInode: UInt64
    /// A group-commit batch is open: the write transaction began and has not committed.
    var batchOpen = false
    var batchChanges = 0
    let presence: RowPresence
    /// Other daemons write the same index: inode numbers come in blocks from the shared
    /// counter, and each batch publishes what it changed (SharedWriters.swift).
    let shared: Bool
    /// A block was reserved in the open transaction: it must commit before a number from it
    /// is written anywhere else (an inode hint in a silo).
    var reservationUncommitted = false
    /// What the open batch changed, for the other writers (shared only).
    var changedInodes: [UInt64] = []
    var changedNames: [(UInt64, [UInt8])] = []
    /// This writer's id in published changes, so its listener skips its own.
    let writerID = UInt64.random(in: 1...UInt64.max)
    /// The block creates take numbers from without the writer lock.
    let handedOut: InodeBlock
    /// How long a COMMIT whose answer was lost waits for the engine to say what became of it.
    let outage: OutagePolicy
    /// The last `commit` failed and the engine said its transaction rolled back: nothing of it
    /// happened (a retry is safe), unlike a COMMIT whose outcome is unknown.
    private(set) var commitRolledBack = false

    init(session: any IndexSession, nextInode: UInt64, presence: RowPresence, shared: Bool = false, handedOut: InodeBlock = InodeBlock(),
         outage: OutagePolicy = OutagePolicy()) {
        self.session = session; self.nextInode = nextInode; reservedInode = nextInode; self.presence = presence
        self.shared = shared; self.handedOut = handedOut; self.outage = outage
    }

    /// The next inode number; with a shared index a new block is taken when this one is used up.
    func allocateInode() throws(IndexError) -> UInt64 {
        if shared && nextInode >= reservedInode {
            let start = try session.reserveInodes(from: nextInode, count: WriterState.inodeReserve)
            nextInode = start
            reservedInode = start + WriterState.inodeReserve
            reservationUncommitted = true
        }
        let ino = nextInode
        nextInode += 1
        return ino
    }

    /// Whether the open batch must commit now: a reserved block must be durable before its
    /// numbers leave the daemon.
    var mustCommitReservation: Bool { shared ? reservationUncommitted : nextInode >= reservedInode }

    func noteChanged(_ ino: UInt64) { if shared { changedInodes.append(ino) } }
    func noteChanged(parent: UInt64, name: [UInt8]) { if shared { changedNames.append((parent, name)) } }

    /// Begins a write transaction, retried while another process holds the write lock.
    func begin() throws(IndexError) {
        var attempt = 0
        while true {
            attempt += 1
            do throws(IndexError) { try session.beginWrite(); return }
            catch where error.isBusy && attempt < 20 { usleep(UInt32(1000 * attempt)) }
        }
    }

    /// Reserves inode numbers in steps, so a busy create path rewrites `next_ino` once per
    /// `inodeReserve` creates rather than in every transaction.
    func commit() throws(IndexError) {
        var reserved = reservedInode
        if shared {
            if !changedInodes.isEmpty || !changedNames.isEmpty {
                try session.publish(RemoteChange.encode(writer: writerID, inodes: changedInodes, names: changedNames))
            }
        } else if nextInode >= reservedInode {
            reserved = nextInode + WriterState.inodeReserve
            try session.setMeta("next_ino", String(reserved))
        }
        try commitSettlingLostAnswer()
        reservedInode = reserved
        reservationUncommitted = false
        changedInodes.removeAll(keepingCapacity: true)
        changedNames.removeAll(keepingCapacity: true)
        batchOpen = false
        batchChanges = 0
    }

    /// COMMIT; when the connection went before its answer came, the engine is asked what
    /// became of the transaction (again every 100 ms while it cannot tell, up to the outage
    /// wait): committed is a success, rolled back fails with `commitRolledBack` set, unknown
    /// fails as the COMMIT did. Before this a committed change was reported as EIO.
    private func commitSettlingLostAnswer() throws(IndexError) {
        commitRolledBack = false
        do throws(IndexError) { try session.commit() } catch where error.kind == .unavailable {
            let deadline = monotonicSeconds() + Double(outage.waitMilliseconds.load(ordering: .relaxed)) / 1000
            while true {
                switch session.lostCommitOutcome() {
                case .committed: return
                case .notCommitted: commitRolledBack = true; throw error
                case .unknown:
                    guard monotonicSeconds() < deadline, outage.waitMilliseconds.load(ordering: .relaxed) > 0 else { throw error }
                    usleep(100_000)
                }
            }
        }
    }

    /// Numbers handed out in a rolled-back transaction are skipped, never handed out again
    /// (with a shared index, the block's reservation went with it: the next number comes from
    /// a new block above it).
    func rollback() {
        session.rollback()
        if reservationUncommitted { reservedInode = nextInode; reservationUncommitted = false }
        changedInodes.removeAll(keepingCapacity: true)
        changedNames.removeAll(keepingCapacity: true)
        batchOpen = false
        batchChanges = 0
    }

    /// `body` as one change inside the open transaction (a savepoint, so that a failure undoes
    /// only that change, not the batch around it).
    ///
    /// With a shared index another node's batch may hold a row this change needs; a deadlock
    /// or serialisation failure (`busy`) undid only this change, so it is run again, a few
    /// times, after the other batch had time to commit.
    func asChange<R>(_ body: (WriteTransaction) throws(IndexError) -> R) throws(IndexError) -> sending R {
        var attempt = 0
        while true {
            attempt += 1
            do throws(IndexError) { return try asChangeOnce(body) }
            catch where shared && error.isBusy && attempt < 5 {
                // The batch so far commits first: the other node may be waiting for a row one
                // of its changes locked, and would wait again, whatever this one retried.
                try commit()
                try begin()
                batchOpen = true
                usleep(UInt32(1000 * attempt))
            }
        }
    }

    private func asChangeOnce<R>(_ body: (WriteTransaction) throws(IndexError) -> R) throws(IndexError) -> sending R {
        try session.beginChange()
        let result: R
        do throws(IndexError) { result = try body(WriteTransaction(state: self)) } catch {
            try? session.endChange(succeeded: false)
            throw error
        }
        try session.endChange(succeeded: true)
        return result
    }

    static let inodeReserve: UInt64 = 4096
}

/// Whether the shadows and links tables may hold rows. Each is set before such a row is
/// written and never cleared while the store is open, so "false" is always true. The daemon
/// is the index's only writer while it runs (the pool lock), so no row appears unseen.
final class RowPresence: Sendable {
    let shadows: Atomic<Bool>
    let links: Atomic<Bool>
    init(shadows: Bool, links: Bool) { self.shadows = Atomic(shadows); self.links = Atomic(links) }
}

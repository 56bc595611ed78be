import Syscalls

/// The seam between the index and the database engine that stores it.
///
/// Why a narrow interface: everything above it (group commit, write-behind of deferred
/// changes, the inode counter, the row-presence shortcuts, path resolution and tree walks)
/// is the same whichever engine keeps the rows, so an engine only implements typed row
/// operations and transaction control, in the manner of JuiceFS's `do*` engine methods. No
/// caller outside `Sources/Index` sees SQL, a connection or an engine's result codes.
///
/// An engine hands out sessions. `IndexStore` uses one session as the pool's only writer and
/// a pool of reader sessions; each session is used by one thread at a time.
public protocol IndexEngine: Sendable {
    /// Where the index lives (a file path, a URI), for messages. Never holds a password.
    var location: String { get }
    /// The names of the migrations this build applies, in order. Engines share the names, so
    /// a pool's schema version means the same on every engine.
    var migrations: [String] { get }
    /// Opens the writer session: creates the schema if needed and applies pending migrations
    /// (each once, by name). Throws `.versionMismatch` when the index holds a migration this
    /// build does not know, i.e. a newer Estuary wrote it.
    func openWriter() throws(IndexError) -> any IndexSession
    /// Opens another session for reading (a snapshot per read transaction). Creates nothing;
    /// an engine opened read-only checks the schema version here (`.versionMismatch`).
    func openReader() throws(IndexError) -> any IndexSession
    /// Several daemons may write this index at once (see SharedWriters.swift).
    var isShared: Bool { get }
    /// A listener for the changes other writers publish; nil for an engine that has none.
    func openListener() throws(IndexError) -> (any IndexListener)?
}

/// One session with the engine (a connection): transaction control plus every typed query and
/// change of the index. Not thread-safe: `IndexStore` gives each to one thread at a time.
///
/// Outside a transaction each call runs on its own (autocommit).
public protocol IndexSession: AnyObject, Sendable, IndexRowReads, IndexRowWrites {
    /// Starts a read transaction: every read until `endRead` sees one consistent snapshot.
    func beginRead() throws(IndexError)
    func endRead()
    /// Starts a write transaction holding the index's write lock. Throws `.busy` at once when
    /// another process holds it beyond the engine's own short wait; `IndexStore` retries.
    func beginWrite() throws(IndexError)
    func commit() throws(IndexError)
    /// After `commit` threw `.unavailable` (the connection went with the COMMIT sent, so the
    /// answer was lost): whether the transaction committed after all, asked of the engine
    /// again. `.unknown` while it cannot tell (the server is still away).
    func lostCommitOutcome() -> CommitOutcome
    func rollback()
    /// Whether a transaction is open. After a failed `commit` an engine may have rolled back
    /// by itself (a full disk) or kept the transaction open to retry (busy).
    var inTransaction: Bool { get }
    /// A nested savepoint inside the write transaction, so one change can be undone alone.
    func beginChange() throws(IndexError)
    func endChange(succeeded: Bool) throws(IndexError)

    /// Takes `count` inode numbers at or above `minimum` from the shared counter (SharedWriters.swift).
    func reserveInodes(from minimum: UInt64, count: UInt64) throws(IndexError) -> UInt64
    /// Publishes `payload` to the other writers' listeners when the transaction commits.
    func publish(_ payload: String) throws(IndexError)
    /// The node registry of a shared index (NodeRegistry.swift); autocommit.
    func registerNode(_ node: NodeRow) throws(IndexError)
    /// Renews `id`'s heartbeat; false when its row is gone (declared dead and removed).
    func renewNode(_ id: String, at time: Int64) throws(IndexError) -> Bool
    func removeNode(_ id: String) throws(IndexError)
    func nodes() throws(IndexError) -> [NodeRow]
    /// The database's clock (unix seconds): heartbeats and leases are judged by one clock,
    /// whatever the nodes' clocks say.
    func serverClock() throws(IndexError) -> Int64
    /// Removes the rows (and leases) of nodes silent for `seconds`: long dead, not just late.
    func forgetNodes(silentFor seconds: Int64) throws(IndexError)
    /// Builds the missing name-search indexes (0007-name-search) in autocommit, outside any
    /// transaction, while other sessions go on writing, where the engine can (PostgreSQL:
    /// CONCURRENTLY). False when it cannot: the caller builds them in a write transaction.
    func buildSearchIndexesBesideWriters() throws(IndexError) -> Bool
    /// Removes the rows (and leases) of earlier daemons on `node`'s host and mount point: a
    /// restarted node's predecessor is dead for sure (one daemon per mount point), so its
    /// leases pass at once rather than after the dead time.
    func forgetPredecessors(of node: NodeRow) throws(IndexError)
    /// Leases (Leases.swift): takes `name` for `node` when it is free, already `node`'s, or
    /// held by a node whose heartbeat is older than `deadAfter` seconds; true when `node` holds it.
    func takeLease(_ name: String, node: String, deadAfter: Int64) throws(IndexError) -> Bool
    /// Whether `node` holds `name` now (inside a write: the fence of a change made under it).
    func holdsLease(_ name: String, node: String) throws(IndexError) -> Bool
    /// The nodes alive now (a heartbeat within `deadAfter`), every registry row share-locked
    /// until the write commits: no heartbeat lands meanwhile (inside a write).
    func lockLiveNodes(deadAfter: Int64) throws(IndexError) -> Set<String>
    func releaseLease(_ name: String, node: String) throws(IndexError)
    func leases() throws(IndexError) -> [LeaseRow]
    /// Sends `payload` to every node's listener at once (autocommit): the moves' signals
    /// between nodes (MoveSignals.swift).
    func signal(_ payload: String) throws(IndexError)
    /// Inside a write: the entry `ino`, its row locked until the transaction ends, so that a
    /// change computed from its counts is not computed from a copy another writer changes
    /// meanwhile (a shared index; one writer at a time needs no lock).
    func lockedEntry(_ ino: UInt64) throws(IndexError) -> EntryRow?

    /// Names of the migrations applied to this index, oldest first.
    func appliedMigrations() throws(IndexError) -> [String]
    /// The engine's own consistency check; the problems found (empty when sound).
    func integrityProblems() throws(IndexError) -> [String]
}

/// What became of a transaction whose COMMIT lost its answer.
public enum CommitOutcome: Sendable {
    case committed
    /// Rolled back: nothing of it happened, so it may be run again.
    case notCommitted
    /// Not known (yet): it may have committed.
    case unknown
}

extension IndexSession {
    /// An engine whose COMMIT cannot lose its answer that way (SQLite, in process) cannot tell.
    public func lostCommitOutcome() -> CommitOutcome { .unknown }
}

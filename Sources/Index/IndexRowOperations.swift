import Syscalls

/// The typed reads an engine answers. Each is one query (or a few) with no policy: the
/// combinations callers use (path resolution, walks, link fallbacks) live above the seam, in
/// `ReadTransaction`, once for every engine.
public protocol IndexRowReads: AnyObject {
    // Entries and names
    func entry(_ ino: UInt64) throws(IndexError) -> EntryRow?
    /// The rows of those of `inodes` that exist, in no particular order: a statement per few
    /// hundred inodes instead of one per inode (`estuary find --tag`'s candidates).
    func entries(inodes: [UInt64]) throws(IndexError) -> [EntryRow]
    /// The entry whose first name is `name` in `parent` (hard-link names not consulted).
    func entry(parent: UInt64, firstName name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> EntryRow?
    /// The inode a hard-link name (not a first name) refers to.
    func linkedInode(parent: UInt64, name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> UInt64?
    /// Every name in `parent` (first names in name order, then link names) with inode and kind.
    func listing(of parent: UInt64) throws(IndexError) -> [ListedName]
    /// Entries whose first name is in `parent`, in name order.
    func firstNameRows(in parent: UInt64) throws(IndexError) -> [EntryRow]
    /// Entries with a hard-link name in `parent`, in link-name order; each row carries the
    /// link's parent and name.
    func linkRows(in parent: UInt64) throws(IndexError) -> [EntryRow]
    /// Entries whose first name is in `parent`, keyed by name (no order: the scanner's lookup).
    func firstNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: EntryRow]
    func linkNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: UInt64]
    /// Every hard-link name of the pool.
    func allLinks() throws(IndexError) -> [(parent: UInt64, name: [UInt8], ino: UInt64)]
    /// One hard-link name of `ino`, if it has any.
    func anyLink(of ino: UInt64) throws(IndexError) -> (parent: UInt64, name: [UInt8])?
    func isLink(parent: UInt64, name: [UInt8]) throws(IndexError) -> Bool
    /// Entries whose first name passes `match`, in no particular order, through the name
    /// index (migration 0007-name-search) where the engine has it.
    func entries(named match: NameMatch) throws(IndexError) -> [EntryRow]
    /// Entries with a hard-link name passing `match`; each row carries the link's parent and name.
    func linkRows(named match: NameMatch) throws(IndexError) -> [EntryRow]
    /// Calls `body` with every directory (the root included) and every other entry passing
    /// `filter`, in inode order: one pass over the table, for queries that must look at every
    /// row, in which rows the filter rejects are never decoded.
    func forEachEntry(directoriesAnd filter: RowFilter, _ body: (EntryRow) -> Void) throws(IndexError)
    func hasAnyLinks() throws(IndexError) -> Bool
    func hasAnyShadows() throws(IndexError) -> Bool
    /// The largest inode number in use (1 for an empty pool).
    func maxInode() throws(IndexError) -> UInt64
    /// Number of entries, the root excluded.
    func entryCount() throws(IndexError) -> Int64
    /// Entries whose data (files) or attributes (directories) `silo` holds, plus directories it merges into.
    func entryCount(silo: SiloID) throws(IndexError) -> Int64
    /// `entryCount(silo:)` of every silo holding anything, from one pass over the table.
    func entryCounts() throws(IndexError) -> [SiloID: Int64]
    func regularFiles(on silo: SiloID) throws(IndexError) -> [UInt64]

    // Extended attributes (tags)
    func xattrs(of ino: UInt64) throws(IndexError) -> [(name: [UInt8], value: [UInt8])]
    func xattr(of ino: UInt64, name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> [UInt8]?
    func inodes(withXattr name: [UInt8], value: [UInt8]?) throws(IndexError) -> Set<UInt64>
    func xattrValues(named name: [UInt8]) throws(IndexError) -> [UInt64: [UInt8]]
    /// Calls `body` with every extended attribute of the pool.
    func forEachXattr(_ body: (UInt64, [UInt8], [UInt8]) -> Void) throws(IndexError)
    /// Whether tag lookups by name and value are indexed (rather than answered by a scan).
    func hasTagIndex() throws(IndexError) -> Bool
    /// Whether the name-search indexes (0007-name-search) are in place; a first scan drops
    /// them while it loads.
    func hasSearchIndexes() throws(IndexError) -> Bool

    // Shadows
    func shadows(of ino: UInt64) throws(IndexError) -> [ShadowRow]
    /// Shadows of the pool in inode order, at most `limit`.
    func shadowRows(limit: Int) throws(IndexError) -> [ShadowRow]
    func shadows(in parent: UInt64, silo: SiloID) throws(IndexError) -> [UInt64: ShadowRow]
    func shadowCount() throws(IndexError) -> Int64

    // Silos and settings
    func silos() throws(IndexError) -> [SiloRow]
    func drainingSilos() throws(IndexError) -> Set<SiloID>
    func meta(_ key: String) throws(IndexError) -> String?

    // Tiering: heat, jobs, checksums
    func heatRow(_ ino: UInt64) throws(IndexError) -> (score: Double, updated: Int64, extents: [UInt8])?
    func heat(limit: Int) throws(IndexError) -> [(ino: UInt64, score: Double, updated: Int64)]
    func job(_ id: Int64) throws(IndexError) -> JobRow?
    /// Jobs, newest first; only unfinished ones unless `all`.
    func jobs(all: Bool, limit: Int) throws(IndexError) -> [JobRow]
    /// Failed jobs, oldest first, without their extent maps.
    func failedJobs() throws(IndexError) -> [FailedJob]
    /// Per inode, the newest completed job: when it finished and its id.
    func completedMoves() throws(IndexError) -> [UInt64: (updated: Int64, id: Int64)]
    /// Inodes with a job updated at or after `since` (unix seconds).
    func inodesWithJobs(since: Int64) throws(IndexError) -> Set<UInt64>
    func hasJob(for ino: UInt64, since: Int64) throws(IndexError) -> Bool
    func checksums(of ino: UInt64) throws(IndexError) -> ChecksumRow?
}

/// The typed changes an engine applies, inside the transaction `IndexStore` opened.
public protocol IndexRowWrites: AnyObject {
    /// Drops (false) or builds where missing (true) the name-search indexes of 0007-name-search.
    func setSearchIndexes(_ present: Bool) throws(IndexError)
    /// Inserts `row` under `row.ino`; `.conflict` when the inode or the name is taken.
    func insertEntry(_ row: EntryRow) throws(IndexError)
    /// Inserts `rows`, in order, as `insertEntry` would one by one.
    func insertEntries(_ rows: [EntryRow]) throws(IndexError)
    /// Rewrites every column of the entry `row.ino`.
    func updateEntry(_ row: EntryRow) throws(IndexError)
    /// Size, blocks, times, mode and link count of `row.ino`, leaving name and placement alone.
    func updateData(_ row: EntryRow) throws(IndexError)
    /// Times and link count of the directory `row.ino` after a change inside it: not its mode
    /// or owner, which another node may have changed since this one read the row.
    func updateDirectoryTimes(_ row: EntryRow) throws(IndexError)
    /// Size, blocks and times of the file `row.ino` after writes: not its mode or link count,
    /// which a link, unlink or chmod (here or on another node) records itself, and which this
    /// node's copy may hold from before one.
    func updateSizeAndTimes(_ row: EntryRow) throws(IndexError)
    /// `columns` and the change time of `row.ino` (a setattr): nothing it did not change.
    func updateAttributes(_ row: EntryRow, _ columns: AttributeColumns) throws(IndexError)
    func setName(_ ino: UInt64, parent: UInt64, name: [UInt8], ctime: Int64) throws(IndexError)
    /// Sets a link count, writing nothing when it is already that value.
    func setLinkCount(_ ino: UInt64, _ nlink: UInt64) throws(IndexError)
    /// Sets a directory's link count to 2 + its subdirectories.
    func recountLinks(ofDirectory ino: UInt64) throws(IndexError)
    /// Removes `ino`'s entry, tags, heat and checksums, and its link names and shadows unless
    /// the caller knows there are none.
    func deleteInode(_ ino: UInt64, links: Bool, shadows: Bool) throws(IndexError)

    func insertLink(parent: UInt64, name: [UInt8], ino: UInt64) throws(IndexError)
    func deleteLink(parent: UInt64, name: [UInt8]) throws(IndexError)

    func setXattr(of ino: UInt64, name: [UInt8], value: [UInt8]) throws(IndexError)
    /// Removes one tag; whether it existed.
    func deleteXattr(of ino: UInt64, name: [UInt8]) throws(IndexError) -> Bool
    func deleteXattrs(of ino: UInt64) throws(IndexError)

    func upsertShadow(_ shadow: ShadowRow) throws(IndexError)
    func deleteShadow(ino: UInt64, silo: SiloID) throws(IndexError)

    func insertSilo(id: SiloID, name: String, path: String, tier: String) throws(IndexError)
    func updateSilo(id: SiloID, path: String, tier: String) throws(IndexError)
    func recordScan(silo: SiloID, generation: Int64, entries: Int64, at time: Int64) throws(IndexError)
    func setHealth(silo: SiloID, health: String, reason: String?) throws(IndexError)
    func setDraining(silo: SiloID, _ draining: Bool) throws(IndexError)
    func setMeta(_ key: String, _ value: String) throws(IndexError)
    /// Locks meta row `key` (made empty when missing) until the write commits, for a
    /// read-modify-write of a value several writers of a shared index change. SQLite's write
    /// lock already makes it one step.
    func lockMeta(_ key: String) throws(IndexError)

    /// Inserts a job and returns its id (ids only grow).
    func insertJob(_ job: JobRow) throws(IndexError) -> Int64
    /// Records a job's progress; `.notFound` when no job has its id (jobs are never deleted,
    /// so a caller holding a job that is gone is working from another index).
    func updateJob(_ job: JobRow) throws(IndexError)
    func setChecksums(_ row: ChecksumRow) throws(IndexError)
    /// Records heat of an existing entry; false (nothing written) when `ino` has no entry.
    func setHeat(ino: UInt64, score: Double, updated: Int64, extents: [UInt8]) throws(IndexError) -> Bool
}

/// One name of a directory listing.
public struct ListedName: Sendable {
    public var name: [UInt8]
    public var ino: UInt64
    public var kind: FileKind
    public init(name: [UInt8], ino: UInt64, kind: FileKind) { self.name = name; self.ino = ino; self.kind = kind }
}

/// A failed move job, as the reconcile loop weighs retries: no extent maps.
public struct FailedJob: Sendable, Equatable {
    public var id: Int64
    public var ino: UInt64
    public var source: SiloID
    public var destination: SiloID
    public var size: Int64
    public var sourceMtime: Int64
    public var updated: Int64
    public var error: String
    public init(id: Int64, ino: UInt64, source: SiloID, destination: SiloID, size: Int64, sourceMtime: Int64, updated: Int64, error: String) {
        self.id = id; self.ino = ino; self.source = source; self.destination = destination
        self.size = size; self.sourceMtime = sourceMtime; self.updated = updated; self.error = error
    }
}

/// Extent hashes of a file's current copy, recorded when a move verified it.
public struct ChecksumRow: Sendable, Equatable {
    public var ino: UInt64
    public var silo: SiloID
    public var size: Int64
    public var mtime: Int64
    public var extentSize: Int
    public var hashes: [UInt8]
    public init(ino: UInt64, silo: SiloID, size: Int64, mtime: Int64, extentSize: Int, hashes: [UInt8]) {
        self.ino = ino; self.silo = silo; self.size = size; self.mtime = mtime; self.extentSize = extentSize; self.hashes = hashes
    }
}

import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// A read-only view of the index inside a transaction (or a single autocommit statement).
/// Engine-neutral: the typed reads go to the engine's session, and what combines them (link
/// fallbacks, paths, heat decay) is here, once for every engine.
public struct ReadTransaction {
    let session: any IndexSession

    /// Opens the SQLite index at `path` read-only (no migrations, no writes; a running daemon
    /// may keep writing meanwhile) and runs `body` inside one read transaction: a consistent
    /// snapshot. The admin CLI reads an unmounted pool's index this way.
    public static func readOnly<R>(path: String, _ body: (ReadTransaction) throws -> R) throws -> R {
        try readOnly(engine: SQLiteEngine(path: path, readOnly: true), body)
    }

    /// `readOnly(path:)` for any engine: a reader session, so nothing is created or migrated.
    public static func readOnly<R>(engine: any IndexEngine, _ body: (ReadTransaction) throws -> R) throws -> R {
        let session = try engine.openReader()
        try session.beginRead()
        defer { session.endRead() }
        return try body(ReadTransaction(session: session))
    }

    public func entry(_ ino: UInt64) throws(IndexError) -> EntryRow? { try session.entry(ino) }

    /// The entry named `name` in `parent`, by its first name or a hard link; `links: false`
    /// (IndexStore.mayHoldLinks) skips the links table.
    public func entry(parent: UInt64, name: UnsafeBufferPointer<UInt8>, links: Bool = true) throws(IndexError) -> EntryRow? {
        if let found = try session.entry(parent: parent, firstName: name) { return found }
        guard links, let linked = try session.linkedInode(parent: parent, name: name) else { return nil }
        return try session.entry(linked)
    }

    public func entry(parent: UInt64, name: [UInt8]) throws(IndexError) -> EntryRow? {
        try name.withUnsafeBufferPointer { buffer throws(IndexError) in try entry(parent: parent, name: buffer) }
    }

    /// Every name in `parent` with its inode and kind, which is all a plain directory listing
    /// needs: three columns decode several times faster than whole rows.
    public func listing(of parent: UInt64) throws(IndexError) -> [ListedName] { try session.listing(of: parent) }

    /// Every name in `parent`: first names in name order, then hard links.
    public func children(of parent: UInt64) throws(IndexError) -> [EntryRow] {
        try session.firstNameRows(in: parent) + session.linkRows(in: parent)
    }

    /// The entries whose first name is in `parent`, keyed by name (hard-link names excluded).
    public func firstNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: EntryRow] { try session.firstNames(in: parent) }

    /// Hard-link names (not first names) in `parent`, with their inodes.
    public func linkNames(in parent: UInt64) throws(IndexError) -> [[UInt8]: UInt64] { try session.linkNames(in: parent) }

    public func xattrs(of ino: UInt64) throws(IndexError) -> [(name: [UInt8], value: [UInt8])] { try session.xattrs(of: ino) }

    public func xattr(of ino: UInt64, name: UnsafeBufferPointer<UInt8>) throws(IndexError) -> [UInt8]? {
        try session.xattr(of: ino, name: name)
    }

    /// Inodes carrying the extended attribute `name` (a full name, e.g. `user.project`), with
    /// exactly `value` when one is given.
    public func inodes(withXattr name: [UInt8], value: [UInt8]? = nil) throws(IndexError) -> Set<UInt64> {
        try session.inodes(withXattr: name, value: value)
    }

    /// Every inode carrying the extended attribute `name`, with its value.
    public func xattrValues(named name: [UInt8]) throws(IndexError) -> [UInt64: [UInt8]] { try session.xattrValues(named: name) }

    /// Calls `body` with every extended attribute of the pool (inode, name, value).
    public func forEachXattr(_ body: (UInt64, [UInt8], [UInt8]) -> Void) throws(IndexError) { try session.forEachXattr(body) }

    /// Whether tag lookups are indexed (migration 0003-tag-index): without it they still
    /// answer, by scanning every tag.
    public func hasTagIndex() throws(IndexError) -> Bool { try session.hasTagIndex() }

    /// Whether name searches are indexed (migration 0007-name-search): without it (during a
    /// first scan) they still answer, by scanning every name.
    public func hasSearchIndexes() throws(IndexError) -> Bool { try session.hasSearchIndexes() }

    public func shadows(of ino: UInt64) throws(IndexError) -> [ShadowRow] { try session.shadows(of: ino) }

    /// Shadows held by `silo` for entries directly in `parent`, keyed by inode.
    public func shadows(in parent: UInt64, silo: SiloID) throws(IndexError) -> [UInt64: ShadowRow] {
        try session.shadows(in: parent, silo: silo)
    }

    public func shadowCount() throws(IndexError) -> Int64 { try session.shadowCount() }

    /// Every shadowed duplicate in the pool with the path of the visible entry.
    public func allShadows(limit: Int = 10_000) throws(IndexError) -> [(path: [UInt8], shadow: ShadowRow)] {
        var result: [(path: [UInt8], shadow: ShadowRow)] = []
        for row in try session.shadowRows(limit: limit) { result.append((try path(of: row.ino) ?? [], row)) }
        return result
    }

    /// The relative path of `ino`'s first name ("" for the root), or nil if it is not indexed.
    public func path(of ino: UInt64) throws(IndexError) -> [UInt8]? {
        var components: [[UInt8]] = []
        var current = ino
        var depth = 0
        while current != 1 {
            guard let row = try entry(current), depth < 4096 else { return nil }
            components.append(row.name)
            current = row.parent
            depth += 1
        }
        return Array(components.reversed().joined(separator: [UInt8(ascii: "/")]))
    }

    public func silos() throws(IndexError) -> [SiloRow] { try session.silos() }
    public func drainingSilos() throws(IndexError) -> Set<SiloID> { try session.drainingSilos() }
    public func meta(_ key: String) throws(IndexError) -> String? { try session.meta(key) }

    /// Number of entries (all kinds, the root excluded).
    public func entryCount() throws(IndexError) -> Int64 { try session.entryCount() }

    /// Entries whose data (files) or attributes (directories) a silo holds, plus directories it merges into.
    public func entryCount(silo: SiloID) throws(IndexError) -> Int64 { try session.entryCount(silo: silo) }
    /// `entryCount(silo:)` of every silo at once (a silo holding nothing is absent): one pass
    /// over the table instead of one per silo.
    public func entryCounts() throws(IndexError) -> [SiloID: Int64] { try session.entryCounts() }

    public func regularFiles(on silo: SiloID) throws(IndexError) -> [UInt64] { try session.regularFiles(on: silo) }

    /// One hard-link name of `ino`, if it has any besides its first name.
    public func anyLink(of ino: UInt64) throws(IndexError) -> (parent: UInt64, name: [UInt8])? { try session.anyLink(of: ino) }

    /// Whether `(parent, name)` is a hard-link name (not the first name) of some inode.
    public func isLink(parent: UInt64, name: [UInt8]) throws(IndexError) -> Bool { try session.isLink(parent: parent, name: name) }
}

/// Tiering: heat, move jobs, checksums.
extension ReadTransaction {
    /// The recorded access heat of `ino` decayed to `now` (unix seconds), 0 when none is recorded.
    public func heat(of ino: UInt64, now: Double, halfLife: Double) throws(IndexError) -> Double {
        guard let row = try session.heatRow(ino) else { return 0 }
        return row.score * exp2(-(now - Double(row.updated)) / max(1, halfLife))
    }

    public func heat(limit: Int) throws(IndexError) -> [(ino: UInt64, score: Double, updated: Int64)] { try session.heat(limit: limit) }

    public func heatRow(_ ino: UInt64) throws(IndexError) -> (score: Double, updated: Int64, extents: [UInt8])? {
        try session.heatRow(ino)
    }

    public func job(_ id: Int64) throws(IndexError) -> JobRow? { try session.job(id) }

    /// Jobs, newest first; only unfinished ones unless `all`.
    public func jobs(all: Bool = false, limit: Int = 10_000) throws(IndexError) -> [JobRow] { try session.jobs(all: all, limit: limit) }

    /// Failed jobs, oldest first, without their extent maps.
    public func failedJobs() throws(IndexError) -> [FailedJob] { try session.failedJobs() }

    /// Per inode, the newest completed move: when it finished and its job id.
    public func completedMoves() throws(IndexError) -> [UInt64: (updated: Int64, id: Int64)] { try session.completedMoves() }

    /// Inodes with a move job updated at or after `since` (unix seconds).
    public func inodesWithJobs(since: Int64) throws(IndexError) -> Set<UInt64> { try session.inodesWithJobs(since: since) }

    /// Whether a move job of `ino` was updated at or after `since` (unix seconds).
    public func hasJob(for ino: UInt64, since: Int64) throws(IndexError) -> Bool { try session.hasJob(for: ino, since: since) }

    public func checksums(of ino: UInt64) throws(IndexError) -> (silo: SiloID, size: Int64, mtime: Int64, extentSize: Int, hashes: [UInt8])? {
        guard let row = try session.checksums(of: ino) else { return nil }
        return (row.silo, row.size, row.mtime, row.extentSize, row.hashes)
    }
}

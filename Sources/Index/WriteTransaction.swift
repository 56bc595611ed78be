import Syscalls

/// A writable view of the index inside `IndexStore.write` or `change`. Engine-neutral: inode
/// numbers, the row-presence flags and the silo-id policy are kept here; the typed changes go
/// to the engine's writer session.
public struct WriteTransaction {
    let state: WriterState
    var session: any IndexSession { state.session }
    /// Reads inside this transaction (they see its changes).
    public var reader: ReadTransaction { ReadTransaction(session: state.session) }
    /// Whether other daemons write this index too (`IndexStore.isShared`).
    public var isShared: Bool { state.shared }

    /// A fresh inode number, never handed out before in this pool.
    public func allocateInode() throws(IndexError) -> UInt64 { try state.allocateInode() }

    /// Inserts `row` under a fresh inode number (row.ino is ignored) and returns that number.
    /// `hint`, an inode number the file carried from an earlier index, is taken when it is free,
    /// so a rebuilt index gives files their old numbers back.
    @discardableResult
    public func insert(_ row: EntryRow, hint: UInt64? = nil) throws(IndexError) -> UInt64 {
        let ino: UInt64
        if let hint, hint > 1, !state.handedOut.holds(hint), try session.entry(hint) == nil {
            ino = hint
            if state.nextInode <= hint { state.nextInode = hint + 1 }
        } else {
            ino = try allocateInode()
        }
        var copy = row
        copy.ino = ino
        try session.insertEntry(copy)
        state.noteChanged(ino)
        state.noteChanged(parent: row.parent, name: row.name)
        return ino
    }

    /// Inserts `rows` as `insert` would one by one with `hints[k]`, numbering them in place (their
    /// `ino` is overwritten), and returns their numbers in order; the rows go to the engine in blocks.
    @discardableResult
    public func insert(_ numbered: inout [EntryRow], hints: [UInt64?]) throws(IndexError) -> [UInt64] {
        var taken = Set<UInt64>()   // numbers of earlier rows of this call, not yet inserted
        let hinted = hints.contains { $0 != nil }
        for k in numbered.indices {
            let ino: UInt64
            if let hint = hints[k], hint > 1, !taken.contains(hint), !state.handedOut.holds(hint), try session.entry(hint) == nil {
                ino = hint
                if state.nextInode <= hint { state.nextInode = hint + 1 }
            } else {
                ino = try allocateInode()
            }
            if hinted { taken.insert(ino) }
            numbered[k].ino = ino
            state.noteChanged(ino)
            state.noteChanged(parent: numbered[k].parent, name: numbered[k].name)
        }
        try session.insertEntries(numbered)
        return numbered.map(\.ino)
    }

    /// Inserts `row` under its own number, one `IndexStore.reserveInode` handed out.
    public func insertReserved(_ row: EntryRow) throws(IndexError) {
        try session.insertEntry(row)
        state.noteChanged(row.ino)
        state.noteChanged(parent: row.parent, name: row.name)
    }

    /// Rewrites every column of the entry `row.ino`.
    public func update(_ row: EntryRow) throws(IndexError) {
        try session.updateEntry(row)
        state.noteChanged(row.ino)
    }

    /// Records size, blocks, times and mode of a row, leaving its name and placement alone
    /// (a rename or move may have changed those meanwhile).
    public func updateSizeAndTimes(_ row: EntryRow) throws(IndexError) {
        try session.updateSizeAndTimes(row)
        state.noteChanged(row.ino)
    }

    /// Records only `columns` of `row` and its change time (chmod, chown, truncate, utimens):
    /// another node's change of the other attributes meanwhile stays.
    public func updateAttributes(_ row: EntryRow, _ columns: AttributeColumns) throws(IndexError) {
        try session.updateAttributes(row, columns)
        state.noteChanged(row.ino)
    }

    public func updateDirectoryTimes(_ row: EntryRow) throws(IndexError) {
        try session.updateDirectoryTimes(row)
        state.noteChanged(row.ino)
    }

    public func updateData(_ row: EntryRow) throws(IndexError) {
        try session.updateData(row)
        state.noteChanged(row.ino)
    }

    /// Removes the inode `ino` with its names, shadows and tags (not its children).
    public func delete(_ ino: UInt64) throws(IndexError) {
        noteOldName(of: ino)
        // Tables that have held no row since the index was opened have none for `ino` either.
        try session.deleteInode(ino, links: state.presence.links.load(ordering: .acquiring),
                                shadows: state.presence.shadows.load(ordering: .acquiring))
        state.noteChanged(ino)
    }

    /// Gives `ino` a new first name, leaving every other column as it is.
    public func setName(_ ino: UInt64, parent: UInt64, name: [UInt8], ctime: Int64) throws(IndexError) {
        noteOldName(of: ino)
        try session.setName(ino, parent: parent, name: name, ctime: ctime)
        state.noteChanged(ino)
        state.noteChanged(parent: parent, name: name)
    }

    /// The entry `ino` as the index holds it now, locked until this transaction ends: other
    /// writers' changes to it wait, and this one's reads of it are not stale.
    public func lockedEntry(_ ino: UInt64) throws(IndexError) -> EntryRow? { try session.lockedEntry(ino) }

    /// A shared index: the name `ino` has before a change takes it away is announced too, so
    /// that a node holding the directory's listing but not the inode drops it (a delete or
    /// rename otherwise names only the inode, and the new name).
    private func noteOldName(of ino: UInt64) {
        guard state.shared, let old = try? session.entry(ino) else { return }
        state.noteChanged(parent: old.parent, name: old.name)
    }

    /// Sets a directory's link count to 2 + its subdirectories, as local file systems report
    /// it (find and other tree walkers rely on it).
    public func recountLinks(ofDirectory ino: UInt64) throws(IndexError) {
        try session.recountLinks(ofDirectory: ino)
        state.noteChanged(ino)
    }

    /// Sets a directory's link count to a value computed by the caller; no write if unchanged.
    public func setLinkCount(_ ino: UInt64, _ nlink: UInt64) throws(IndexError) {
        try session.setLinkCount(ino, nlink)
        state.noteChanged(ino)
    }

    public func insertLink(parent: UInt64, name: [UInt8], ino: UInt64) throws(IndexError) {
        state.presence.links.store(true, ordering: .releasing)
        try session.insertLink(parent: parent, name: name, ino: ino)
        state.noteChanged(ino)
        state.noteChanged(parent: parent, name: name)
    }

    public func deleteLink(parent: UInt64, name: [UInt8]) throws(IndexError) {
        try session.deleteLink(parent: parent, name: name)
        state.noteChanged(parent: parent, name: name)
    }

    /// What removing a hard-linked file's first name leaves: another of its names, its link row
    /// gone, becomes the first name. `row` carries the link count after the removal (at least
    /// 1 is written). Returns the promoted name; nil, with nothing changed, when the file has
    /// no other name.
    public func promoteLink(of row: EntryRow) throws(IndexError) -> (parent: UInt64, name: [UInt8])? {
        guard let other = try anyLink(of: row.ino) else { return nil }
        var row = row
        row.nlink = max(1, row.nlink)
        try deleteLink(parent: other.parent, name: other.name)
        try updateData(row)
        try setName(row.ino, parent: other.parent, name: other.name, ctime: row.ctimeNs)
        return other
    }

    /// One hard-link name of `ino`, if it has any besides its first name.
    public func anyLink(of ino: UInt64) throws(IndexError) -> (parent: UInt64, name: [UInt8])? { try session.anyLink(of: ino) }

    /// Whether `(parent, name)` is a hard-link name (not the first name) of some inode.
    public func isLink(parent: UInt64, name: [UInt8]) throws(IndexError) -> Bool { try session.isLink(parent: parent, name: name) }

    /// Replaces all tags of `ino` with `tags`.
    public func replaceXattrs(of ino: UInt64, with tags: [(name: [UInt8], value: [UInt8])]) throws(IndexError) {
        try session.deleteXattrs(of: ino)
        for tag in tags { try session.setXattr(of: ino, name: tag.name, value: tag.value) }
    }

    public func setXattr(of ino: UInt64, name: [UInt8], value: [UInt8]) throws(IndexError) {
        try session.setXattr(of: ino, name: name, value: value)
    }

    /// Removes one tag; whether it existed.
    public func deleteXattr(of ino: UInt64, name: [UInt8]) throws(IndexError) -> Bool { try session.deleteXattr(of: ino, name: name) }

    public func upsertShadow(_ shadow: ShadowRow) throws(IndexError) {
        state.presence.shadows.store(true, ordering: .releasing)
        try session.upsertShadow(shadow)
    }

    public func deleteShadow(ino: UInt64, silo: SiloID) throws(IndexError) { try session.deleteShadow(ino: ino, silo: silo) }

    /// Records a silo of the configuration, keeping its id if the name is known. Returns the id.
    public func registerSilo(name: String, path: String, tier: String) throws(IndexError) -> SiloID {
        let known = try session.silos()
        if let existing = known.first(where: { $0.name == name }) {
            try session.updateSilo(id: existing.id, path: path, tier: tier)
            return existing.id
        }
        // A silo's id is its bit in `EntryRow.dirSilos`.
        let used = Set(known.map(\.id))
        guard let id = (0..<64).first(where: { !used.contains($0) }) else {
            throw IndexError(.invalid, "a pool holds at most 64 silos")
        }
        try session.insertSilo(id: id, name: name, path: path, tier: tier)
        return id
    }

    public func recordScan(silo: SiloID, generation: Int64, entries: Int64, at time: Int64) throws(IndexError) {
        try session.recordScan(silo: silo, generation: generation, entries: entries, at: time)
    }

    public func setHealth(silo: SiloID, health: String, reason: String?) throws(IndexError) {
        try session.setHealth(silo: silo, health: health, reason: reason)
    }

    public func setDraining(silo: SiloID, _ draining: Bool) throws(IndexError) { try session.setDraining(silo: silo, draining) }

    /// Drops (false) or builds where missing (true) the indexes `estuary find` searches names
    /// with. A bulk load drops them first and builds them once at its end: kept up row by row,
    /// they made a first scan's inserts three times dearer (names arrive in directory order,
    /// not name order, so each insert lands on another page of each index).
    public func setSearchIndexes(_ present: Bool) throws(IndexError) { try session.setSearchIndexes(present) }

    public func setMeta(_ key: String, _ value: String) throws(IndexError) { try session.setMeta(key, value) }
    public func lockMeta(_ key: String) throws(IndexError) { try session.lockMeta(key) }

    public func meta(_ key: String) throws(IndexError) -> String? { try session.meta(key) }

    /// Inserts a job and returns its id.
    public func insertJob(_ job: JobRow) throws(IndexError) -> Int64 { try session.insertJob(job) }

    /// Records a job's progress; `.notFound` when no job has its id.
    public func updateJob(_ job: JobRow) throws(IndexError) { try session.updateJob(job) }

    public func setChecksums(ino: UInt64, silo: SiloID, size: Int64, mtime: Int64, extentSize: Int, hashes: [UInt8]) throws(IndexError) {
        try session.setChecksums(ChecksumRow(ino: ino, silo: silo, size: size, mtime: mtime, extentSize: extentSize, hashes: hashes))
    }

    /// Records the heat of `ino`; false when the file was deleted since it was read (heat of
    /// a deleted file is not kept: the row would outlive it).
    @discardableResult
    public func setHeat(ino: UInt64, score: Double, updated: Int64, extents: [UInt8]) throws(IndexError) -> Bool {
        try session.setHeat(ino: ino, score: score, updated: updated, extents: extents)
    }
}

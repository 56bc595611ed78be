import Index

/// A live scan (`estuary scan` on a mounted pool, the rescan after a lost batch, a watcher's
/// targeted scan) can list a silo between a create's backing call and its index insert, and
/// add the new file itself. The create's insert then meets its own file under its name. That
/// row is the create's: failing with EEXIST would refuse a create that happened and remove a
/// file the index names (seen under a PostgreSQL restart, where a create waits out the outage
/// with its file made while the rescan that follows the lost batch runs).
extension Namespace {
    /// The create's insert met a row for its name: takes it over when it records the very file
    /// the create made (same silo, same backing inode), keeping the number the scan gave it.
    /// Nil when the name belongs to another file (another node's create, another silo).
    func adoptScannedRow(_ row: EntryRow, parentAfter: EntryRow) -> UInt64? {
        let adopted = try? index.change { [self] tx throws(IndexError) -> UInt64? in
            guard let found = try tx.reader.entry(parent: row.parent, name: row.name), found.recordsSameFile(as: row) else { return nil }
            var taken = row
            taken.ino = found.ino
            taken.dirSilos |= found.dirSilos
            try tx.update(taken)
            try storeTouched([parentAfter], tx)
            return found.ino
        }
        if let adopted { logger.notice("a scan recorded a file while it was being created; the create took its row (inode \(adopted))") }
        return adopted ?? nil
    }

    /// The deferred insert of a create whose reply went out with a reserved number. The kernel
    /// holds that number, so a row a scan made for the same file gives way to it. (Deferred
    /// inserts run only on engines where a failed statement leaves the transaction usable.)
    func insertCreated(_ row: EntryRow, _ tx: WriteTransaction) throws(IndexError) {
        do { try tx.insertReserved(row) } catch where error.kind == .conflict {
            guard let found = try tx.reader.entry(parent: row.parent, name: row.name), found.recordsSameFile(as: row) else { throw error }
            try tx.delete(found.ino)
            try tx.insertReserved(row)
            logger.notice("a scan recorded a file while it was being created; its row now has the created inode \(row.ino)")
        }
    }
}

extension EntryRow {
    /// Whether this row (made by a scan) records the file `made` names: same kind, in the same
    /// silo, on the same backing inode.
    func recordsSameFile(as made: EntryRow) -> Bool {
        kind == made.kind && holds(silo: made.silo) && backingInode == made.backingInode
    }
}

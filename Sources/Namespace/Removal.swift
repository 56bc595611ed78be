import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

extension Namespace {
    /// Removes one name. The last name of a file takes its data with it, including shadowed
    /// copies in other silos: the caller deleted the file, not one copy of it, and a copy left
    /// behind would bring the name back at the next scan (docs/decisions.md, "Deleting a name
    /// deletes its shadowed duplicates"). The shadows go first: one that cannot be removed
    /// fails the unlink with nothing removed.
    public func unlink(parent: UInt64, name nameBuffer: UnsafeBufferPointer<UInt8>) throws(Errno) {
        let name = Array(nameBuffer)
        guard var row = try existing(parent: parent, name: nameBuffer) else { throw Errno.noSuchFileOrDirectory }
        guard row.kind != .directory else { throw Errno.isDirectory }
        let gate = moves.enter(row.ino)
        defer { moves.exit(row.ino, gate) }
        row = try entry(row.ino)
        let parentRow = try entry(parent)
        let silo = try silo(of: row)
        if silo.isObjectStore { return try unlinkObject(row, parentRow, name, silo) }
        let dirFD = try openDirectory(parentRow, in: silo, create: false)
        defer { Sys.close(dirFD) }
        if row.nlink <= 1 {
            for shadow in try shadows(of: row.ino) where shadow.silo != silo.id { try removeShadow(parentRow, name, on: shadow.silo) }
        }
        if withCPath(name, { unlinkat(dirFD, $0, 0) }) != 0 {
            let e = Errno.current
            if e != .noSuchFileOrDirectory { throw e }
        }
        row.nlink = row.nlink > 0 ? row.nlink - 1 : 0
        row.ctimeNs = wallClockNanoseconds()
        let parentAfter = touchedDirectory(parentRow, changedIn: silo, fd: dirFD)
        // Without hard-link rows the name's removal promotes no other name, so the reply need
        // not wait for the index, which takes the change before anything reads it.
        try commitRemoval(of: row, parent: parent, name: name, parentAfter: parentAfter,
                          timing: index.mayHoldLinks ? .beforeReply : .afterReply)
    }

    /// The index and cache side of removing one name of `updated` (its link count and ctime
    /// already those after the removal).
    func commitRemoval(of updated: EntryRow, parent: UInt64, name: [UInt8], parentAfter: EntryRow, timing: IndexTiming) throws(Errno) {
        var change = NamespaceChange(touched: [parentAfter])
        change.removed = [(parent, name)]
        change.nodes = [.links(updated.ino, nlink: updated.nlink, ctimeNs: updated.ctimeNs)]
        if updated.nlink == 0 { change.nodes.append(.gone(updated.ino)) }
        do {
            try commit(change, timing: timing, known: Optional<Promotion?>.some(nil), rows: { [self] tx throws(IndexError) -> Promotion? in
                try removeName(updated, parent: parent, name: name, tx)
            }, effects: { promoted, change in
                if let promoted = promoted ?? nil { change.nodes.append(.named(updated.ino, parent: promoted.parent, name: promoted.name)) }
            })
        } catch { throw indexFailure(error, "unlink") }
    }

    /// Another name of a hard-linked file that became its first name.
    typealias Promotion = (parent: UInt64, name: [UInt8])

    /// Takes `(parent, name)` away from `row` in the index: a link name goes; a first name is
    /// replaced by a remaining link, or the entry goes when it was the last name.
    /// Returns the name promoted to first name, if one was.
    @discardableResult
    func removeName(_ row: EntryRow, parent: UInt64, name: [UInt8], _ tx: WriteTransaction) throws(IndexError) -> Promotion? {
        var row = row
        if index.isShared {
            // Another node may have linked or unlinked names of this file since this one read
            // the row: the row is locked first (waiting for such a change to commit), the
            // count is taken from what the index holds now, and the links table is always
            // asked, so a link made elsewhere is promoted rather than deleted with the inode
            // (TwoNodeRaceTests, link against unlink).
            guard let current = try tx.lockedEntry(row.ino) else { return nil }
            row.nlink = current.nlink > 0 ? current.nlink - 1 : 0
            row.parent = current.parent; row.name = current.name
        }
        // The row's own name is never a link row, and a file with one name has no link rows:
        // the common unlink asks the links table nothing.
        let firstName = row.parent == parent && row.name == name
        let links = index.mayHoldLinks
        if !firstName, links, try tx.isLink(parent: parent, name: name) {
            try tx.deleteLink(parent: parent, name: name)
            try tx.updateData(row)
        } else if !firstName, index.isShared {
            // Neither the first name nor a link: another node's scan of the silo saw this
            // node's unlink there first and took the name out of the index, with its count.
            // Deleting the entry now would take the file's remaining names with it.
            return nil
        } else if links, row.nlink > 0 || !firstName || index.isShared, let promoted = try tx.promoteLink(of: row) {
            return promoted
        } else {
            try tx.delete(row.ino)
        }
        return nil
    }

    /// The shadowed duplicates of `ino` the index knows of.
    func shadows(of ino: UInt64) throws(Errno) -> [ShadowRow] {
        guard index.mayHoldShadows else { return [] }
        do { return try index.query { tx throws(IndexError) in try tx.shadows(of: ino) } }
        catch { throw indexFailure(error, "shadow lookup") }
    }

    /// Removes the copy named `name` in `parentRow` on silo `id`, a shadowed duplicate. Gone
    /// already is fine; anything else (the silo offline included) is an error, since the copy
    /// would come back at the next scan.
    func removeShadow(_ parentRow: EntryRow, _ name: [UInt8], on id: SiloID) throws(Errno) {
        guard let silo = silos[id] else { return }   // no longer configured: never scanned again
        guard silo.isOnline else {
            logger.error("cannot remove the shadowed copy of \(displayName(name)) on offline silo '\(silo.name)'")
            throw Errno.ioError
        }
        let dirFD: Int32
        do { dirFD = try openDirectory(parentRow, in: silo, create: false) } catch {
            if error == .noSuchFileOrDirectory { return }
            throw error
        }
        defer { Sys.close(dirFD) }
        if withCPath(name, { unlinkat(dirFD, $0, 0) }) != 0 {
            let e = Errno.current
            if e == .noSuchFileOrDirectory { return }
            logger.error("cannot remove the shadowed copy of \(displayName(name)) on silo '\(silo.name)': \(e)")
            throw e
        }
    }

    /// Removes an empty directory from every silo holding it.
    public func rmdir(parent: UInt64, name nameBuffer: UnsafeBufferPointer<UInt8>) throws(Errno) {
        let name = Array(nameBuffer)
        guard let row = try existing(parent: parent, name: nameBuffer) else { throw Errno.noSuchFileOrDirectory }
        guard row.kind == .directory else { throw Errno.notDirectory }
        let hasChildren: Bool
        do { hasChildren = try index.query { tx throws(IndexError) in try !tx.children(of: row.ino).isEmpty } }
        catch { throw indexFailure(error, "rmdir") }
        if hasChildren { throw Errno.directoryNotEmpty }
        let parentRow = try entry(parent)
        var remaining = row.dirSilos
        var failure: Errno?
        var touched: (Silo, Int32)?
        for id in 0..<64 where row.dirSilos & (1 << UInt64(id)) != 0 {
            guard let silo = silos[id], silo.isOnline else { failure = .ioError; continue }
            guard let dirFD = try? openDirectory(parentRow, in: silo, create: false) else { remaining &= ~(1 << UInt64(id)); continue }
            if withCPath(name, { unlinkat(dirFD, $0, AT_REMOVEDIR) }) == 0 || Errno.current == .noSuchFileOrDirectory {
                remaining &= ~(1 << UInt64(id))
            } else {
                failure = Errno.current
            }
            if silo.id == parentRow.silo { touched.map { Sys.close($0.1) }; touched = (silo, dirFD) } else { Sys.close(dirFD) }
        }
        defer { touched.map { Sys.close($0.1) } }
        var parentAfter = touched.map { touchedDirectory(parentRow, changedIn: $0.0, fd: $0.1) } ?? parentRow
        if touched == nil { parentAfter.mtimeNs = wallClockNanoseconds(); parentAfter.ctimeNs = parentAfter.mtimeNs }
        if remaining == 0 && parentAfter.nlink > 2 { parentAfter.nlink -= 1 }
        var kept = row
        kept.dirSilos = remaining
        if remaining != 0 && kept.dirSilos & (1 << UInt64(kept.silo)) == 0 {
            kept.silo = (0..<64).first { remaining & (1 << UInt64($0)) != 0 } ?? kept.silo
        }
        let keptRow = kept, emptied = remaining == 0, shared = index.isShared
        var change = NamespaceChange(touched: [parentAfter])
        if emptied {
            change.removed = [(parent, name)]
            change.droppedListings = [row.ino]
            change.nodes = [.links(row.ino, nlink: 0, ctimeNs: nil)]
        } else if shared {
            change.droppedListings = [row.ino]
        } else {
            change.nodes = [.refresh(keptRow)]
        }
        do {
            try commit(change) { tx throws(IndexError) in
                if emptied { try tx.delete(row.ino) }
                else if shared {
                    // Another node may have changed the directory meanwhile (a mkdir inside
                    // it is why the silo refused): only the silos this rmdir emptied go from
                    // the row the index holds now, not this node's copy of it.
                    let emptiedSilos = row.dirSilos & ~keptRow.dirSilos
                    if emptiedSilos != 0, var current = try tx.reader.entry(keptRow.ino) {
                        current.dirSilos &= ~emptiedSilos
                        if current.dirSilos & (1 << UInt64(current.silo)) == 0 { current.silo = keptRow.silo }
                        try tx.update(current)
                    }
                } else { try tx.update(keptRow) }
            }
        } catch { throw indexFailure(error, "rmdir") }
        // A shared index: the node takes what the index holds now, unless the other node's
        // change was applied here meanwhile (a newer copy than this read may be).
        if shared && !emptied, let version = nodes.version(row.ino),
           let current = try? index.query({ tx throws(IndexError) in try tx.entry(row.ino) }) {
            nodes.refresh(current, ifVersion: version)
        }
        // Some silo still holds entries the index does not know of (made behind our back).
        if remaining != 0 { throw failure ?? Errno.directoryNotEmpty }
    }
}

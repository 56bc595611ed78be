import CShims
import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// rename(2) across silos. Never EXDEV: a file is renamed inside the silo holding it (its new
/// parent is created there if missing), a directory inside every silo holding it. The inode
/// number stays; so do the kernel's references.
extension Namespace {
    public static let renameNoReplace: UInt32 = 1
    public static let renameExchange: UInt32 = 2

    public func rename(parent: UInt64, name nameBuffer: UnsafeBufferPointer<UInt8>, newParent: UInt64,
                       newName newNameBuffer: UnsafeBufferPointer<UInt8>, flags: UInt32) throws(Errno) {
        let name = Array(nameBuffer), newName = Array(newNameBuffer)
        try checkName(newName)
        if flags & ~(Namespace.renameNoReplace | Namespace.renameExchange) != 0 { throw Errno.invalidArgument }
        guard let source = try existing(parent: parent, name: nameBuffer) else { throw Errno.noSuchFileOrDirectory }
        let target = try existing(parent: newParent, name: newNameBuffer)
        if flags & Namespace.renameNoReplace != 0 && target != nil { throw Errno.fileExists }
        let oldDir = try entry(parent), newDir = try entry(newParent)
        guard newDir.kind == .directory else { throw Errno.notDirectory }
        if flags & Namespace.renameExchange != 0 {
            guard let target else { throw Errno.noSuchFileOrDirectory }
            return try exchange(source, oldDir, name, target, newDir, newName)
        }
        if let target {
            if target.ino == source.ino { return }
            if source.kind == .directory && target.kind != .directory { throw Errno.notDirectory }
            if source.kind != .directory && target.kind == .directory { throw Errno.isDirectory }
            if target.kind == .directory, try hasChildren(target) { throw Errno.directoryNotEmpty }
        }
        if source.kind == .directory {
            try renameDirectory(source, oldDir, name, target, newDir, newName)
        } else {
            try renameFile(source, oldDir, name, target, newDir, newName)
        }
    }

    private func hasChildren(_ row: EntryRow) throws(Errno) -> Bool {
        do { return try index.query { tx throws(IndexError) in try !tx.children(of: row.ino).isEmpty } }
        catch { throw indexFailure(error, "rename") }
    }

    /// Silos holding a row: every silo of a directory, the data silo of anything else.
    private func holders(_ row: EntryRow) -> [Silo] {
        let mask = row.kind == .directory ? row.dirSilos : (1 << UInt64(row.silo))
        return (0..<64).filter { mask & (1 << UInt64($0)) != 0 }.compactMap { silos[$0] }
    }

    /// Renames in one silo; in a bucket, returns the job that will (see BucketRenames).
    @discardableResult
    private func renameIn(_ silo: Silo, _ oldDir: EntryRow, _ name: [UInt8], _ newDir: EntryRow, _ newName: [UInt8], flags: UInt32 = 0) throws(Errno) -> BucketRenames.Entry? {
        if silo.isObjectStore { return try renameInBucket(silo, oldDir, name, newDir, newName, flags: flags) }
        guard silo.isOnline else { throw Errno.ioError }
        let from = try openDirectory(oldDir, in: silo, create: false)
        defer { Sys.close(from) }
        let to = oldDir.ino == newDir.ino ? from : try openDirectory(newDir, in: silo, create: true)
        defer { if to != from { Sys.close(to) } }
        let rc = withCPath(name) { a in withCPath(newName) { b in estuary_renameat2(from, a, to, b, flags) } }
        if rc != 0 { throw Errno.current }
        return nil
    }

    private func removeIn(_ silo: Silo, _ dir: EntryRow, _ name: [UInt8], directory: Bool) {
        guard silo.isOnline, let fd = try? openDirectory(dir, in: silo, create: false) else { return }
        defer { Sys.close(fd) }
        _ = withCPath(name) { unlinkat(fd, $0, directory ? AT_REMOVEDIR : 0) }
    }

    /// A file's rename takes every copy of both names along (docs/decisions.md, "Deleting a
    /// name deletes its shadowed duplicates"): the replaced target's shadows go, the source's
    /// shadows take the new name. Each step that fails puts back the reversible ones before it
    /// and fails the rename, so no copy is left to bring an old name back at the next scan.
    private func renameFile(_ source: EntryRow, _ oldDir: EntryRow, _ name: [UInt8], _ target: EntryRow?,
                            _ newDir: EntryRow, _ newName: [UInt8]) throws(Errno) {
        // A file being moved keeps its name still while the mover switches it over, and so
        // does one this rename replaces: the mover must not put the replaced file back under
        // the name on its destination after the rename took it (git renames index.lock over
        // an index that objectives are moving).
        let gates = moves.enter(source.ino, target?.ino)
        defer { moves.exit(gates) }
        // Read again behind the gates: a switch that ran meanwhile changed the silo holding
        // either file.
        let target = try target.map { row throws(Errno) in try entry(row.ino) }
        let silo = try silo(of: try entry(source.ino))
        let sourceShadows = try shadows(of: source.ino).map(\.silo).filter { $0 != silo.id }
        if let target, target.nlink <= 1 {
            // A shadow row naming a silo that holds one of the renamed copies is stale: that
            // name is about to hold the renamed file.
            for shadow in try shadows(of: target.ino) where shadow.silo != silo.id && !sourceShadows.contains(shadow.silo) {
                try removeShadow(newDir, newName, on: shadow.silo)
            }
        }
        var carried: [Silo] = []
        var jobs: [BucketRenames.Entry] = []
        // A bucket's rename has done nothing yet (its job starts after the commit): dropping
        // the job puts it back.
        func putBack() {
            for s in carried.reversed() where !s.isObjectStore { try? renameIn(s, newDir, newName, oldDir, name) }
            bucketRenames.abandon(jobs)
        }
        for id in sourceShadows {
            guard let s = silos[id] else { continue }
            do { if let job = try renameIn(s, oldDir, name, newDir, newName) { jobs.append(job) } } catch {
                if error == .noSuchFileOrDirectory { continue }
                logger.error("cannot rename the shadowed copy of \(displayName(name)) on silo '\(s.name)': \(error)")
                putBack()
                throw error
            }
            carried.append(s)
        }
        do { if let job = try renameIn(silo, oldDir, name, newDir, newName) { jobs.append(job) } } catch { putBack(); throw error }
        if let target, target.silo != silo.id, !carried.contains(where: { $0.id == target.silo }), let other = silos[target.silo] {
            // The replaced file's data lives on another silo: it goes, or the rename is undone.
            do { try removeShadow(newDir, newName, on: other.id) } catch {
                if !silo.isObjectStore { try? renameIn(silo, newDir, newName, oldDir, name) }
                putBack()
                throw error
            }
        }
        try commitRename(source, oldDir, name, target, newDir, newName, directoryDelta: 0, bucketJobs: jobs)
    }

    private func renameDirectory(_ source: EntryRow, _ oldDir: EntryRow, _ name: [UInt8], _ target: EntryRow?,
                                 _ newDir: EntryRow, _ newName: [UInt8]) throws(Errno) {
        var done: [Silo] = []
        var jobs: [BucketRenames.Entry] = []
        for silo in holders(source) {
            do { if let job = try renameIn(silo, oldDir, name, newDir, newName) { jobs.append(job) } } catch {
                // Put back what was already renamed: all silos move, or none. A bucket's job
                // has not started.
                for back in done.reversed() where !back.isObjectStore { try? renameIn(back, newDir, newName, oldDir, name) }
                bucketRenames.abandon(jobs)
                throw error
            }
            done.append(silo)
        }
        if let target {
            for silo in holders(target) where source.dirSilos & (1 << UInt64(silo.id)) == 0 {
                removeIn(silo, newDir, newName, directory: true)
            }
        }
        try commitRename(source, oldDir, name, target, newDir, newName, directoryDelta: 1, bucketJobs: jobs)
    }

    /// The index side of a rename: the target's name goes, the source takes it, both parents
    /// get new times (and link counts when a directory moved between them).
    /// `bucketJobs` are journaled in the same transaction and started once it committed.
    private func commitRename(_ source: EntryRow, _ oldDir: EntryRow, _ name: [UInt8], _ target: EntryRow?,
                              _ newDir: EntryRow, _ newName: [UInt8], directoryDelta: UInt64,
                              bucketJobs: [BucketRenames.Entry] = []) throws(Errno) {
        let now = wallClockNanoseconds()
        var moved = source
        moved.ctimeNs = now
        var oldAfter = oldDir, newAfter = newDir
        oldAfter.mtimeNs = now; oldAfter.ctimeNs = now; newAfter.mtimeNs = now; newAfter.ctimeNs = now
        if oldDir.ino != newDir.ino && directoryDelta > 0 {
            if oldAfter.nlink > 2 { oldAfter.nlink -= 1 }
            newAfter.nlink += 1
        }
        if let target, target.kind == .directory, newAfter.nlink > 2 { newAfter.nlink -= 1 }
        let sameParent = oldDir.ino == newDir.ino
        if sameParent { oldAfter = newAfter }
        var targetAfter = target
        targetAfter?.nlink = target.map { $0.nlink > 0 ? $0.nlink - 1 : 0 } ?? 0
        targetAfter?.ctimeNs = now
        let (finalMoved, finalOld, finalNew, finalTarget) = (moved, oldAfter, newAfter, targetAfter)
        let (oldParent, newParent) = (oldDir.ino, newDir.ino)
        // The moved row as the index now has it, and a name of the replaced file promoted to
        // its first name.
        typealias Renamed = (moved: EntryRow, promoted: Promotion?)
        @Sendable func rows(_ tx: WriteTransaction) throws(IndexError) -> Renamed {
            try BucketRenames.record(bucketJobs, tx)
            var promoted: Promotion?
            if let finalTarget {
                if finalTarget.kind == .directory { try tx.delete(finalTarget.ino) }
                else { promoted = try removeName(finalTarget, parent: newParent, name: newName, tx) }
            }
            var row = finalMoved
            // The source's own name is never a link row.
            let firstName = finalMoved.parent == oldParent && finalMoved.name == name
            if !firstName, index.mayHoldLinks, try tx.isLink(parent: oldParent, name: name) {
                try tx.deleteLink(parent: oldParent, name: name)
                try tx.insertLink(parent: newParent, name: newName, ino: row.ino)
            } else {
                row.parent = newParent; row.name = newName
                try tx.setName(row.ino, parent: newParent, name: newName, ctime: row.ctimeNs)
            }
            return (row, promoted)
        }
        var change = NamespaceChange(touched: sameParent ? [finalNew] : [finalNew, finalOld])
        change.removed = [(oldParent, name)]
        change.added = [(newParent, ListedName(name: newName, ino: source.ino, kind: source.kind))]
        if let finalTarget {
            if finalTarget.kind == .directory { change.droppedListings = [finalTarget.ino] }
            change.nodes.append(.links(finalTarget.ino, nlink: finalTarget.nlink, ctimeNs: now))
            if finalTarget.nlink == 0 { change.nodes.append(.gone(finalTarget.ino)) }
        }
        // Without hard-link rows the moved row is known without asking the index, so the reply
        // need not wait for it (see IndexStore.changeLater), as for unlink. A bucket's rename
        // job must be on disk before its first copy: a group-committed change lost to a crash
        // would leave copies made and deleted with no journal line to finish them (the rescan
        // would then find objects under both names).
        let timing: IndexTiming = !bucketJobs.isEmpty ? .durable
            : !index.mayHoldLinks && source.kind != .directory && target?.kind != .directory ? .afterReply : .beforeReply
        var known = finalMoved
        known.parent = newParent; known.name = newName
        do {
            try commit(change, timing: timing, known: (known, nil), rows: rows) { renamed, change in
                let moved = renamed.moved
                change.nodes.insert(.renamed(moved.ino, parent: moved.parent, name: moved.name, ctimeNs: moved.ctimeNs), at: 0)
                if let promoted = renamed.promoted, let finalTarget {
                    change.nodes.append(.named(finalTarget.ino, parent: promoted.parent, name: promoted.name))
                }
            }
        } catch { bucketRenames.abandon(bucketJobs); throw indexFailure(error, "rename") }
        bucketRenames.start(bucketJobs)
    }

    /// RENAME_EXCHANGE: each side keeps its inode and takes the other's name, in every silo.
    private func exchange(_ a: EntryRow, _ aDir: EntryRow, _ aName: [UInt8], _ b: EntryRow, _ bDir: EntryRow, _ bName: [UInt8]) throws(Errno) {
        if a.ino == b.ino { return }
        let gates = moves.enter(a.ino, b.ino)
        defer { moves.exit(gates) }
        let (a, b) = (try entry(a.ino), try entry(b.ino))   // a switch may have run meanwhile
        let aSilos = Set(holders(a).map(\.id)), bSilos = Set(holders(b).map(\.id))
        for id in aSilos.union(bSilos).sorted() {
            guard let silo = silos[id] else { continue }
            switch (aSilos.contains(id), bSilos.contains(id)) {
            case (true, true): try renameIn(silo, aDir, aName, bDir, bName, flags: Namespace.renameExchange)
            case (true, false): try renameIn(silo, aDir, aName, bDir, bName, flags: Namespace.renameNoReplace)
            case (false, true): try renameIn(silo, bDir, bName, aDir, aName, flags: Namespace.renameNoReplace)
            case (false, false): break
            }
        }
        let now = wallClockNanoseconds()
        var aDirAfter = aDir, bDirAfter = bDir
        aDirAfter.mtimeNs = now; aDirAfter.ctimeNs = now; bDirAfter.mtimeNs = now; bDirAfter.ctimeNs = now
        if aDir.ino != bDir.ino && (a.kind == .directory) != (b.kind == .directory) {
            let aIsDir = a.kind == .directory
            if aIsDir { bDirAfter.nlink += 1; aDirAfter.nlink -= 1 } else { aDirAfter.nlink += 1; bDirAfter.nlink -= 1 }
        }
        if aDir.ino == bDir.ino { aDirAfter = bDirAfter }
        let (finalADir, finalBDir) = (a, b)
        var change = NamespaceChange(touched: aDir.ino != bDir.ino ? [aDirAfter, bDirAfter] : [aDirAfter])
        change.added = [(aDir.ino, ListedName(name: aName, ino: b.ino, kind: b.kind)),
                        (bDir.ino, ListedName(name: bName, ino: a.ino, kind: a.kind))]
        do {
            try commit(change, rows: { tx throws(IndexError) -> (EntryRow, EntryRow) in
                let aIsLink = try tx.isLink(parent: aDir.ino, name: aName), bIsLink = try tx.isLink(parent: bDir.ino, name: bName)
                var newA = finalADir, newB = finalBDir
                newA.ctimeNs = now; newB.ctimeNs = now
                if aIsLink { try tx.deleteLink(parent: aDir.ino, name: aName) }
                if bIsLink { try tx.deleteLink(parent: bDir.ino, name: bName) }
                // Park one side on an impossible parent so the unique (parent, name) index allows the swap.
                if !aIsLink { try tx.setName(a.ino, parent: 0, name: Array("estuary-exchange-\(a.ino)".utf8), ctime: now) }
                if bIsLink { try tx.insertLink(parent: aDir.ino, name: aName, ino: b.ino) }
                else { newB.parent = aDir.ino; newB.name = aName; try tx.setName(b.ino, parent: aDir.ino, name: aName, ctime: now) }
                if aIsLink { try tx.insertLink(parent: bDir.ino, name: bName, ino: a.ino) }
                else { newA.parent = bDir.ino; newA.name = bName; try tx.setName(a.ino, parent: bDir.ino, name: bName, ctime: now) }
                return (newA, newB)
            }, effects: { rows, change in
                change.nodes = [rows.0, rows.1].map { .renamed($0.ino, parent: $0.parent, name: $0.name, ctimeNs: now) }
            })
        } catch { throw indexFailure(error, "rename exchange") }
    }
}

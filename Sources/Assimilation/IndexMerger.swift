import Index
import Silos
import Syscalls
import CShims
#if canImport(Glibc)
import Glibc
#endif

/// Folds directory listings from the walkers into the index, one silo's view at a time.
///
/// Rules: a directory present in several silos is one directory (attributes from the silo first
/// in the configuration); a file present in several silos shows the newest mtime (ties go to the
/// silo first in the configuration) and records the others as shadows; where a directory and a
/// file share a name, the directory wins. Identity is kept: an entry already indexed keeps its
/// inode number whatever changes, and an unchanged entry is not written at all.
final class IndexMerger {
    let silos: SiloSet
    var directories: [[UInt8]: UInt64] = [[]: 1]
    var summary = ScanSummary()
    /// Copies found gone, applied once every silo has been walked: a file moved from one silo
    /// to another meanwhile is then seen in its new place first, and keeps its inode number.
    var pendingRemovals: [(ino: UInt64, silo: SiloID)] = []
    /// False while the index holds no shadow at all, which spares a query per directory.
    var shadowsExist = true
    /// Set when the file system is mounted while the scan runs: entries the mount created or
    /// changed after the walk began are left alone (the next scan sees them settled), and a
    /// new entry is checked to still exist before it is added.
    var liveSince: Int64?
    /// Told of every name that appeared, went or changed kind, in a live scan: the kernel may
    /// have it cached (a negative entry for a name that now exists, or the reverse).
    var nameChanged: ((_ parent: UInt64, _ name: [UInt8]) -> Void)?
    /// What the merge could not take, with the reason: reported with the walkers' problems, so
    /// that nothing a silo holds is left out of the namespace without a word.
    var problems: [ScanProblem] = []
    /// Directories (by path, per silo) left out on purpose: gone by the time the merge reached
    /// them in a live scan, or already reported. Their listings are skipped quietly.
    var skipped: Set<SkippedPath> = []

    /// Inodes whose rows this merge wrote (added, changed, removed, relinked): what the
    /// namespace must reload of the nodes the kernel holds, instead of every one of them.
    /// Nil when not kept: a full scan reloads every node anyway, and a merge that wrote more
    /// than `touchedLimit` rows gives up on the list (the caller then reloads all).
    var touched: Set<UInt64>?
    static let touchedLimit = 1_000_000
    /// False when the index cannot hold a hard-link name (`IndexStore.mayHoldLinks`), which
    /// spares a second query per name in a partial listing.
    var linksPossible = true
    /// Directories this merge added whose listing it has not merged yet, kept when nobody else
    /// writes the index meanwhile (no mount, no other node; nil otherwise). Such a directory
    /// holds no name in the index, so its listing is merged without asking the index for any,
    /// and its new rows go in a block at a time: most of a first scan.
    var freshDirectories: Set<UInt64>?

    /// Entries per silo as `ReadTransaction.entryCount(silo:)` counts them (indexed by silo id),
    /// kept by a scan into an empty index while its merge only adds rows and silos to
    /// directories: then the scan records them without counting the table. Nil once the merge
    /// changed a row in any other way (a shadow, a removal, a rename), or when not kept.
    var addedCounts: [Int64]?

    /// The scan began on an empty index that nobody else writes: each silo's listing of a
    /// directory is then the first word the index has of that silo there, so nothing can be
    /// gone from it, and a listing of a directory another silo already filled looks up only
    /// its own names instead of reading every row the other silos put there (with 10 silos
    /// sharing their directories, most of a first scan's listings).
    var startedEmpty = false

    struct SkippedPath: Hashable { var silo: SiloID; var path: [UInt8] }

    /// A partial listing naming at most this many entries looks each name up in the index;
    /// a longer one reads the directory whole, one query instead of thousands.
    static let namesLookedUpOneByOne = 4096

    /// `liveSince` in the whole seconds jobs record, a second early to be safe.
    private var jobsSince: Int64? { liveSince.map { $0 / 1_000_000_000 - 1 } }

    init(silos: SiloSet) { self.silos = silos }

    private func order(_ id: SiloID) -> Int { silos[id]?.order ?? Int.max }

    /// `row` was inserted: one more entry for its silo, or for each silo of a directory.
    private func countAdded(_ row: EntryRow) {
        guard addedCounts != nil else { return }
        if row.kind != .directory { addedCounts![row.silo] += 1; return }
        var bits = row.dirSilos
        while bits != 0 { addedCounts![bits.trailingZeroBitCount] += 1; bits &= bits - 1 }
    }
    private func bit(_ id: SiloID) -> UInt64 { 1 << UInt64(id) }

    func apply(_ batch: DirectoryBatch, _ tx: WriteTransaction) throws(IndexError) {
        let s = batch.silo
        guard let directory = directories[batch.path] else {
            // Below a directory left out on purpose: left out too. Anything else is a listing
            // the walk made that the merge cannot place, which must not vanish unreported.
            if skipped.contains(SkippedPath(silo: s, path: batch.path)) {
                for scanned in batch.entries where scanned.stat.isDirectory {
                    skipped.insert(SkippedPath(silo: s, path: childPath(batch.path, scanned.name)))
                }
            } else {
                report(s, batch.path, "not added: its directory is not in the index")
            }
            return
        }
        if batch.path.isEmpty, let stat = batch.rootStat { try mergeRoot(stat, silo: s, tx) }
        let fresh = freshDirectories?.remove(directory) != nil
        let (existing, links, shadowsHere, whole) = fresh ? ([:], [:], [:], true) : try indexed(batch, in: directory, tx)
        // A fresh directory has no indexed name to find gone: no need to remember the seen ones.
        var seen = Set<[UInt8]>(minimumCapacity: fresh ? 0 : batch.entries.count)
        var renamedHere = Set<UInt64>()   // rows moved to a name seen here: not gone
        var keptDirectories = Set<[UInt8]>()   // subdirectories of the listing the index now holds
        // The listing's new rows, their hints and the positions of their listing entries.
        var pending: [EntryRow] = [], pendingHints: [UInt64?] = [], pendingEntries: [Int] = []
        if fresh { pending.reserveCapacity(batch.entries.count); pendingHints.reserveCapacity(batch.entries.count); pendingEntries.reserveCapacity(batch.entries.count) }
        summary.entries += batch.entries.count
        for (position, scanned) in batch.entries.enumerated() {
            if !fresh { seen.insert(scanned.name) }
            let ino: UInt64
            if links[scanned.name] != nil {
                summary.unchanged += 1   // a second name of a hard link the index already knows
                continue
            }
            if var row = existing[scanned.name] {
                try merge(&row, scanned, silo: s, shadow: shadowsHere[row.ino], tx)
                ino = row.ino
            } else {
                if liveSince != nil {
                    switch stillExists(batch, scanned) {
                    case .exists: break
                    case .gone:
                        if scanned.stat.isDirectory { skipped.insert(SkippedPath(silo: s, path: childPath(batch.path, scanned.name))) }
                        continue
                    case .unknown(let error):
                        report(s, childPath(batch.path, scanned.name), "not added: cannot check that it still exists: \(error)")
                        if scanned.stat.isDirectory { skipped.insert(SkippedPath(silo: s, path: childPath(batch.path, scanned.name))) }
                        continue
                    }
                }
                if var row = try renamedRow(scanned, silo: s, tx) {
                    addedCounts = nil
                    // The index still has this file under the name it had before a rename it did
                    // not take (a crash before the change was committed, or an `mv` inside the
                    // silo): the row moves, so the file keeps its inode number and tags.
                    pendingRemovals.removeAll { $0.ino == row.ino && $0.silo == s }
                    renamedHere.insert(row.ino)
                    nameChanged?(row.parent, row.name)
                    row.parent = directory
                    row.name = scanned.name
                    try takeScanned(&row, scanned, tx)
                    ino = row.ino
                    summary.updated += 1
                } else {
                    // Inserted after the loop, with the listing's other new rows: a block per
                    // statement. Also in a directory the index knew (another silo's half of
                    // it, in a first scan of silos that share directories: most of the rows).
                    var row = EntryRow(ino: 0, parent: directory, name: scanned.name, stat: scanned.stat, silo: s, target: scanned.target)
                    row.nlink = scanned.stat.isDirectory ? 2 : scanned.stat.nlink
                    pending.append(row)
                    pendingHints.append(scanned.inodeHint)
                    pendingEntries.append(position)
                    continue
                }
                nameChanged?(directory, scanned.name)
            }
            if scanned.stat.isDirectory {
                directories[childPath(batch.path, scanned.name)] = ino
                keptDirectories.insert(scanned.name)
            }
        }
        if !pending.isEmpty {
            let numbers = try tx.insert(&pending, hints: pendingHints)
            for row in pending { countAdded(row) }
            for (position, ino) in zip(pendingEntries, numbers) {
                let new = batch.entries[position]
                touch(ino)
                if !new.tags.isEmpty { try tx.replaceXattrs(of: ino, with: new.tags) }
                summary.added += 1
                nameChanged?(directory, new.name)
                if new.stat.isDirectory {
                    directories[childPath(batch.path, new.name)] = ino
                    keptDirectories.insert(new.name)
                    freshDirectories?.insert(ino)
                }
            }
        }
        if batch.complete {
            for (name, row) in existing where !seen.contains(name) && !renamedHere.contains(row.ino) {
                try gone(row, silo: s, shadow: shadowsHere[row.ino], tx)
            }
            for (name, ino) in links where !seen.contains(name) { try goneLink(name, ino, in: directory, silo: s, tx) }
        } else {
            for name in batch.gone where !seen.contains(name) {
                if let row = existing[name], !renamedHere.contains(row.ino) { try gone(row, silo: s, shadow: shadowsHere[row.ino], tx) }
                if let ino = links[name] { try goneLink(name, ino, in: directory, silo: s, tx) }
            }
        }
        // 2 + subdirectories, as local file systems count a directory's links. Names looked up
        // one by one do not say how many subdirectories there are: the index counts them, when
        // one may have been added.
        if whole {
            var subdirectories = Set(existing.lazy.filter { $0.value.kind == .directory }.map(\.key))
            // Not every listed subdirectory: one the mount removed after the walk listed it is
            // skipped above, and counting it left the parent a link too many.
            subdirectories.formUnion(keptDirectories)
            try tx.setLinkCount(directory, 2 + UInt64(subdirectories.count))
            touch(directory)
        } else if batch.entries.contains(where: { $0.stat.isDirectory && existing[$0.name]?.kind != .directory }) {
            try tx.recountLinks(ofDirectory: directory)
            touch(directory)
        }
    }

    /// Silo `s` no longer has `row`'s name: its copy goes once every listing is merged.
    private func gone(_ row: EntryRow, silo s: SiloID, shadow: ShadowRow?, _ tx: WriteTransaction) throws(IndexError) {
        if let since = liveSince, row.ctimeNs >= since { return }
        // A name only another silo has is not gone (a directory merged from several silos).
        if row.holds(silo: s) { pendingRemovals.append((row.ino, s)) }   // `finish` stops the counting
        else if shadow != nil { addedCounts = nil; try tx.deleteShadow(ino: row.ino, silo: s) }
    }

    /// A hard link's second name that silo `s` no longer has.
    private func goneLink(_ name: [UInt8], _ ino: UInt64, in directory: UInt64, silo s: SiloID, _ tx: WriteTransaction) throws(IndexError) {
        addedCounts = nil
        guard var row = try tx.reader.entry(ino), row.silo == s else { return }
        if let since = liveSince, row.ctimeNs >= since { return }
        try tx.deleteLink(parent: directory, name: name)
        row.nlink = max(1, row.nlink) - 1
        try tx.updateData(row)
        touch(row.ino)
        summary.removed += 1
        nameChanged?(directory, name)
    }

    /// Applies the removals deferred during the walk. In a live scan, a file a tier move touched
    /// meanwhile is left alone: the walk may have seen it half-way between two silos.
    func finish(_ tx: WriteTransaction) throws(IndexError) {
        if !pendingRemovals.isEmpty { addedCounts = nil }
        let moved = try jobsSince.map { since throws(IndexError) in try tx.reader.inodesWithJobs(since: since) } ?? []
        for (ino, silo) in pendingRemovals where !moved.contains(ino) {
            guard let row = try tx.reader.entry(ino) else { continue }
            // Another silo's copy may have taken the visible place meanwhile, leaving this one a shadow.
            guard row.holds(silo: silo) else { try tx.deleteShadow(ino: ino, silo: silo); continue }
            try removePresence(row, silo: silo, tx)
            if let parent = try tx.reader.entry(row.parent), parent.kind == .directory {
                try tx.recountLinks(ofDirectory: parent.ino)
                touch(parent.ino)
            }
        }
        pendingRemovals.removeAll()
    }

    /// The row the index holds for the file `scanned` under another name: the inode its hint
    /// names, in the same silo, on the same backing file. The file has one link, so its old name
    /// is gone. A hard link's second name (two links) or a copy (another backing file) carrying
    /// the hint gets a row of its own, as before.
    private func renamedRow(_ scanned: ScannedEntry, silo s: SiloID, _ tx: WriteTransaction) throws(IndexError) -> EntryRow? {
        guard let hint = scanned.inodeHint, !scanned.stat.isDirectory, scanned.stat.nlink == 1,
              let row = try tx.reader.entry(hint), row.kind != .directory, row.silo == s,
              row.backingInode == scanned.stat.inode, row.nlink <= 1 else { return nil }
        // In a live scan, a row the mount changed since the walk began is the mount's to name.
        if let since = liveSince, row.ctimeNs >= since { return nil }
        return row
    }

    private enum Presence { case exists, gone, unknown(Errno) }

    /// Whether a name the walker saw is still there, for scans racing the mount's own changes.
    /// Only a definite answer (the name is gone, or names another file now) leaves it out
    /// quietly; a failure to look is the caller's to report.
    private func stillExists(_ batch: DirectoryBatch, _ scanned: ScannedEntry) -> Presence {
        guard let silo = silos[batch.silo] else { return .unknown(.ioError) }
        // A listing is one consistent answer of the bucket; there is no cheaper check.
        if silo.isObjectStore { return .exists }
        let path = childPath(batch.path, scanned.name)
        let fd: Int32
        do { fd = try silo.open(path, flags: ESTUARY_O_PATH | O_NOFOLLOW) } catch {
            return error == .noSuchFileOrDirectory ? .gone : .unknown(error)
        }
        defer { Sys.close(fd) }
        do { return try Sys.fstat(fd).inode == scanned.stat.inode ? .exists : .gone } catch { return .unknown(error) }
    }

    private func report(_ silo: SiloID, _ path: [UInt8], _ message: String) {
        problems.append(ScanProblem(silo: silos[silo]?.name ?? "#\(silo)", path: displayName(path), message: message))
    }

    private func childPath(_ parent: [UInt8], _ name: [UInt8]) -> [UInt8] {
        parent.isEmpty ? name : parent + [UInt8(ascii: "/")] + name
    }

    private func mergeRoot(_ stat: FileStat, silo s: SiloID, _ tx: WriteTransaction) throws(IndexError) {
        guard var root = try tx.reader.entry(1) else { return }
        let before = root
        if root.dirSilos == 0 || order(s) <= order(root.silo) {
            root.apply(stat.withNlink(root.nlink)); root.silo = s
        }
        root.dirSilos |= bit(s)
        if root != before { try update(root, tx) }
    }

    private func merge(_ row: inout EntryRow, _ scanned: ScannedEntry, silo s: SiloID, shadow: ShadowRow?, _ tx: WriteTransaction) throws(IndexError) {
        let stat = scanned.stat
        switch (row.kind == .directory, stat.isDirectory) {
        case (true, true):
            var changed = false
            if !row.holds(silo: s) {
                row.dirSilos |= bit(s); changed = true
                if addedCounts != nil { addedCounts![s] += 1 }
                if order(s) < order(row.silo) { row.silo = s; row.apply(stat.withNlink(row.nlink)) }
            } else if row.silo == s && row.differs(from: stat.withNlink(row.nlink)) {
                if row.ctimeNs != stat.ctimeNs { try tx.replaceXattrs(of: row.ino, with: scanned.tags) }
                row.apply(stat.withNlink(row.nlink)); changed = true
            }
            if changed { try update(row, tx); summary.updated += 1 } else { summary.unchanged += 1 }
        case (false, false):
            addedCounts = nil   // which copy is visible may change: the table counts
            // A live scan can meet a file twice while a tier move switches it: the new copy
            // already renamed into place and the old one not yet deleted. Equal times would
            // let the faster silo's copy win and point the index back at the copy about to go.
            if row.silo != s, try movedDuringScan(row.ino, tx) { summary.unchanged += 1; return }
            // A file both in a bucket and on a local silo while a move between them is
            // unfinished (a crash between upload and switch, or between switch and the old
            // copy's removal): the job settles which copy stays; the scan leaves the row alone.
            if row.silo != s, isBucket(s) || isBucket(row.silo), try tx.reader.jobs().contains(where: { $0.ino == row.ino }) {
                summary.unchanged += 1; return
            }
            if row.silo == s {
                // An object is unchanged while its ETag and size are: the attributes the
                // index holds (a moved file's mode, owner and times) are not the listing's
                // defaults to overwrite.
                if silos[s]?.isObjectStore == true && row.backingInode == stat.inode && row.size == stat.size {
                    summary.unchanged += 1; return
                }
                guard row.differs(from: stat) || row.target != scanned.target else { summary.unchanged += 1; return }
                try takeScanned(&row, scanned, tx)
                summary.updated += 1
            } else if isNewer(stat, s, than: row) {
                shadowsExist = true
                try tx.upsertShadow(ShadowRow(ino: row.ino, silo: row.silo, kind: row.kind, size: row.size, mtimeNs: row.mtimeNs))
                if shadow != nil { try tx.deleteShadow(ino: row.ino, silo: s) }
                row.apply(stat); row.silo = s; row.target = scanned.target
                try update(row, tx)
                try tx.replaceXattrs(of: row.ino, with: scanned.tags)
                summary.updated += 1
            } else {
                try recordShadow(row.ino, stat, silo: s, existing: shadow, tx)
            }
        case (false, true):
            addedCounts = nil
            nameChanged?(row.parent, row.name)   // the kernel cannot turn a file's inode into a directory
            shadowsExist = true
            try tx.upsertShadow(ShadowRow(ino: row.ino, silo: row.silo, kind: row.kind, size: row.size, mtimeNs: row.mtimeNs))
            row.apply(stat); row.silo = s; row.dirSilos = bit(s); row.nlink = 2; row.target = nil
            try update(row, tx)
            try tx.replaceXattrs(of: row.ino, with: scanned.tags)
            summary.updated += 1
        case (true, false):
            addedCounts = nil
            try recordShadow(row.ino, stat, silo: s, existing: shadow, tx)
        }
    }

    /// The row takes what the walk saw of its own copy; tags too when the file changed since.
    private func takeScanned(_ row: inout EntryRow, _ scanned: ScannedEntry, _ tx: WriteTransaction) throws(IndexError) {
        if row.ctimeNs != scanned.stat.ctimeNs { try tx.replaceXattrs(of: row.ino, with: scanned.tags) }
        row.apply(scanned.stat)
        row.target = scanned.target
        try update(row, tx)
    }

    private func recordShadow(_ ino: UInt64, _ stat: FileStat, silo s: SiloID, existing: ShadowRow?, _ tx: WriteTransaction) throws(IndexError) {
        shadowsExist = true
        let shadow = ShadowRow(ino: ino, silo: s, kind: stat.fileType, size: stat.size, mtimeNs: stat.mtimeNs)
        if shadow != existing { try tx.upsertShadow(shadow); summary.updated += 1 } else { summary.unchanged += 1 }
    }

    /// Whether a move of `ino` ran since this live scan began (never, for a scan of an
    /// unmounted pool).
    private func movedDuringScan(_ ino: UInt64, _ tx: WriteTransaction) throws(IndexError) -> Bool {
        guard let since = jobsSince else { return false }
        return try tx.reader.hasJob(for: ino, since: since)
    }

    /// Which of two copies is the file. Between a bucket and a local silo the local copy wins:
    /// an object's time is when it was uploaded, not when the file changed.
    private func isNewer(_ stat: FileStat, _ s: SiloID, than row: EntryRow) -> Bool {
        if isBucket(s) != isBucket(row.silo) { return !isBucket(s) }
        return stat.mtimeNs > row.mtimeNs || (stat.mtimeNs == row.mtimeNs && order(s) < order(row.silo))
    }

    private func isBucket(_ id: SiloID) -> Bool { silos[id]?.isObjectStore == true }

    /// Silo `s` no longer holds `row`: drop that copy, promote a shadow if one is left, and
    /// remove the entry (and, for a directory, everything below it) when no silo holds it.
    private func removePresence(_ row: EntryRow, silo s: SiloID, _ tx: WriteTransaction) throws(IndexError) {
        var row = row
        if row.kind == .directory {
            for child in try tx.reader.firstNames(in: row.ino).values {
                if child.holds(silo: s) { try removePresence(child, silo: s, tx) }
                else { try tx.deleteShadow(ino: child.ino, silo: s) }
            }
            row.dirSilos &= ~bit(s)
            if row.dirSilos == 0 {
                try deleteSubtree(row.ino, tx)
                summary.removed += 1
                nameChanged?(row.parent, row.name)
                return
            }
            if row.silo == s {
                row.silo = (0..<64).filter { row.dirSilos & bit($0) != 0 }.min { order($0) < order($1) } ?? s
                if let stat = try statInSilo(row, row.silo, tx) { row.apply(stat.withNlink(row.nlink)) }
            }
            try update(row, tx)
            summary.updated += 1
            return
        }
        if let best = try tx.reader.shadows(of: row.ino).first {
            try tx.deleteShadow(ino: row.ino, silo: best.silo)
            row.silo = best.silo; row.size = best.size; row.mtimeNs = best.mtimeNs
            if let stat = try statInSilo(row, best.silo, tx) { row.apply(stat) }
            try update(row, tx)
            summary.updated += 1
        } else if linksPossible, try promoteAnotherName(of: row, tx) {
            touch(row.ino)
            summary.removed += 1
            nameChanged?(row.parent, row.name)
        } else {
            try delete(row.ino, tx)
            summary.removed += 1
            nameChanged?(row.parent, row.name)
        }
    }

    /// Only the first name went: the file lives on under its other names (they are on this
    /// silo too), one of which takes its place, as an unlink through the mount promotes one.
    /// A name of them gone as well goes when its directory is listed. False: no other name.
    private func promoteAnotherName(of row: EntryRow, _ tx: WriteTransaction) throws(IndexError) -> Bool {
        var remaining = row
        remaining.nlink = row.nlink > 0 ? row.nlink - 1 : 0
        return try tx.promoteLink(of: remaining) != nil
    }

    private func touch(_ ino: UInt64) {
        guard touched != nil else { return }
        if touched!.count >= Self.touchedLimit { touched = nil } else { touched!.insert(ino) }
    }

    private func update(_ row: EntryRow, _ tx: WriteTransaction) throws(IndexError) {
        try tx.update(row)
        // A shared index: the link count read at the start of this merge may be stale (another
        // node made or removed a subdirectory since); the index counts them itself.
        if tx.isShared && row.kind == .directory { try tx.recountLinks(ofDirectory: row.ino) }
        touch(row.ino)
    }

    private func delete(_ ino: UInt64, _ tx: WriteTransaction) throws(IndexError) {
        try tx.delete(ino)
        touch(ino)
    }

    private func deleteSubtree(_ ino: UInt64, _ tx: WriteTransaction) throws(IndexError) {
        for child in try tx.reader.firstNames(in: ino).values {
            if child.kind == .directory { try deleteSubtree(child.ino, tx) } else { try delete(child.ino, tx) }
        }
        try delete(ino, tx)
    }

    /// Current attributes of the copy in silo `id`, so a promoted copy shows its real metadata.
    private func statInSilo(_ row: EntryRow, _ id: SiloID, _ tx: WriteTransaction) throws(IndexError) -> FileStat? {
        guard let silo = silos[id], let path = try tx.reader.path(of: row.ino) else { return nil }
        guard let fd = try? silo.open(path, flags: ESTUARY_O_PATH | O_NOFOLLOW) else { return nil }
        defer { Sys.close(fd) }
        return try? Sys.fstat(fd)
    }
}

extension FileStat {
    func withNlink(_ n: UInt64) -> FileStat { var copy = self; copy.nlink = n; return copy }
}

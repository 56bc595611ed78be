import CShims
import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Who creates an entry: new entries are owned by the caller, as on a local file system.
public struct Creator: Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public init(uid: UInt32, gid: UInt32) { self.uid = uid; self.gid = gid }
}

extension Namespace {
    /// Creates and opens a regular file. Returns its entry (counted as a kernel lookup) and the
    /// backing descriptor, which becomes the file handle.
    public func create(parent: UInt64, name: UnsafeBufferPointer<UInt8>, mode: UInt32, flags: Int32, creator: Creator) throws(Errno) -> (EntryRow, Int32) {
        var fd: Int32 = -1
        let row: EntryRow
        do throws(Errno) {
            row = try makeEntry(parent: parent, name: name, creator: creator, isDirectory: false, hintFD: { fd }) { dirFD, cName, owner throws(Errno) in
                let openFlags = BackingOpenFlags.open(flags, truncate: false) | O_CREAT | O_EXCL | O_CLOEXEC
                fd = openat(dirFD, cName, openFlags, mode_t(mode & 0o7777))
                if fd < 0 { throw Errno.current }
                do throws(Errno) {
                    // A file the daemon creates for its own user (root creating as root) has
                    // its owner already: no chown, and no event for the silo's watcher.
                    let made = try Sys.fstat(fd)
                    let chown = made.uid != owner.uid || made.gid != owner.gid
                    if chown && fchown(fd, owner.uid, owner.gid) != 0 { throw Errno.current }
                    // chown drops setuid/setgid even for root; put back what was asked for.
                    let chmod = mode & 0o6000 != 0 && (chown || made.mode & 0o7777 != mode & 0o7777)
                    if chmod && fchmod(fd, mode_t(mode & 0o7777)) != 0 { throw Errno.current }
                    return chown || chmod ? try Sys.fstat(fd) : made
                } catch {
                    // O_EXCL made the file ours: a create that failed leaves nothing behind.
                    Sys.close(fd)
                    fd = -1
                    undoCreate(dirFD, cName, directory: false)
                    throw error
                }
            }
        } catch {
            // The index refused the entry (makeEntry removed the file): the descriptor goes too.
            if fd >= 0 { Sys.close(fd) }
            throw error
        }
        handles.add(row.ino, fd: fd, flags: flags & ~(O_CREAT | O_EXCL | O_TRUNC), silo: row.silo)
        return (row, fd)
    }

    /// Removes what a failed create made, before its error is reported.
    private func undoCreate(_ dirFD: Int32, _ cName: UnsafePointer<CChar>, directory: Bool) {
        if unlinkat(dirFD, cName, directory ? AT_REMOVEDIR : 0) != 0 {
            logger.error("could not remove a half-made entry after a failed create: \(Errno.current)")
        }
    }

    public func mknod(parent: UInt64, name: UnsafeBufferPointer<UInt8>, mode: UInt32, rdev: UInt64, creator: Creator) throws(Errno) -> EntryRow {
        try makeEntry(parent: parent, name: name, creator: creator, isDirectory: false) { dirFD, cName, owner throws(Errno) in
            if mknodat(dirFD, cName, mode_t(mode), dev_t(rdev)) != 0 { throw Errno.current }
            if fchownat(dirFD, cName, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0 {
                let e = Errno.current
                undoCreate(dirFD, cName, directory: false)
                throw e
            }
            if mode & 0o6000 != 0 { _ = fchmodat(dirFD, cName, mode_t(mode & 0o7777), 0) }
            return try Sys.lstatat(dirFD, cName)
        }
    }

    public func mkdir(parent: UInt64, name: UnsafeBufferPointer<UInt8>, mode: UInt32, creator: Creator) throws(Errno) -> EntryRow {
        try makeEntry(parent: parent, name: name, creator: creator, isDirectory: true) { dirFD, cName, owner throws(Errno) in
            if mkdirat(dirFD, cName, mode_t(mode & 0o7777)) != 0 { throw Errno.current }
            if fchownat(dirFD, cName, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0 {
                let e = Errno.current
                undoCreate(dirFD, cName, directory: true)
                throw e
            }
            if owner.mode & 0o7000 != 0 { _ = fchmodat(dirFD, cName, mode_t(owner.mode & 0o7777), 0) }
            return try Sys.lstatat(dirFD, cName)
        } modeFor: { parentRow in
            // A directory made inside a setgid directory is setgid itself.
            parentRow.mode & UInt32(S_ISGID) != 0 ? (mode & 0o7777) | UInt32(S_ISGID) : mode & 0o7777
        }
    }

    public func symlink(target: UnsafeBufferPointer<UInt8>, parent: UInt64, name: UnsafeBufferPointer<UInt8>, creator: Creator) throws(Errno) -> EntryRow {
        let targetBytes = Array(target)
        if targetBytes.count >= 4096 { throw Errno.fileNameTooLong }
        var row = try makeEntry(parent: parent, name: name, creator: creator, isDirectory: false, target: targetBytes) { dirFD, cName, owner throws(Errno) in
            let rc = withCPath(targetBytes) { symlinkat($0, dirFD, cName) }
            if rc != 0 { throw Errno.current }
            if fchownat(dirFD, cName, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) != 0 {
                let e = Errno.current
                undoCreate(dirFD, cName, directory: false)
                throw e
            }
            return try Sys.lstatat(dirFD, cName)
        }
        row.target = targetBytes
        return row
    }

    /// The common path of every create: name checks, placement, the parent made present in the
    /// chosen silo, the backing call, the index insert; undone on the silo if the index refuses.
    func makeEntry(parent: UInt64, name nameBuffer: UnsafeBufferPointer<UInt8>, creator: Creator, isDirectory: Bool,
                   target: [UInt8]? = nil, hintFD: () -> Int32 = { -1 },
                   _ make: (Int32, UnsafePointer<CChar>, (uid: UInt32, gid: UInt32, mode: UInt32)) throws(Errno) -> FileStat,
                   modeFor: (EntryRow) -> UInt32 = { _ in 0 }) throws(Errno) -> EntryRow {
        let name = Array(nameBuffer)
        try checkName(name)
        let parentRow = try entry(parent)
        guard parentRow.kind == .directory else { throw Errno.notDirectory }
        if try existing(parent: parent, name: nameBuffer) != nil { throw Errno.fileExists }
        // In a setgid directory new entries take the directory's group.
        let gid = parentRow.mode & UInt32(S_ISGID) != 0 ? parentRow.gid : creator.gid
        var excluded = Set<SiloID>()
        var silo: Silo
        var dirFD: Int32
        var stat: FileStat
        let wanted = preferredTier(parent: parentRow, name: name, creator: creator)
        while true {
            (silo, dirFD) = try placeEntry(in: parentRow, excluding: &excluded, tier: wanted)
            do {
                stat = try withCPath(name) { cName throws(Errno) in try make(dirFD, cName, (creator.uid, gid, modeFor(parentRow))) }
                break
            } catch {
                Sys.close(dirFD)
                // A silo that turned out full: try the next choice, as long as there is one.
                guard error == .noSpace || error == .diskQuotaExceeded else { throw error }
                space.invalidate(silo.id)
                excluded.insert(silo.id)
            }
        }
        defer { Sys.close(dirFD) }
        var row = EntryRow(ino: 0, parent: parent, name: name, stat: stat, silo: silo.id, target: target)
        if isDirectory { row.nlink = 2 }
        var parentAfter = touchedDirectory(parentRow, changedIn: silo, fd: dirFD)
        if isDirectory { parentAfter.nlink += 1 }
        // With group commit on a local index the reply needs only the number: the insert joins
        // the batch after the reply (docs/decisions.md, "Metadata against mergerfs's man-page presets").
        let timing: IndexTiming = index.createsMayWait ? .afterReply : .beforeReply
        do {
            let reserved = timing == .afterReply ? try index.reserveInode() : nil
            var inserted = row
            inserted.ino = reserved ?? 0
            let made = inserted
            row.ino = try commit(NamespaceChange(touched: [parentAfter]), timing: timing, known: reserved, rows: { [self] tx throws(IndexError) -> UInt64 in
                if reserved != nil { try insertCreated(made, tx); return made.ino }
                return try tx.insert(made)
            }, effects: { ino, change in
                var created = made
                created.ino = ino
                change = creation(of: created, in: parentAfter)
            })
        } catch {
            // A scan that recorded this very file meanwhile is no reason to fail (ScannedCreates).
            if error.kind == .conflict, let ino = adoptScannedRow(row, parentAfter: parentAfter) {
                row.ino = ino
                apply(creation(of: row, in: parentAfter))
            } else {
                _ = withCPath(name) { unlinkat(dirFD, $0, isDirectory ? AT_REMOVEDIR : 0) }
                throw indexFailure(error, "create")
            }
        }
        if row.kind == .regular || row.kind == .directory { writeInodeHint(row, dirFD: dirFD, fd: hintFD()) }
        return row
    }

    /// What the caches learn of a new entry.
    private func creation(of row: EntryRow, in parentAfter: EntryRow) -> NamespaceChange {
        var change = NamespaceChange(touched: [parentAfter])
        change.added = [(row.parent, ListedName(name: row.name, ino: row.ino, kind: row.kind))]
        if row.kind == .directory { change.emptyListings = [row.ino] }
        change.nodes = [.remember(row)]
        return change
    }

    /// Leaves the inode number on the backing entry (`user.estuary.ino`), so that a scan into a
    /// fresh index gives it back. Best effort: a file system without user xattrs just has none.
    /// `fd`, when the caller has the new file open already, saves an open and a close.
    func writeInodeHint(_ row: EntryRow, dirFD: Int32, fd open: Int32 = -1) {
        let fd = open >= 0 ? open : withCPath(row.name) { openat(dirFD, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC) }
        guard fd >= 0 else { return }
        defer { if open < 0 { Sys.close(fd) } }
        let value = Array(String(row.ino).utf8)
        _ = value.withUnsafeBytes { estuary_fsetxattr(fd, "user.estuary.ino", $0.baseAddress, $0.count, 0) }
    }

    func checkName(_ name: [UInt8]) throws(Errno) {
        if name.count > 255 { throw Errno.fileNameTooLong }
        if name.isEmpty || name == [UInt8(ascii: ".")] || name == [UInt8(ascii: "."), UInt8(ascii: ".")] { throw Errno.invalidArgument }
        if name.contains(UInt8(ascii: "/")) || name.contains(0) { throw Errno.invalidArgument }
    }

    /// The entry `name` in `parent` names, answered from the directory's held listing when
    /// there is one (DirectoryListings), else from the index.
    func existing(parent: UInt64, name: UnsafeBufferPointer<UInt8>) throws(Errno) -> EntryRow? {
        var answer = listings.lookup(parent, name)
        if case .unknown = answer, listings.missed(parent) {
            readListing(parent)
            answer = listings.lookup(parent, name)
        }
        switch answer {
        case .absent: return nil
        case .present(let ino):
            if let row = try? entry(ino) { return row }
            logger.warning("the listing of directory \(parent) named inode \(ino), which the index lacks; reading it again")
            listings.drop(parent)
        case .unknown: break
        }
        do { return try index.query { tx throws(IndexError) in try tx.entry(parent: parent, name: name, links: index.mayHoldLinks) } }
        catch { throw indexFailure(error, "lookup") }
    }

    /// Reads `dir`'s listing whole into the held listings, as opendir does; on an index
    /// failure nothing is kept and the caller asks the index for its one name.
    private func readListing(_ dir: UInt64) {
        let epoch = listings.epoch
        guard let children = try? index.query({ tx throws(IndexError) in try tx.listing(of: dir) }) else { return }
        listings.fill(dir, children, readAt: epoch)
    }

    /// The tier the objectives want a new entry on, if any rule decides.
    func preferredTier(parent: EntryRow, name: [UInt8], creator: Creator) -> String? {
        let (hook, always) = creationTier.withLock { ($0.function, $0.always) }
        guard let hook else { return nil }
        let objectives = directoryObjectives.withLock { $0 }
        if !always && objectives.isEmpty { return nil }
        var ancestors: [(String, String)] = []
        var current = parent
        while true {
            if let text = objectives[current.ino] {
                let path = current.ino == 1 ? "/" : "/" + displayName((try? relativePath(of: current)) ?? [])
                ancestors.append((path, text))
            }
            guard current.ino != 1, let up = try? entry(current.parent) else { break }
            current = up
        }
        let parentPath = parent.ino == 1 ? "" : "/" + displayName((try? relativePath(of: parent)) ?? [])
        return hook(parentPath, displayName(name), creator.uid, creator.gid, ancestors)
    }

    func chooseSilo(for parent: EntryRow, excluding: Set<SiloID> = [], tier: String? = nil) throws(Errno) -> Silo {
        var candidates = space.candidates(silos).filter { !excluding.contains($0.id) }
        if let tier {
            let rank = silos.all.first { $0.tier == tier }?.tierRank
            let inTier = candidates.filter { c in silos[c.id]?.tierRank == rank && c.available > c.minFree }
            if !inTier.isEmpty { candidates = inTier }
        }
        guard let id = placement.choose(among: candidates, parentSilos: parent.dirSilos), let silo = silos[id] else {
            throw candidates.isEmpty && excluding.isEmpty ? Errno.readOnlyFileSystem : Errno.noSpace
        }
        return silo
    }

    /// A second name for `ino` in `newParent`, in the silo holding its data (the parent is
    /// created there if needed): a real hard link, so every name shows one inode.
    public func link(_ ino: UInt64, newParent: UInt64, newName nameBuffer: UnsafeBufferPointer<UInt8>) throws(Errno) -> EntryRow {
        let name = Array(nameBuffer)
        try checkName(name)
        let gate = moves.enter(ino)
        defer { moves.exit(ino, gate) }
        var row = try entry(ino)
        guard row.kind != .directory else { throw Errno.notPermitted }
        let parentRow = try entry(newParent)
        guard parentRow.kind == .directory else { throw Errno.notDirectory }
        if try existing(parent: newParent, name: nameBuffer) != nil { throw Errno.fileExists }
        let silo = try silo(of: row)
        // An object has one key: a second name cannot be made in a bucket.
        if silo.isObjectStore { throw Errno.notPermitted }
        let sourceDir = try openParent(of: row, in: silo)
        defer { Sys.close(sourceDir) }
        let targetDir = try openDirectory(parentRow, in: silo, create: true)
        defer { Sys.close(targetDir) }
        let rc = withCPath(row.name) { source in withCPath(name) { linkat(sourceDir, source, targetDir, $0, 0) } }
        if rc != 0 { throw Errno.current }
        if let stat = try? withCPath(name, { cName throws(Errno) in try Sys.lstatat(targetDir, cName) }) {
            row.apply(stat)
        } else {
            row.nlink += 1
        }
        let parentAfter = touchedDirectory(parentRow, changedIn: silo, fd: targetDir)
        let source = row, shared = index.isShared
        var change = NamespaceChange(touched: [parentAfter])
        change.added = [(newParent, ListedName(name: name, ino: ino, kind: source.kind))]
        change.nodes = [.links(ino, nlink: source.nlink, ctimeNs: source.ctimeNs)]
        let alone: EntryRow?
        do {
            alone = try commit(change, rows: { tx throws(IndexError) -> EntryRow? in
                // The row is locked first: an unlink of the last other name made on another
                // node meanwhile has then committed, and deleted the row. The silo's link
                // succeeded, so the file lives on under this name alone (that unlink found no
                // other name), with its number.
                if shared, try tx.lockedEntry(ino) == nil {
                    var alone = source
                    alone.parent = newParent; alone.name = name; alone.nlink = 1
                    try tx.insertReserved(alone)
                    return alone
                }
                try tx.insertLink(parent: newParent, name: name, ino: ino)
                try tx.updateData(source)
                return nil
            }, effects: { alone, change in
                guard let alone else { return }
                // The first name this node knew is gone with the deleted row.
                change.removed.append((source.parent, source.name))
                change.nodes = [.refresh(alone)]
            })
        } catch {
            _ = withCPath(name) { unlinkat(targetDir, $0, 0) }
            throw indexFailure(error, "link")
        }
        if alone != nil { report([.name(parent: source.parent, name: source.name)]) }
        return nodes.remember(alone ?? source)
    }
}

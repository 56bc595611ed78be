import CShims
import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

extension Namespace {
    /// The silo holding `row`'s data, or EIO (logged) when it is not configured or offline.
    func silo(of row: EntryRow) throws(Errno) -> Silo {
        guard let silo = silos[row.silo] else {
            logger.error("entry \(row.ino) names silo \(row.silo), which is not configured")
            throw Errno.ioError
        }
        guard silo.isOnline else {
            logger.error("silo '\(silo.name)' is offline: \(silo.health.reason ?? "")")
            throw Errno.ioError
        }
        return silo
    }

    /// Opens directory `dir` inside `silo` (O_PATH), creating the missing part of its path there
    /// with the attributes the index holds for each directory when `create` is set. Each
    /// component is opened relative to the one before with O_NOFOLLOW, so a symlink planted in
    /// a silo can never redirect us outside it.
    func openDirectory(_ dir: EntryRow, in silo: Silo, create: Bool) throws(Errno) -> Int32 {
        let path = try relativePath(of: dir)
        do {
            return try silo.open(path, flags: ESTUARY_O_PATH | O_DIRECTORY | O_NOFOLLOW)
        } catch {
            guard error == .noSuchFileOrDirectory, create else { throw error }
        }
        var chain: [EntryRow] = []
        var current = dir
        while current.ino != 1 {
            chain.append(current)
            current = try entry(current.parent)
        }
        var fd = try silo.open([], flags: ESTUARY_O_PATH | O_DIRECTORY)
        let shared = index.engine.isShared
        var created: [UInt64] = []
        for component in chain.reversed() {
            let next = try withCPath(component.name) { name throws(Errno) -> Int32 in
                let opened = openat(fd, name, ESTUARY_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if opened >= 0 { return opened }
                let e = Errno.current
                guard e == .noSuchFileOrDirectory else { throw e }
                // With a shared index another node may have removed or moved the directory
                // since this node looked: one the index places on this silo is not made again
                // (that would undo the other node's rmdir, or split a moved directory in two
                // and let crossing renames make a loop).
                if shared && component.dirSilos & (1 << UInt64(silo.id)) != 0 { throw Errno.noSuchFileOrDirectory }
                if mkdirat(fd, name, mode_t(component.mode & 0o7777)) != 0 && Errno.current != .fileExists { throw Errno.current }
                _ = fchownat(fd, name, component.uid, component.gid, AT_SYMLINK_NOFOLLOW)
                _ = fchmodat(fd, name, mode_t(component.mode & 0o7777), 0)
                created.append(component.ino)
                let again = openat(fd, name, ESTUARY_O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                if again < 0 { throw Errno.current }
                return again
            }
            Sys.close(fd)
            fd = next
        }
        if !created.isEmpty { try markPresent(created, in: silo.id) }
        return fd
    }

    /// Chooses the silo for a new entry in `parent` and opens the parent there, made present if
    /// needed. A silo with something other than a directory at the parent's path or above it
    /// (a symlink or file that lost the merge to another silo's directory and is kept as a
    /// shadow) cannot take the entry: the choice then falls to the silos holding the directory
    /// for real, as the merge shows it, so a directory that lists as one takes creates.
    /// `excluded` holds the silos ruled out already (full ones, by the caller) and gains these.
    func placeEntry(in parent: EntryRow, excluding excluded: inout Set<SiloID>, tier: String?) throws(Errno) -> (silo: Silo, dirFD: Int32) {
        var conflict: Errno?
        var conflicted = Set<SiloID>()
        while true {
            let silo: Silo
            do { silo = try chooseSilo(for: parent, excluding: excluded, tier: tier) } catch {
                // No silo left: when a silo holding the directory is merely full or read-only,
                // that is the answer; when every holder had a conflict, the conflict is.
                guard let conflict else { throw error }
                let holders = silos.all.filter { parent.dirSilos & (1 << UInt64($0.id)) != 0 && !conflicted.contains($0.id) }
                throw holders.isEmpty ? conflict : error
            }
            do { return (silo, try openDirectory(parent, in: silo, create: true)) } catch {
                guard error == .notDirectory || error == .tooManySymbolicLinkLevels else { throw error }
                logger.debug("silo '\(silo.name)' has no directory at the path of \(parent.ino) (\(error)); placing elsewhere")
                conflict = conflict ?? error
                conflicted.insert(silo.id)
                excluded.insert(silo.id)
                for other in silos.all where parent.dirSilos & (1 << UInt64(other.id)) == 0 { excluded.insert(other.id) }
            }
        }
    }

    /// Records that `silo` now holds the directories `inodes`.
    func markPresent(_ inodes: [UInt64], in silo: SiloID) throws(Errno) {
        let rows: [EntryRow]
        do {
            rows = try index.change { tx throws(IndexError) -> [EntryRow] in
                var rows: [EntryRow] = []
                for ino in inodes {
                    guard var row = try tx.reader.entry(ino) else { continue }
                    row.dirSilos |= 1 << UInt64(silo)
                    try tx.update(row)
                    rows.append(row)
                }
                return rows
            }
        } catch { throw indexFailure(error, "mkdir in silo") }
        for row in rows { nodes.refresh(row) }
    }

    /// The parent of a name and the name itself, opened for *at calls in `silo`.
    func openParent(of row: EntryRow, in silo: Silo) throws(Errno) -> Int32 {
        try openDirectory(try entry(row.parent), in: silo, create: false)
    }

    /// Records a directory's new times and link count, leaving its placement, mode and owner
    /// alone: the directory may have been made present in another silo meanwhile, or chmodded
    /// on another node, and a write from this node's older copy would undo that.
    func storeTouched(_ dirs: [EntryRow], _ tx: WriteTransaction) throws(IndexError) {
        for dir in dirs {
            try tx.updateDirectoryTimes(dir)
            // This node's link count may be stale (another node made or removed a
            // subdirectory): the index counts them itself.
            if index.isShared { try tx.recountLinks(ofDirectory: dir.ino) }
        }
    }

    func cacheTouched(_ dirs: [EntryRow]) {
        for dir in dirs {
            nodes.update(dir.ino) { $0.mtimeNs = dir.mtimeNs; $0.ctimeNs = dir.ctimeNs; $0.atimeNs = dir.atimeNs; $0.nlink = dir.nlink }
        }
    }

    /// A directory's attributes after a change inside it: from the silo that holds its
    /// attributes when the change happened there, else "now" for mtime and ctime.
    func touchedDirectory(_ dir: EntryRow, changedIn silo: Silo, fd: Int32?) -> EntryRow {
        var row = dir
        if silo.id == dir.silo, let fd, let stat = try? Sys.fstat(fd) {
            row.mtimeNs = stat.mtimeNs; row.ctimeNs = stat.ctimeNs; row.atimeNs = stat.atimeNs
        } else {
            let now = wallClockNanoseconds()
            row.mtimeNs = now; row.ctimeNs = now
        }
        return row
    }
}

func wallClockNanoseconds() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_REALTIME, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

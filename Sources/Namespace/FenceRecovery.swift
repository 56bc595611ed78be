import CCounters
import CShims
import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The recovery of a node that was silent past its validity (NodeFence.swift): the others may
/// have taken it for dead, moved files it holds open without asking it (the source deleted),
/// renamed and changed files without its seeing their notifications. Runs with the fence up,
/// after a heartbeat landed again, so every move from then on asks this node.
extension Namespace {
    /// Drops the listings and reloads the rows this node caches, then points every open handle
    /// whose descriptor is not the file the index names at that file (reopened with the
    /// handle's flags, dup3 onto its number, as a move's switch does) and drops the kernel's
    /// pages and attributes of those files. Nil when the index could not be read (the fence
    /// stays; the next heartbeat tries again).
    public func levelWithIndex() -> (checked: Int, repointed: Int, failed: Int)? {
        for ino in nodes.knownInodes { listings.drop(ino) }
        reloadFromIndex()
        let open = handles.all()
        let inodes = Set(open.map(\.ino))
        let rows: [UInt64: EntryRow]
        do { rows = try indexRows(inodes) } catch {
            logger.error("fenced: cannot read the rows of the \(inodes.count) open files: \(error)")
            return nil
        }
        var repointed = 0, failed = 0
        var changes: [CachedChange] = []
        for file in open {
            // A file removed meanwhile: the handle keeps the unlinked file, as POSIX has it.
            guard let row = rows[file.ino] else { continue }
            switch repoint(file, to: row) {
            case .same: break
            case .moved: repointed += 1; changes.append(.contents(file.ino))
            case .failed: failed += 1; changes.append(.contents(file.ino))
            }
        }
        // Sizes and times from the copies the handles use now, over the reloaded rows (which
        // lack this node's pending writes) and the old copies' alike.
        for file in open where rows[file.ino] != nil {
            if let row = rows[file.ino] { nodes.refresh(row) }
            noteChanged(file.ino, fd: file.fd)
        }
        report(changes)
        fence.handlesRepointed.add(repointed, ordering: .relaxed)
        return (open.count, repointed, failed)
    }

    private enum Repoint { case same, moved, failed }

    private func repoint(_ file: BackingFile, to row: EntryRow) -> Repoint {
        guard let held = try? Sys.fstat(file.fd) else { return .same }
        guard let silo = silos[row.silo], !silo.isObjectStore else {
            // A copy in a bucket is not opened through a descriptor of its own here; a handle on
            // a local copy that went there can only fail from now on.
            if held.nlink == 0 { poison(file, why: "its file went to a bucket") ; return .failed }
            return .same
        }
        let fresh: Int32
        do { fresh = try silo.open(try relativePath(of: row), flags: BackingOpenFlags.open(file.flags, truncate: false) | O_CLOEXEC) }
        catch {
            if held.nlink == 0 { poison(file, why: "cannot open its current copy: \(error)"); return .failed }
            logger.warning("fenced: inode \(file.ino): cannot open its current copy (\(error)); handle \(file.fd) stays where it is")
            return .same
        }
        defer { Sys.close(fresh) }
        guard let current = try? Sys.fstat(fresh) else { return .same }
        if current.device == held.device && current.inode == held.inode { return .same }
        guard estuary_dup_cloexec(fresh, file.fd) >= 0 else {
            poison(file, why: "dup3 failed: \(Errno.current)")
            return .failed
        }
        file.silo.store(row.silo, ordering: .releasing)
        estuary_metrics_note_fd(file.fd, Int32(row.silo))
        logger.notice("fenced: inode \(file.ino): handle \(file.fd) pointed at its current copy on silo \(row.silo)")
        return .moved
    }

    /// A handle left on a deleted copy must not take writes that nobody would see: an O_PATH
    /// descriptor on its number makes every read and write on it fail (EBADF) instead.
    private func poison(_ file: BackingFile, why: String) {
        logger.error("fenced: inode \(file.ino): handle \(file.fd) is on a deleted copy and cannot follow the file (\(why)); its reads and writes fail from now on")
        let dead = Glibc.open("/", ESTUARY_O_PATH | O_CLOEXEC)
        if dead >= 0 { _ = estuary_dup_cloexec(dead, file.fd); Sys.close(dead) }
    }

    /// The errno of a request the fence held past its wait.
    public func fenced(_ operation: String, _ ino: UInt64) -> Errno {
        logger.error("\(operation) of inode \(ino) refused: this node is fenced (silent past its validity) and has not recovered")
        return Errno.ioError
    }
}

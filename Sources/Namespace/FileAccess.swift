import Index
import Silos
import Syscalls
import CShims
#if canImport(Glibc)
import Glibc
#endif

extension Namespace {
    /// Opens the backing file of `ino` in the silo holding it and returns the descriptor, which
    /// is the FUSE file handle. Attributes are refreshed from the opened file, so a file changed
    /// behind the daemon's back shows its true size at once; `changed` tells the caller to drop
    /// the kernel's cached pages of it; `empty` that the file holds no data (O_TRUNC applied).
    public func open(_ ino: UInt64, flags: Int32) throws(Errno) -> (fd: Int32, changed: Bool, empty: Bool, object: Bool) {
        guard fence.pass() else { throw fenced("open", ino) }
        let writing = flags & O_ACCMODE != O_RDONLY || flags & O_TRUNC != 0
        // Objects are immutable: a file in a bucket comes back to a writable tier before it is
        // opened for writing (outside the gate, which the recall's switch waits for).
        if writing, let peek = try? entry(ino), let silo = silos[peek.silo], silo.isObjectStore {
            guard let recall = objectRecall.withLock({ $0.function }), recall(ino) else {
                logger.error("inode \(ino) is in bucket silo '\(silo.name)' and could not be recalled for writing")
                throw Errno.ioError
            }
        }
        // Reading the row, opening its copy and registering the handle happen inside the move
        // gate: a tier move's switch waits for this open, and then finds the handle and points
        // it at the new copy. Outside the gate an open could read the old silo from the row,
        // lose the race with the switch, and hold the deleted old copy (stale reads, lost
        // writes) or find it already gone (ENOENT for a file that exists).
        let gate = moves.enter(ino)
        var truncatedFrom: Int64 = 0
        defer { moves.exit(ino, gate, offset: 0, length: truncatedFrom) }
        var row = try entry(ino)
        guard row.kind == .regular else { throw row.kind == .directory ? Errno.isDirectory : Errno.noSuchAddressOrDevice }
        guard let silo = silos[row.silo] else {
            logger.error("entry \(ino) names silo \(row.silo), which is not configured")
            throw Errno.ioError
        }
        if writing && silo.readOnly { throw Errno.readOnlyFileSystem }
        // O_TRUNC changes every extent a move may have copied already.
        if flags & O_TRUNC != 0 { truncatedFrom = max(row.size, 1) }
        let path = try relativePath(of: row)
        if silo.isObjectStore {
            if writing { throw Errno.ioError }   // moved back to the bucket meanwhile: rare, and retried by the caller
            let (fd, changed) = try openObject(&row, silo: silo, path: path, flags: flags)
            return (fd, changed, row.size == 0, true)
        }
        let fd: Int32
        // O_DIRECT would need aligned buffers from the kernel's requests; the mount serves it
        // uncached instead (direct_io), which is what the caller asked for.
        do { fd = try silo.open(path, flags: BackingOpenFlags.open(flags, truncate: true)) }
        catch {
            if error == .ioError || !silo.isOnline {
                logger.error("silo '\(silo.name)' cannot serve \(displayName(path)): \(error)")
                throw Errno.ioError
            }
            throw error
        }
        var changed = false
        let stat = try? Sys.fstat(fd)
        if let stat, row.differsIgnoringCtime(from: stat) {
            changed = true
            row.apply(stat)
            nodes.refresh(row)
            _ = dirty.take(ino)
            do { try index.change { tx throws(IndexError) in try tx.update(row) } }
            catch { logger.warning("could not record new attributes of \(displayName(path)): \(error)") }
            // Before the reply: the caller's next fstat or read must see the new size. The
            // cached pages go with the open reply (no keep_cache).
            reportNow(attributesOf: ino)
        }
        handles.add(ino, fd: fd, flags: flags, silo: silo.id)
        return (fd, changed, (stat?.size ?? 1) == 0, false)
    }

    /// Ends a handle: its descriptor closes once no move holds it (see BackingFile).
    public func release(_ ino: UInt64, fd: Int32) {
        objectReads.remove(fd)
        handles.remove(ino, fd: fd)
    }
}

extension Namespace {
    /// Re-reads the backing attributes of up to `limit` inodes the kernel holds, so that a file
    /// changed behind the daemon's back shows its new size and times without waiting for a
    /// scan. Returns how many changed.
    @discardableResult
    public func refreshKnownFiles(limit: Int = 20_000) -> Int {
        var changed: [EntryRow] = []
        for ino in nodes.knownInodes.prefix(limit) {
            guard var row = nodes.row(ino), row.kind == .regular, row.nlink > 0, !dirty.contains(ino),
                  let silo = silos[row.silo], silo.isOnline,
                  let path = try? relativePath(of: row),
                  let fd = try? silo.open(path, flags: ESTUARY_O_PATH | O_NOFOLLOW) else { continue }
            defer { Sys.close(fd) }
            guard let stat = try? Sys.fstat(fd), row.differsIgnoringCtime(from: stat), stat.fileType == row.kind else { continue }
            row.apply(stat)
            if nodes.update(ino, { $0.applyData(stat) }) != nil { changed.append(row) }
        }
        guard !changed.isEmpty else { return 0 }
        let rows = changed
        do { try index.change { tx throws(IndexError) in for row in rows { try tx.updateData(row) } } }
        catch { logger.warning("could not record files changed behind the mount: \(error)") }
        report(rows.map { .contents($0.ino) })
        return changed.count
    }
}

import CShims
import Index
import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Inodes whose size or times changed in memory (by writes) and are not yet in the index.
/// The index may lag the silo, never lead it: a row is recorded only after the write it
/// describes succeeded on the backing file.
final class DirtyInodes: Sendable {
    private let set = Mutex<Set<UInt64>>([])
    func insert(_ ino: UInt64) { _ = set.withLock { $0.insert(ino) } }
    func take(_ ino: UInt64) -> Bool { set.withLock { $0.remove(ino) != nil } }
    func contains(_ ino: UInt64) -> Bool { set.withLock { $0.contains(ino) } }
    func takeAll() -> [UInt64] { set.withLock { let all = Array($0); $0.removeAll(); return all } }
}

extension Namespace {
    /// Writes `data` at `offset` of the backing file. Size and times go to memory at once (so
    /// stat sees them) and to the index in batches.
    public func write(_ ino: UInt64, fd: Int32, data: UnsafeRawBufferPointer, offset: Int64) throws(Errno) -> Int {
        guard fence.pass() else { throw fenced("write", ino) }
        let written = try writeMaybeRelocating(ino, fd: fd, data: data, offset: offset)
        if fence.isOpen { return written }
        // The node's validity ran out during the write: frozen between the check and the
        // pwrite, it may have written into a copy another node's move deleted meanwhile. Once
        // the handle follows the index again, the same bytes go again (to the same place when
        // nothing moved).
        guard fence.pass() else { throw fenced("write", ino) }
        return try writeMaybeRelocating(ino, fd: fd, data: data, offset: offset)
    }

    private func writeMaybeRelocating(_ ino: UInt64, fd: Int32, data: UnsafeRawBufferPointer, offset: Int64) throws(Errno) -> Int {
        let failedOn = handles.silo(ino, fd: fd)
        do {
            return try writeOnce(ino, fd: fd, data: data, offset: offset)
        } catch {
            // A handle that followed its file into a bucket: the file comes back, then the write.
            if error == .badFileDescriptor, recallForHandle(ino, fd: fd) { return try write(ino, fd: fd, data: data, offset: offset) }
            // A full silo: move the file where there is room (its handles follow), then write again.
            guard error == .noSpace || error == .diskQuotaExceeded, let relocate = spaceHandler.withLock({ $0.function }) else { throw error }
            // The kernel writes a mapping's dirty pages back in parallel, so several writes meet
            // the full silo together. Whichever moves the file, the handle follows it: a write
            // whose handle is on another copy now just writes again.
            if failedOn == nil || handles.silo(ino, fd: fd) == failedOn {
                let needed = offset + Int64(data.count)
                logger.notice("silo full while writing inode \(ino); moving it to a silo with room")
                if !relocate(ino, needed) && (failedOn == nil || handles.silo(ino, fd: fd) == failedOn) { throw error }
            }
            return try writeOnce(ino, fd: fd, data: data, offset: offset)
        }
    }

    private func writeOnce(_ ino: UInt64, fd: Int32, data: UnsafeRawBufferPointer, offset: Int64) throws(Errno) -> Int {
        let gate = moves.enter(ino)
        var done = 0
        defer { moves.exit(ino, gate, offset: offset, length: Int64(done)) }
        while done < data.count {
            let n = Glibc.pwrite(fd, data.baseAddress! + done, data.count - done, off_t(offset + Int64(done)))
            if n < 0 {
                let e = Errno.current
                if e == .interrupted { continue }
                if done > 0 && e != .noSpace && e != .diskQuotaExceeded { break }
                throw e
            }
            if n == 0 { break }
            done += n
        }
        noteChanged(ino, fd: fd)
        return done
    }

    /// Installs what to do when a write finds its silo full: move the file (synchronously) to a
    /// silo with room for `bytes`, returning whether it did.
    public func onSiloFull(_ handler: @escaping @Sendable (UInt64, Int64) -> Bool) { spaceHandler.withLock { $0.function = handler } }

    /// Takes the attributes of an open backing file into memory and marks them for the index.
    func noteChanged(_ ino: UInt64, fd: Int32) {
        guard let stat = try? Sys.fstat(fd) else { return }
        // Marked before the node changes: a refresh from the index that runs in between then
        // keeps the node's data attributes (NodeTable.refresh(_:keepingWritesOf:)).
        dirty.insert(ino)
        if nodes.update(ino, { $0.applyData(stat) }) == nil { _ = dirty.take(ino) }
    }

    /// Writes the pending attributes of `ino` (or of every dirty inode) to the index.
    public func flushMetadata(_ ino: UInt64? = nil) {
        // Fenced, this node's sizes may be older than what other nodes wrote meanwhile: they
        // stay pending until the recovery took the files' attributes again.
        guard fence.isOpen else { return }
        let inodes: [UInt64]
        if let ino { inodes = dirty.take(ino) ? [ino] : [] } else { inodes = dirty.takeAll() }
        let rows = inodes.compactMap { nodes.row($0) }
        guard !rows.isEmpty else { return }
        do {
            try index.change { tx throws(IndexError) in
                // Not mode or link count: this copy may be from before a link, unlink or chmod
                // (on another node, or here while the flush ran), which record their own.
                for row in rows { try tx.updateSizeAndTimes(row) }
            }
        } catch {
            logger.error("could not record the size and times of \(rows.count) files: \(error)")
            rows.forEach { dirty.insert($0.ino) }
        }
    }

    public func flush(_ ino: UInt64) { flushMetadata(ino) }

    /// fsync/fdatasync of the backing file, then its attributes to the index.
    public func fsync(_ ino: UInt64, fd: Int32, dataOnly: Bool) throws(Errno) {
        guard fence.pass() else { throw fenced("fsync", ino) }
        _ = try retryingEINTR { dataOnly ? fdatasync(fd) : Glibc.fsync(fd) }
        flushMetadata(ino)
        try commitIndex()
    }

    /// Makes every namespace change so far durable in the index (the group-commit batch).
    func commitIndex() throws(Errno) {
        do { try index.commitPending() } catch { throw indexFailure(error, "commit") }
    }

    /// fsync of a directory in every silo holding it.
    public func fsyncDirectory(_ ino: UInt64) throws(Errno) {
        let row = try entry(ino)
        for id in 0..<64 where row.dirSilos & (1 << UInt64(id)) != 0 {
            guard let silo = silos[id], silo.isOnline else { continue }
            let fd = try openDirectoryForSync(row, silo)
            defer { Sys.close(fd) }
            _ = try retryingEINTR { Glibc.fsync(fd) }
        }
        try commitIndex()
    }

    private func openDirectoryForSync(_ row: EntryRow, _ silo: Silo) throws(Errno) -> Int32 {
        try silo.open(try relativePath(of: row), flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    }

    public func fallocate(_ ino: UInt64, fd: Int32, mode: Int32, offset: Int64, length: Int64) throws(Errno) {
        guard fence.pass() else { throw fenced("fallocate", ino) }
        do {
            let gate = moves.enter(ino)
            defer { moves.exit(ino, gate, offset: offset, length: length) }
            _ = try retryingEINTR { estuary_fallocate(fd, mode, offset, length) }
        } catch {
            guard error == .badFileDescriptor, recallForHandle(ino, fd: fd) else { throw error }
            return try fallocate(ino, fd: fd, mode: mode, offset: offset, length: length)
        }
        noteChanged(ino, fd: fd)
    }

    /// copy_file_range between two backing files; when they sit on different file systems
    /// (the kernel answers EXDEV) the bytes are copied through a buffer instead. A short count
    /// is allowed: the caller loops.
    public func copyFileRange(from input: Int32, at inputOffset: Int64, to outputIno: UInt64, _ output: Int32, at outputOffset: Int64,
                              length: Int) throws(Errno) -> Int {
        guard fence.pass() else { throw fenced("copy_file_range", outputIno) }
        var inOff = inputOffset, outOff = outputOffset
        let gate = moves.enter(outputIno)
        let n = estuary_copy_file_range(input, &inOff, output, &outOff, length, 0)
        moves.exit(outputIno, gate, offset: outputOffset, length: Int64(max(0, n)))
        if n >= 0 {
            noteChanged(outputIno, fd: output)
            return n
        }
        let e = Errno.current
        if e == .badFileDescriptor, recallForHandle(outputIno, fd: output) {
            return try copyFileRange(from: input, at: inputOffset, to: outputIno, output, at: outputOffset, length: length)
        }
        guard e == .improperLink || e == .notSupported || e == .invalidArgument || e == .notSupportedOnSocket else { throw e }
        let chunk = min(length, 8 << 20)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(chunk, 1), alignment: 4096)
        defer { buffer.deallocate() }
        let read = try Sys.pread(input, buffer, chunk, inputOffset)
        let written = try write(outputIno, fd: output, data: UnsafeRawBufferPointer(start: buffer, count: read), offset: outputOffset)
        return written
    }

    public func seek(fd: Int32, offset: Int64, whence: Int32) throws(Errno) -> Int64 {
        let result = lseek(fd, off_t(offset), whence)
        if result < 0 { throw Errno.current }
        return Int64(result)
    }
}

extension EntryRow {
    /// Size, blocks and times from the backing file; identity and placement untouched.
    mutating func applyData(_ stat: FileStat) {
        size = stat.size; blocks = stat.blocks; mtimeNs = stat.mtimeNs; ctimeNs = stat.ctimeNs; atimeNs = stat.atimeNs
        mode = stat.mode; nlink = stat.nlink
    }
}

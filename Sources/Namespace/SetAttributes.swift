import CShims
import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// A change of attributes, free of FUSE types.
public struct AttributeChange: Sendable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: Int64?
    /// nil: leave; .some(nil): now; .some(ns): that time.
    public var atime: Int64??
    public var mtime: Int64??
    public init(mode: UInt32? = nil, uid: UInt32? = nil, gid: UInt32? = nil, size: Int64? = nil, atime: Int64?? = nil, mtime: Int64?? = nil) {
        self.mode = mode; self.uid = uid; self.gid = gid; self.size = size; self.atime = atime; self.mtime = mtime
    }
}

extension Namespace {
    /// Clears mode bits of a file outside a setattr request (setuid before a direct write);
    /// the kernel's cached mode is dropped before the caller is answered.
    public func clearModeBits(_ ino: UInt64, _ bits: UInt32, openFD: Int32) throws(Errno) {
        let mode = try entry(ino).mode
        guard mode & bits != 0 else { return }
        _ = try setattr(ino, AttributeChange(mode: mode & ~bits), openFD: openFD)
        reportNow(attributesOf: ino)
    }

    /// chmod, chown, truncate and utimens on the backing entry (every copy of a directory),
    /// then the result as the backing file system reports it.
    public func setattr(_ ino: UInt64, _ change: AttributeChange, openFD: Int32?) throws(Errno) -> EntryRow {
        // A fenced node's cached row may name a copy another node's move replaced.
        guard fence.pass() else { throw fenced("setattr", ino) }
        // A truncate of a file in a bucket changes its data, which an object cannot take: the
        // file comes back to a writable tier first, as for an open for writing (outside the
        // gate, which the recall's switch waits for).
        if change.size != nil, let peek = try? entry(ino), let silo = silos[peek.silo], silo.isObjectStore {
            guard let recall = objectRecall.withLock({ $0.function }), recall(ino) else {
                logger.error("inode \(ino) is in bucket silo '\(silo.name)' and could not be recalled for a truncate")
                throw Errno.ioError
            }
        }
        // The row is read inside the move gate: read before it, a tier move's switch could
        // land in between, and the row written back below would point at the old silo, whose
        // copy the move deletes (every later open then fails with ENOENT).
        let gate = moves.enter(ino)
        var row: EntryRow?
        defer {
            let size = row?.size ?? 0
            moves.exit(ino, gate, offset: min(size, change.size ?? size),
                       length: change.size == nil ? 0 : abs((change.size ?? 0) - size) + 1)
        }
        row = try entry(ino)
        let before = row!
        let after = try setattr(row: &row!, change, openFD: openFD)
        if let narrowed = Namespace.searchNarrowed(from: before, to: after) { report([narrowed]) }
        return after
    }

    private func setattr(row: inout EntryRow, _ change: AttributeChange, openFD: Int32?) throws(Errno) -> EntryRow {
        let ino = row.ino
        if row.kind == .regular, let silo = silos[row.silo], silo.isObjectStore { return try setattrObject(row: &row, change, silo: silo) }
        let dirSilos = row.dirSilos
        let targets: [Silo] = row.kind == .directory
            ? (0..<64).filter { dirSilos & (1 << UInt64($0)) != 0 }.compactMap { silos[$0] }.filter(\.isOnline)
            : [try silo(of: row)]
        if targets.contains(where: \.readOnly) { throw Errno.readOnlyFileSystem }
        let path = try relativePath(of: row)
        var result: FileStat?
        for silo in targets {
            let fd: Int32
            let owned: Bool
            if let openFD, silo.id == row.silo { fd = openFD; owned = false }
            else { fd = try silo.open(path, flags: ESTUARY_O_PATH | O_NOFOLLOW); owned = true }
            defer { if owned { Sys.close(fd) } }
            try apply(change, to: fd, isOpenFile: !owned, silo: silo, path: path, kind: row.kind)
            if silo.id == row.silo { result = try Sys.fstat(fd) }
        }
        let before = row
        if let result {
            row.apply(row.kind == .directory ? FileStatWithLinks(result, row.nlink) : result)
        }
        var columns = change.columns(before: before)
        // Sizes and times that writes left in memory go with it, as their flush would have.
        if dirty.take(ino) { columns.formUnion([.size, .atime, .mtime]) }
        return try record(row, columns, "setattr")
    }

    /// Writes `columns` of `row` to the index and to the node table: only what this change
    /// made, so another node's change of the other attributes at the same instant stays, in
    /// the index and in memory (the node may have taken it already: `RemoteChanges`). The
    /// answer is the node's row, with both.
    private func record(_ row: EntryRow, _ columns: AttributeColumns, _ operation: String,
                        durable: Bool = false, journal silo: SiloID? = nil) throws(Errno) -> EntryRow {
        do {
            if durable {
                // Committed before the answer (not group-committed): the change and its journal
                // line survive a kill -9, so the next mount finishes the write-back.
                try index.write { tx throws(IndexError) in
                    try tx.updateAttributes(row, columns)
                    if let silo { try BucketAttributes.record(row.ino, silo: silo, tx) }
                }
            } else {
                try index.change { tx throws(IndexError) in try tx.updateAttributes(row, columns) }
            }
        } catch { throw indexFailure(error, operation) }
        return nodes.update(row.ino) { $0.take(columns, from: row) } ?? row
    }

    /// setattr of a file whose data is an object: the index holds the attributes (there is no
    /// backing file to change), journaled for the write-back to the object's metadata (see
    /// BucketAttributes). The kernel checked the caller's permission (default_permissions);
    /// the rules the backing file system would apply on top are applied here.
    private func setattrObject(row: inout EntryRow, _ change: AttributeChange, silo: Silo) throws(Errno) -> EntryRow {
        if silo.readOnly { throw Errno.readOnlyFileSystem }
        if change.size != nil { throw Errno.ioError }   // moved back into the bucket since the recall: rare
        let before = row
        let now = wallClockNanoseconds()
        if change.uid != nil || change.gid != nil {
            if let uid = change.uid { row.uid = uid }
            if let gid = change.gid { row.gid = gid }
            // As chown(2) on a regular file: setuid goes, setgid too where group execution is set.
            var clear = UInt32(S_ISUID)
            if row.mode & UInt32(S_IXGRP) != 0 { clear |= UInt32(S_ISGID) }
            row.mode &= ~clear
        }
        if let mode = change.mode { row.mode = (row.mode & ~0o7777) | (mode & 0o7777) }
        if let atime = change.atime { row.atimeNs = atime ?? now }
        if let mtime = change.mtime { row.mtimeNs = mtime ?? now }
        row.ctimeNs = now
        let journaled = change.mode != nil || change.uid != nil || change.gid != nil || change.mtime != nil || change.atime != nil
        let updated = try record(row, change.columns(before: before), "setattr", durable: true, journal: journaled ? silo.id : nil)
        if journaled { bucketAttributes.changed(updated.ino, silo: silo.id) }
        return updated
    }

    private func apply(_ change: AttributeChange, to fd: Int32, isOpenFile: Bool, silo: Silo, path: [UInt8], kind: FileKind) throws(Errno) {
        // An O_PATH descriptor serves chown and utimens through AT_EMPTY_PATH and /proc; chmod
        // goes through /proc too, and truncate needs a descriptor opened for writing.
        let procPath = "/proc/self/fd/\(fd)"
        if change.uid != nil || change.gid != nil {
            let uid = change.uid.map { uid_t($0) } ?? uid_t(bitPattern: -1)
            let gid = change.gid.map { gid_t($0) } ?? gid_t(bitPattern: -1)
            if fchownat(fd, "", uid, gid, ESTUARY_AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0 { throw Errno.current }
        }
        if let mode = change.mode, kind != .symlink {
            if chmod(procPath, mode_t(mode & 0o7777)) != 0 { throw Errno.current }
        }
        if let size = change.size {
            guard kind == .regular else { throw kind == .directory ? Errno.isDirectory : Errno.invalidArgument }
            if isOpenFile && ftruncate(fd, off_t(size)) == 0 {
            } else {
                let writable = try silo.open(path, flags: O_WRONLY | O_NOFOLLOW | O_NONBLOCK)
                defer { Sys.close(writable) }
                if ftruncate(writable, off_t(size)) != 0 { throw Errno.current }
            }
        }
        if change.atime != nil || change.mtime != nil {
            func spec(_ t: Int64??) -> timespec {
                switch t {
                case .none: return timespec(tv_sec: 0, tv_nsec: ESTUARY_UTIME_OMIT)
                case .some(.none): return timespec(tv_sec: 0, tv_nsec: ESTUARY_UTIME_NOW)
                case .some(.some(let ns)):
                    let seconds = ns >= 0 ? ns / 1_000_000_000 : (ns - 999_999_999) / 1_000_000_000
                    return timespec(tv_sec: Int(seconds), tv_nsec: Int(ns - seconds * 1_000_000_000))
                }
            }
            var times = [spec(change.atime), spec(change.mtime)]
            if kind == .symlink {
                // Times of a symlink itself: through its parent, without following it.
                let parentPath = Array(path.split(separator: UInt8(ascii: "/")).dropLast().joined(separator: [UInt8(ascii: "/")]))
                let name = Array(path.split(separator: UInt8(ascii: "/")).last ?? [])
                let dirFD = try silo.open(parentPath, flags: ESTUARY_O_PATH | O_DIRECTORY | O_NOFOLLOW)
                defer { Sys.close(dirFD) }
                if withCPath(name, { utimensat(dirFD, $0, &times, AT_SYMLINK_NOFOLLOW) }) != 0 { throw Errno.current }
            } else if utimensat(AT_FDCWD, procPath, &times, 0) != 0 {
                throw Errno.current
            }
        }
    }
}

extension AttributeChange {
    /// The columns this change writes, `row` being the file before it. A chown writes the mode
    /// too when it may have cleared setuid or setgid (as chown(2) does to a file that is not a
    /// directory): otherwise the mode is not its own, and writing the mode it read would undo
    /// a chmod made meanwhile on another node.
    func columns(before row: EntryRow) -> AttributeColumns {
        var columns: AttributeColumns = []
        if mode != nil { columns.insert(.mode) }
        if uid != nil || gid != nil {
            columns.insert(.owner)
            if row.kind != .directory && row.mode & UInt32(S_ISUID | S_ISGID) != 0 { columns.insert(.mode) }
        }
        if size != nil { columns.formUnion([.size, .mtime]) }
        if atime != nil { columns.insert(.atime) }
        if mtime != nil { columns.insert(.mtime) }
        return columns
    }
}

private func FileStatWithLinks(_ stat: FileStat, _ nlink: UInt64) -> FileStat {
    var copy = stat
    copy.nlink = nlink
    return copy
}

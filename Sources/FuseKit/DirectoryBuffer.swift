import CFuse3
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Collects directory entries for one readdir/readdirplus reply, up to the size the kernel asked for.
public struct DirectoryBuffer: ~Copyable {
    var storage: [UInt8]
    var used = 0
    let request: fuse_req_t

    public init(for request: borrowing Request, size: Int) {
        self.request = request.raw
        storage = [UInt8](repeating: 0, count: max(0, min(size, 1 << 20)))
    }

    /// Adds a plain entry; false when it does not fit (the caller stops there).
    public mutating func add(name: [UInt8], inode: UInt64, type: FileKind, nextOffset: Int64) -> Bool {
        var s = stat()
        s.st_ino = ino_t(inode)
        s.st_mode = mode_t(UInt32(type.direntType) << 12)
        let r = request
        return append(name) { fuse_add_direntry(r, $0, $1, $2, &s, off_t(nextOffset)) }
    }

    /// Adds an entry to a readdirplus reply without attributes (node id 0): the kernel lists
    /// the name as plain readdir would, makes no dentry of it and counts no lookup. False when
    /// it does not fit.
    public mutating func addPlusWithoutAttributes(name: [UInt8], inode: UInt64, type: FileKind, nextOffset: Int64) -> Bool {
        var e = fuse_entry_param()
        e.attr.st_ino = ino_t(inode)
        e.attr.st_mode = mode_t(UInt32(type.direntType) << 12)
        let r = request
        return append(name) { fuse_add_direntry_plus(r, $0, $1, $2, &e, off_t(nextOffset)) }
    }

    /// Adds an entry with its attributes; false when it does not fit. An added entry (other than
    /// "." and "..") counts as a kernel lookup of its inode.
    public mutating func addPlus(name: [UInt8], entry: EntryReply, nextOffset: Int64) -> Bool {
        var e = entry.param
        let r = request
        return append(name) { fuse_add_direntry_plus(r, $0, $1, $2, &e, off_t(nextOffset)) }
    }

    /// Writes one entry at the end of the reply with `write(destination, room, name)`, which
    /// returns the entry's size (more than the room: it did not fit, and nothing counts).
    private mutating func append(_ name: [UInt8], _ write: (UnsafeMutablePointer<CChar>, Int, UnsafePointer<CChar>) -> Int) -> Bool {
        let remaining = storage.count - used
        let start = used
        let needed = withCPath(name) { cName in
            storage.withUnsafeMutableBytes { buffer in
                write(buffer.baseAddress!.assumingMemoryBound(to: CChar.self) + start, remaining, cName)
            }
        }
        if needed > remaining { return false }
        used += needed
        return true
    }
}

import CCounters
import CFuse3
import CFuseRing
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// One FUSE request awaiting its reply. Non-copyable and consumed by every reply, so the
/// compiler rejects a second reply; an unanswered request is answered with EIO when it goes
/// out of scope, so the kernel never waits forever.
public struct Request: ~Copyable {
    let raw: fuse_req_t
    let fileInfo: UnsafeMutablePointer<fuse_file_info>?
    /// The operation and its start time (0 with metrics off), for the latency and errno
    /// counters every reply bumps (CCounters).
    let op: estuary_op
    let started: UInt64

    init(_ raw: fuse_req_t, _ op: estuary_op, _ fileInfo: UnsafeMutablePointer<fuse_file_info>? = nil) {
        self.raw = raw
        self.fileInfo = fileInfo
        self.op = op
        self.started = estuary_metrics_start()
    }

    deinit {
        fuse_reply_err(raw, EIO)
        counted(EIO)
    }

    /// Records the reply in the metrics counters; free when metrics are off (`started` is 0).
    @inline(__always)
    private func counted(_ error: Int32) {
        estuary_metrics_request_done(Int32(op.rawValue), started, error)
    }

    /// The caller's credentials, as the kernel reported them.
    public var caller: Caller {
        let ctx = fuse_req_ctx(raw)!.pointee
        return Caller(uid: ctx.uid, gid: ctx.gid, pid: ctx.pid)
    }

    /// Supplementary groups of the caller (read from /proc by libfuse).
    public func callerGroups() -> [UInt32] {
        var groups = [gid_t](repeating: 0, count: 64)
        let n = fuse_req_getgroups(raw, Int32(groups.count), &groups)
        if n <= 0 { return [] }
        if Int(n) > groups.count {
            groups = [gid_t](repeating: 0, count: Int(n))
            let m = fuse_req_getgroups(raw, Int32(groups.count), &groups)
            return Array(groups.prefix(Int(max(0, min(m, n)))))
        }
        return Array(groups.prefix(Int(n)))
    }

    public consuming func reply(error: Errno) {
        fuse_reply_err(raw, error.rawValue)
        counted(error.rawValue)
        discard self
    }

    /// Success with no data (setxattr, removexattr, flush, fsync, releases, unlink, ...).
    public consuming func replyOK() {
        fuse_reply_err(raw, 0)
        counted(0)
        discard self
    }

    public consuming func reply(entry: EntryReply) {
        var e = entry.param
        fuse_reply_entry(raw, &e)
        counted(0)
        discard self
    }

    /// A created and opened file: its entry (a kernel lookup) and its handle.
    @discardableResult
    public consuming func reply(create entry: EntryReply, handle: UInt64, keepCache: Bool = false, directIO: Bool = false) -> Bool {
        var e = entry.param
        var fi = fileInfo?.pointee ?? fuse_file_info()
        fi.fh = handle
        fi.keep_cache = keepCache ? 1 : 0
        fi.direct_io = directIO ? 1 : 0
        let rc = fuse_reply_create(raw, &e, &fi)
        counted(0)
        discard self
        return rc == 0
    }

    public consuming func reply(written count: Int) {
        fuse_reply_write(raw, count)
        counted(0)
        discard self
    }

    public consuming func reply(offset: Int64) {
        fuse_reply_lseek(raw, off_t(offset))
        counted(0)
        discard self
    }

    public consuming func reply(attributes: FileStat, timeout: Double) {
        var s = attributes.cStat
        fuse_reply_attr(raw, &s, timeout)
        counted(0)
        discard self
    }

    public consuming func reply(link target: [UInt8]) {
        _ = withCPath(target) { fuse_reply_readlink(raw, $0) }
        counted(0)
        discard self
    }

    /// Opens a file or directory with handle `handle`. False when the opener was interrupted:
    /// the kernel will never release that handle, so the caller must.
    @discardableResult
    public consuming func reply(open handle: UInt64, keepCache: Bool = false, directIO: Bool = false, cacheDirectory: Bool = false) -> Bool {
        var fi = fileInfo?.pointee ?? fuse_file_info()
        fi.fh = handle
        fi.keep_cache = keepCache ? 1 : 0
        fi.direct_io = directIO ? 1 : 0
        fi.cache_readdir = cacheDirectory ? 1 : 0
        let rc = fuse_reply_open(raw, &fi)
        counted(0)
        discard self
        return rc == 0
    }

    public consuming func reply(bytes: UnsafeRawBufferPointer) {
        fuse_reply_buf(raw, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
        counted(0)
        discard self
    }

    public consuming func reply(bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { fuse_reply_buf(raw, $0.baseAddress?.assumingMemoryBound(to: CChar.self), $0.count) }
        counted(0)
        discard self
    }

    /// Replies to a read with `size` bytes of `fd` at `offset` without copying through our
    /// memory: read straight into the io_uring entry's buffer, or spliced on /dev/fuse.
    public consuming func reply(fd: Int32, offset: Int64, size: Int) {
        estuary_ring_reply_fd(UnsafeMutableRawPointer(raw), fd, offset, size)
        counted(0)
        discard self
    }

    public consuming func reply(statfs: statvfs) {
        var s = statfs
        fuse_reply_statfs(raw, &s)
        counted(0)
        discard self
    }

    /// For getxattr/listxattr called with size 0: the size the value would need.
    public consuming func reply(xattrSize: Int) {
        fuse_reply_xattr(raw, xattrSize)
        counted(0)
        discard self
    }

    public consuming func reply(directory: consuming DirectoryBuffer) {
        _ = directory.storage.withUnsafeBytes { fuse_reply_buf(raw, $0.baseAddress?.assumingMemoryBound(to: CChar.self), directory.used) }
        counted(0)
        discard self
    }
}

/// What a lookup (or readdirplus item) tells the kernel about an inode.
public struct EntryReply {
    var param: fuse_entry_param

    public init(attributes: FileStat, generation: UInt64, entryTimeout: Double, attrTimeout: Double) {
        param = fuse_entry_param()
        param.ino = fuse_ino_t(attributes.inode)
        param.generation = generation
        param.attr = attributes.cStat
        param.entry_timeout = entryTimeout
        param.attr_timeout = attrTimeout
    }

    /// A negative entry: the name does not exist, and the kernel may cache that for `timeout`.
    public static func negative(timeout: Double) -> EntryReply {
        var e = EntryReply(attributes: FileStat(mode: 0), generation: 0, entryTimeout: timeout, attrTimeout: 0)
        e.param.ino = 0
        return e
    }
}

extension FileStat {
    static func timespecOf(_ ns: Int64) -> timespec {
        var t = timespec()
        t.tv_sec = Int(ns / 1_000_000_000)
        t.tv_nsec = Int(ns % 1_000_000_000)
        return t
    }

    var cStat: stat {
        var s = stat()
        s.st_ino = ino_t(inode)
        s.st_mode = mode_t(mode)
        s.st_nlink = nlink_t(nlink)
        s.st_uid = uid
        s.st_gid = gid
        s.st_rdev = dev_t(rdev)
        s.st_size = off_t(size)
        s.st_blocks = blkcnt_t(blocks)
        s.st_blksize = 4096
        s.st_atim = FileStat.timespecOf(atimeNs)
        s.st_mtim = FileStat.timespecOf(mtimeNs)
        s.st_ctim = FileStat.timespecOf(ctimeNs)
        return s
    }
}

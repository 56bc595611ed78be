import CShims
#if canImport(Glibc)
import Glibc
#endif

/// Thin throwing wrappers over the file syscalls Estuary uses. Each retries EINTR and reports
/// failure as the `Errno` the kernel gave.
public enum Sys {
    /// Opens `path` relative to `dirfd` so that no component can lead outside `dirfd`:
    /// `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)`. The corresponding C call is `openat2`.
    @inlinable
    public static func openBeneath(_ dirfd: Int32, _ path: UnsafePointer<CChar>, flags: Int32, mode: UInt32 = 0) throws(Errno) -> Int32 {
        let rc = estuary_openat2(dirfd, path, flags | O_CLOEXEC, mode, ESTUARY_RESOLVE_BENEATH | ESTUARY_RESOLVE_NO_MAGICLINKS)
        if rc < 0 { throw Errno.current }
        return rc
    }

    /// `openBeneath` with the resolve flags spelled out (`ESTUARY_RESOLVE_*`).
    @inlinable
    public static func openBeneath(_ dirfd: Int32, _ path: UnsafePointer<CChar>, flags: Int32, mode: UInt32 = 0, resolve: UInt64) throws(Errno) -> Int32 {
        let rc = estuary_openat2(dirfd, path, flags | O_CLOEXEC, mode, resolve | ESTUARY_RESOLVE_BENEATH)
        if rc < 0 { throw Errno.current }
        return rc
    }

    /// The longest path one call takes: PATH_MAX less its terminating NUL.
    public static let longestPath = 4095

    /// Opens `path` beneath `dirfd`, of any length: a path a single call would refuse
    /// (ENAMETOOLONG past PATH_MAX, which ext4 trees exceed happily) is walked in steps, each
    /// step the longest run of whole components one call takes, opened beneath the directory
    /// the step before reached. Every step resolves with `resolve` and RESOLVE_BENEATH, so a
    /// long walk can reach no further than a short one.
    public static func openBeneath(_ dirfd: Int32, _ path: some Collection<UInt8>, flags: Int32, mode: UInt32 = 0,
                                   resolve: UInt64 = ESTUARY_RESOLVE_NO_MAGICLINKS) throws(Errno) -> Int32 {
        if path.count <= longestPath {
            return try withCPath(path) { p throws(Errno) in try openBeneath(dirfd, p, flags: flags, mode: mode, resolve: resolve) }
        }
        return try openBeneathInSteps(dirfd, Array(path), flags: flags, mode: mode, resolve: resolve)
    }

    static func openBeneathInSteps(_ dirfd: Int32, _ path: [UInt8], flags: Int32, mode: UInt32, resolve: UInt64) throws(Errno) -> Int32 {
        let slash = UInt8(ascii: "/")
        var start = 0
        var directory = dirfd
        defer { if directory != dirfd { close(directory) } }
        while path.count - start > longestPath {
            var cut = start + longestPath   // a valid index: more than longestPath bytes remain
            while cut > start && path[cut] != slash { cut -= 1 }
            if cut == start { throw Errno.fileNameTooLong }   // one component longer than a call takes
            let next = try withCPath(path[start..<cut]) { p throws(Errno) in
                try openBeneath(directory, p, flags: ESTUARY_O_PATH | O_DIRECTORY, resolve: resolve)
            }
            if directory != dirfd { close(directory) }
            directory = next
            start = cut + 1
            while start < path.count && path[start] == slash { start += 1 }
        }
        let rest = start < path.count ? path[start...] : ArraySlice(Array(".".utf8))
        return try withCPath(rest) { p throws(Errno) in try openBeneath(directory, p, flags: flags, mode: mode, resolve: resolve) }
    }

    /// The corresponding C function is `open`.
    public static func open(_ path: String, flags: Int32, mode: UInt32 = 0) throws(Errno) -> Int32 {
        try retryingEINTR { Glibc.open(path, flags | O_CLOEXEC, mode) }
    }

    @inlinable
    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    /// The corresponding C function is `fstat`.
    @inlinable
    public static func fstat(_ fd: Int32) throws(Errno) -> FileStat {
        var s = Glibc.stat()
        if Glibc.fstat(fd, &s) != 0 { throw Errno.current }
        return FileStat(s)
    }

    /// The corresponding C function is `fstatat`; never follows a final symlink.
    @inlinable
    public static func lstatat(_ dirfd: Int32, _ name: UnsafePointer<CChar>) throws(Errno) -> FileStat {
        var s = Glibc.stat()
        if Glibc.fstatat(dirfd, name, &s, AT_SYMLINK_NOFOLLOW) != 0 { throw Errno.current }
        return FileStat(s)
    }

    /// `stat` of a path, following symlinks unless `follow` is false.
    public static func statPath(_ path: String, follow: Bool = true) throws(Errno) -> FileStat {
        var s = Glibc.stat()
        if Glibc.fstatat(AT_FDCWD, path, &s, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0 { throw Errno.current }
        return FileStat(s)
    }

    /// The corresponding C function is `pread`. Returns the bytes read (0 at end of file).
    @inlinable
    public static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: Int64) throws(Errno) -> Int {
        try retryingEINTR { Glibc.pread(fd, buffer, count, off_t(offset)) }
    }

    /// The corresponding C function is `pwrite`.
    @inlinable
    public static func pwrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, _ offset: Int64) throws(Errno) -> Int {
        try retryingEINTR { Glibc.pwrite(fd, buffer, count, off_t(offset)) }
    }

    /// The corresponding C function is `readlinkat`.
    public static func readlinkat(_ dirfd: Int32, _ name: UnsafePointer<CChar>) throws(Errno) -> [UInt8] {
        var capacity = 256
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBytes { Glibc.readlinkat(dirfd, name, $0.baseAddress!.assumingMemoryBound(to: CChar.self), capacity) }
            if n < 0 { throw Errno.current }
            if n < capacity { return Array(buffer[0..<n]) }
            if capacity >= 65536 { throw Errno.fileNameTooLong }
            capacity *= 4
        }
    }

    /// The corresponding C function is `fstatvfs`.
    public static func fstatvfs(_ fd: Int32) throws(Errno) -> statvfs {
        var s = statvfs()
        if Glibc.fstatvfs(fd, &s) != 0 { throw Errno.current }
        return s
    }

    /// The corresponding C function is `fsync`.
    public static func fsync(_ fd: Int32) throws(Errno) {
        _ = try retryingEINTR { Glibc.fsync(fd) }
    }

    /// Writes all of `bytes` at the current offset.
    public static func writeAll(_ fd: Int32, _ bytes: some Collection<UInt8>) throws(Errno) {
        let array = Array(bytes)
        var done = 0
        while done < array.count {
            let n = try retryingEINTR { array.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, array.count - done) } }
            done += n
        }
    }

    /// Reads until end of file.
    public static func readAll(_ fd: Int32, limit: Int = 1 << 26) throws(Errno) -> [UInt8] {
        var result = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while result.count < limit {
            let n = try retryingEINTR { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) } }
            if n == 0 { break }
            result.append(contentsOf: chunk[0..<n])
        }
        return result
    }
}

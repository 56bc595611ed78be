import Foundation
import CShims
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// libc calls and constants Swift's Glibc module lacks (they sit behind _GNU_SOURCE or in
/// <sys/xattr.h>). Non-variadic libc functions are looked up with dlsym and called through a
/// C function pointer; constants are the Linux x86_64/aarch64 values.
enum LibcExtras {
    nonisolated(unsafe) private static let handle = dlopen(nil, RTLD_NOW)

    private static func symbol<T>(_ name: String, as type: T.Type) -> T {
        guard let pointer = dlsym(handle, name) else { fatalError("libc has no \(name)") }
        return unsafeBitCast(pointer, to: type)
    }

    typealias FallocateFunction = @convention(c) (Int32, Int32, Int64, Int64) -> Int32
    typealias CopyFileRangeFunction = @convention(c) (Int32, UnsafeMutablePointer<Int64>?, Int32, UnsafeMutablePointer<Int64>?, Int, UInt32) -> Int
    typealias GetXattrFunction = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>, UnsafeMutableRawPointer?, Int) -> Int
    typealias ListXattrFunction = @convention(c) (UnsafePointer<CChar>, UnsafeMutablePointer<CChar>?, Int) -> Int
    typealias RemoveXattrFunction = @convention(c) (UnsafePointer<CChar>, UnsafePointer<CChar>) -> Int32

    /// `int fallocate(int fd, int mode, off_t offset, off_t len)`
    nonisolated(unsafe) static let fallocate = symbol("fallocate64", as: FallocateFunction.self)
    /// `ssize_t copy_file_range(int in, off64_t *off_in, int out, off64_t *off_out, size_t len, unsigned flags)`
    nonisolated(unsafe) static let copyFileRange = symbol("copy_file_range", as: CopyFileRangeFunction.self)
    /// `ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size)`
    nonisolated(unsafe) static let lgetxattr = symbol("lgetxattr", as: GetXattrFunction.self)
    /// `ssize_t llistxattr(const char *path, char *list, size_t size)`
    nonisolated(unsafe) static let llistxattr = symbol("llistxattr", as: ListXattrFunction.self)
    /// `int lremovexattr(const char *path, const char *name)`
    nonisolated(unsafe) static let lremovexattr = symbol("lremovexattr", as: RemoveXattrFunction.self)

    /// `int flock(int fd, int operation)` (the name is taken by `struct flock` in Swift).
    nonisolated(unsafe) static let flock = symbol("flock", as: (@convention(c) (Int32, Int32) -> Int32).self)

    static func lsetxattr(_ path: UnsafePointer<CChar>, _ name: UnsafePointer<CChar>, _ value: [UInt8], _ flags: Int32) -> Int32 {
        value.withUnsafeBytes { estuary_lsetxattr(path, name, $0.baseAddress, $0.count, flags) }
    }

    static func renameat2(_ oldDir: Int32, _ old: UnsafePointer<CChar>, _ newDir: Int32, _ new: UnsafePointer<CChar>, _ flags: UInt32) -> Int32 {
        estuary_renameat2(oldDir, old, newDir, new, flags)
    }

    static let RENAME_NOREPLACE: UInt32 = 1
    static let RENAME_EXCHANGE: UInt32 = 2
    static let XATTR_CREATE: Int32 = 1
    static let XATTR_REPLACE: Int32 = 2
    static let FALLOC_FL_KEEP_SIZE: Int32 = 1
    static let FALLOC_FL_PUNCH_HOLE: Int32 = 2
    static let SEEK_DATA: Int32 = 3
    static let SEEK_HOLE: Int32 = 4
    static let F_OFD_GETLK: Int32 = 36
    static let F_OFD_SETLK: Int32 = 37
}

/// Names of the errno values these tests meet, for readable reports.
func errnoName(_ value: Int32) -> String {
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EIO: "EIO", ENXIO: "ENXIO", E2BIG: "E2BIG", EBADF: "EBADF",
        EAGAIN: "EAGAIN", ENOMEM: "ENOMEM", EACCES: "EACCES", EFAULT: "EFAULT", EBUSY: "EBUSY", EEXIST: "EEXIST",
        EXDEV: "EXDEV", ENODEV: "ENODEV", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EINVAL: "EINVAL", EMFILE: "EMFILE",
        ETXTBSY: "ETXTBSY", EFBIG: "EFBIG", ENOSPC: "ENOSPC", ESPIPE: "ESPIPE", EROFS: "EROFS", EMLINK: "EMLINK",
        ERANGE: "ERANGE", EDEADLK: "EDEADLK", ENAMETOOLONG: "ENAMETOOLONG", ENOLCK: "ENOLCK", ENOSYS: "ENOSYS",
        ENOTEMPTY: "ENOTEMPTY", ELOOP: "ELOOP", ENODATA: "ENODATA", EOVERFLOW: "EOVERFLOW", EOPNOTSUPP: "EOPNOTSUPP",
        ENOTCONN: "ENOTCONN", ESTALE: "ESTALE", EDQUOT: "EDQUOT",
    ]
    return names[value] ?? "errno \(value)"
}

/// FNV-1a, to name long contents compactly in reports.
func fnv1a(_ bytes: some Sequence<UInt8>) -> UInt64 {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return hash
}

/// Bytes as printable ASCII, everything else (controls, backslash, non-ASCII) as \\xNN.
func escaped(_ bytes: some Sequence<UInt8>) -> String {
    var out = ""
    for b in bytes {
        if b >= 0x20 && b < 0x7f && b != UInt8(ascii: "\\") { out.unicodeScalars.append(Unicode.Scalar(b)) }
        else { out += "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16) }
    }
    return out
}

/// A short, comparable rendering of file content: the bytes themselves when short.
func describeContent(_ bytes: [UInt8]) -> String {
    if bytes.count <= 40 { return "\(bytes.count)B \"\(escaped(bytes))\"" }
    let zeros = bytes.allSatisfy { $0 == 0 }
    return "\(bytes.count)B \(zeros ? "all-zero" : "\"\(escaped(bytes.prefix(16)))...\"") #\(String(fnv1a(bytes), radix: 16))"
}

/// The process umask, read without changing it.
func currentUmask() -> UInt32 {
    let status = procText("/proc/self/status") ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix("Umask:") {
        return UInt32(line.dropFirst(6).trimmingCharacters(in: .whitespaces), radix: 8) ?? 0o022
    }
    return 0o022
}

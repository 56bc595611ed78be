import CShims
#if canImport(Glibc)
import Glibc
#endif

extension Sys {
    /// Names of the extended attributes of `name` in `dirfd`, without following a final symlink.
    /// The corresponding C call is `listxattrat` (Linux 6.13), falling back for older kernels.
    public static func listXattrs(_ dirfd: Int32, _ name: UnsafePointer<CChar>) throws(Errno) -> [[UInt8]] {
        // Most files carry no xattrs: a stack buffer answers them without allocating.
        var quick: [[UInt8]]?
        var failure: Errno?
        withUnsafeTemporaryAllocation(byteCount: 1024, alignment: 1) { raw in
            let n = estuary_listxattrat(dirfd, name, raw.baseAddress!.assumingMemoryBound(to: CChar.self), 1024)
            if n < 0 {
                let e = Errno.current
                if e != .outOfRange { failure = e }
                return
            }
            quick = n == 0 ? [] : UnsafeRawBufferPointer(start: raw.baseAddress, count: n)
                .split(separator: 0, omittingEmptySubsequences: true).map(Array.init)
        }
        if let failure { throw failure }
        if let quick { return quick }
        var capacity = 65536
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBytes { estuary_listxattrat(dirfd, name, $0.baseAddress!.assumingMemoryBound(to: CChar.self), capacity) }
            if n < 0 {
                let e = Errno.current
                if e == .outOfRange && capacity < 1 << 20 { capacity *= 8; continue }
                throw e
            }
            return buffer[0..<n].split(separator: 0, omittingEmptySubsequences: true).map(Array.init)
        }
    }

    /// The value of one extended attribute, without following a final symlink.
    public static func getXattr(_ dirfd: Int32, _ name: UnsafePointer<CChar>, _ attribute: UnsafePointer<CChar>) throws(Errno) -> [UInt8] {
        var capacity = 4096
        while true {
            var buffer = [UInt8](repeating: 0, count: capacity)
            let n = buffer.withUnsafeMutableBytes { estuary_getxattrat(dirfd, name, attribute, $0.baseAddress!, capacity) }
            if n < 0 {
                let e = Errno.current
                if e == .outOfRange && capacity < 65536 { capacity = 65536; continue }
                throw e
            }
            return Array(buffer[0..<n])
        }
    }

    /// The `user.*` attributes of `name` in `dirfd` with their values. Unsupported file systems give none.
    public static func userXattrs(_ dirfd: Int32, _ name: UnsafePointer<CChar>) throws(Errno) -> [(name: [UInt8], value: [UInt8])] {
        let names: [[UInt8]]
        do { names = try listXattrs(dirfd, name) } catch {
            if error == .notSupported || error == .noData { return [] }
            throw error
        }
        var result: [(name: [UInt8], value: [UInt8])] = []
        for attribute in names where attribute.starts(with: userPrefix) {
            do {
                let value = try withCPath(attribute) { a throws(Errno) in try getXattr(dirfd, name, a) }
                result.append((attribute, value))
            } catch {
                if error == .noData { continue }   // removed between list and get
                throw error
            }
        }
        return result
    }

    /// Sets an extended attribute of `path` without following a final symlink.
    /// The corresponding C function is `lsetxattr`.
    public static func setXattr(path: String, name: String, value: [UInt8], flags: Int32 = 0) throws(Errno) {
        let rc = value.withUnsafeBytes { estuary_lsetxattr(path, name, $0.baseAddress, $0.count, flags) }
        if rc != 0 { throw Errno.current }
    }

    /// Removes an extended attribute of `path`. The corresponding C function is `removexattr`.
    public static func removeXattr(path: String, name: String) throws(Errno) {
        if estuary_removexattr(path, name) != 0 { throw Errno.current }
    }

    /// The `user.*` attributes of an open file.
    public static func userXattrs(fd: Int32) throws(Errno) -> [(name: [UInt8], value: [UInt8])] {
        var list = [UInt8](repeating: 0, count: 65536)
        let n = list.withUnsafeMutableBytes { estuary_flistxattr(fd, $0.baseAddress!.assumingMemoryBound(to: CChar.self), $0.count) }
        if n < 0 { let e = Errno.current; if e == .notSupported { return [] }; throw e }
        var result: [(name: [UInt8], value: [UInt8])] = []
        for name in list[0..<n].split(separator: 0) where name.starts(with: userPrefix) {
            var value = [UInt8](repeating: 0, count: 65536)
            let m = withCPath(name) { c in value.withUnsafeMutableBytes { estuary_fgetxattr(fd, c, $0.baseAddress, $0.count) } }
            if m >= 0 { result.append((Array(name), Array(value[0..<m]))) }
        }
        return result
    }

    public static let userPrefix: [UInt8] = Array("user.".utf8)
}

import Syscalls
import CShims
#if canImport(Glibc)
import Glibc
#endif

/// `.estuary/silo` at a silo's root says which pool and silo the directory is. Without it, a
/// disk that failed to mount leaves an empty mount point at the silo's path, and a scan would
/// take the empty directory at its word and drop every entry of the silo from the namespace.
enum SiloMarker {
    static let directory = ".estuary"
    static let file = ".estuary/silo"

    static func content(pool: String, silo: String) -> [UInt8] {
        Array("estuary silo marker: do not delete\npool=\(pool)\nsilo=\(silo)\n".utf8)
    }

    /// nil when there is no marker; the pool and silo it names otherwise.
    static func read(_ root: Int32) throws(Errno) -> (pool: String, silo: String)? {
        let fd: Int32
        do { fd = try Sys.openBeneath(root, Array(file.utf8), flags: O_RDONLY | O_NOFOLLOW) } catch {
            if error == .noSuchFileOrDirectory { return nil }
            throw error
        }
        defer { Sys.close(fd) }
        let text = String(decoding: try Sys.readAll(fd, limit: 4096), as: UTF8.self)
        var pool = "", silo = ""
        for line in text.split(separator: "\n") {
            if line.hasPrefix("pool=") { pool = String(line.dropFirst(5)) }
            if line.hasPrefix("silo=") { silo = String(line.dropFirst(5)) }
        }
        return (pool, silo)
    }

    static func write(_ root: Int32, pool: String, silo: String) throws(Errno) {
        if mkdirat(root, directory, 0o700) != 0 && Errno.current != .fileExists { throw Errno.current }
        let fd = try Sys.openBeneath(root, Array(file.utf8), flags: O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o644)
        defer { Sys.close(fd) }
        try Sys.writeAll(fd, content(pool: pool, silo: silo))
        try Sys.fsync(fd)
    }
}

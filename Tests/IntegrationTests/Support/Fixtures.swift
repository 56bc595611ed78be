import Foundation
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Pre-existing data in silos, as people have it before they adopt Estuary.
enum Fixtures {
    static func write(_ path: String, _ content: String, mtime: Int? = nil) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try content.write(to: url, atomically: false, encoding: .utf8)
        if let mtime { try setMtime(path, seconds: mtime) }
    }

    static func setMtime(_ path: String, seconds: Int) throws {
        var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
        guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw Errno.current }
    }

    static func setXattr(_ path: String, _ name: String, _ value: String) throws {
        try Sys.setXattr(path: path, name: name, value: Array(value.utf8))
    }

    /// Writes a file whose name is raw bytes (not valid UTF-8) inside `directory`.
    static func writeRawName(_ directory: String, _ name: [UInt8], _ content: String) throws {
        let dirFD = try Sys.open(directory, flags: O_RDONLY | O_DIRECTORY)
        defer { close(dirFD) }
        let fd = withCPath(name) { openat(dirFD, $0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        try Sys.writeAll(fd, Array(content.utf8))
    }

    static let sparseSize: Int64 = 5 << 30
    static let sparseMarks: [(Int64, String)] = [(0, "HEAD"), (2_684_354_560, "MIDDLE"), ((5 << 30) - 4, "TAIL")]

    /// A 5 GiB file that is almost all hole, with marks at the start, middle and end.
    static func writeSparse(_ path: String) throws {
        let fd = try Sys.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC, mode: 0o640)
        defer { close(fd) }
        guard ftruncate(fd, off_t(sparseSize)) == 0 else { throw Errno.current }
        for (offset, mark) in sparseMarks {
            _ = try Array(mark.utf8).withUnsafeBytes { try Sys.pwrite(fd, $0.baseAddress!, $0.count, offset) }
        }
    }

    /// Nested directories in several silos, symlinks, xattrs, a shadowed duplicate, names with
    /// spaces and non-UTF-8 bytes, and a 5 GiB sparse file.
    static func populate(_ pool: TestPool) throws {
        let fast = pool.siloPath("fast0"), bulk = pool.siloPath("bulk0"), bulk1 = pool.siloPath("bulk1")
        try write(fast + "/projects/apollo/plan.txt", "launch plan\n")
        try write(bulk + "/projects/apollo/data/run1.csv", "t,v\n0,1\n")
        try write(bulk1 + "/projects/apollo/data/run2.csv", "t,v\n1,2\n")
        try write(bulk + "/projects/gemini/notes.md", "# gemini\n")
        try write(fast + "/media/film one.mov", String(repeating: "frame ", count: 5000))
        try write(bulk + "/media/tv/show s01e01.mkv", "episode")
        try write(fast + "/shared/report.txt", "newer report\n", mtime: 1_700_000_100)
        try write(bulk + "/shared/report.txt", "older report, a shadowed duplicate\n", mtime: 1_700_000_000)
        try write(bulk + "/tie.txt", "bulk copy", mtime: 1_600_000_000)
        try write(fast + "/tie.txt", "fast copy", mtime: 1_600_000_000)
        try write(bulk1 + "/empty", "")
        try FileManager.default.createDirectory(atPath: bulk1 + "/deep/a/b/c/d/e", withIntermediateDirectories: true)
        try write(bulk1 + "/deep/a/b/c/d/e/leaf.txt", "leaf")
        try FileManager.default.createSymbolicLink(atPath: fast + "/media/latest", withDestinationPath: "film one.mov")
        try FileManager.default.createSymbolicLink(atPath: bulk + "/projects/outside", withDestinationPath: "/etc/passwd")
        try FileManager.default.createSymbolicLink(atPath: bulk + "/dangling", withDestinationPath: "no/such/target")
        try setXattr(fast + "/projects/apollo/plan.txt", "user.project", "apollo")
        try setXattr(fast + "/projects/apollo/plan.txt", "user.owner", "ops team")
        try setXattr(bulk + "/projects/gemini", "user.project", "gemini")
        try writeRawName(fast + "/media", [0x6e, 0x61, 0xef, 0xff, 0x76, 0x65, 0x20, 0x31], "latin-1 name")
        try write(bulk + "/weird names/  leading and trailing  ", "spaces")
        try write(bulk + "/weird names/tab\tand newline\nname", "control chars")
        try FileManager.default.createDirectory(atPath: bulk + "/images", withIntermediateDirectories: true)
        try writeSparse(bulk + "/images/disk.img")
        try FileManager.default.createDirectory(atPath: fast + "/.estuary/staging", withIntermediateDirectories: true)
        try write(fast + "/.estuary/staging/partial", "must never appear")
        chmod(bulk + "/projects/gemini/notes.md", 0o600)
        chown(bulk1 + "/empty", 1234, 5678)
    }
}

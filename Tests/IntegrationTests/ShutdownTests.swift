import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What a daemon leaves behind when it stops: an index the next mount may trust only if every
/// namespace change reached it.
@Suite(.serialized)
struct ShutdownTests {
    /// The state directory fills up while files are created through the mount: their index
    /// changes cannot be committed (nor can the rescan that follows), though the files are in
    /// the silo. The unmount must not mark the index clean, so the next mount rescans and shows
    /// every file the silo holds.
    @Test func indexThatMissedChangesIsRescannedAtTheNextMount() throws {
        let pool = try TestPool(silos: [("fast0", "fast")])
        let state = pool.root + "/state"
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try #require(try Shell.run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", state]).status == 0)
        defer { _ = try? Shell.run("/bin/umount", ["-l", state]) }
        try pool.mount()

        // Leave room for a few index pages only.
        var fs = statvfs()
        try #require(statvfs(state, &fs) == 0)
        let free = Int64(fs.f_bavail) * Int64(fs.f_frsize)
        let filler = state + "/filler"
        let fd = open(filler, O_CREAT | O_WRONLY | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        #expect(posix_fallocate(fd, 0, off_t(free - 64 * 1024)) == 0)
        close(fd)

        try FileManager.default.createDirectory(atPath: pool.path("d"), withIntermediateDirectories: false)
        for i in 0..<3000 {
            // Some creates may fail (an inode number that cannot be reserved); the silo is the truth.
            let file = open(pool.path("d/file-\(i)-" + String(repeating: "x", count: 100)), O_CREAT | O_WRONLY | O_CLOEXEC, 0o644)
            if file >= 0 { close(file) }
        }
        #expect(try pool.unmount() == 0)

        unlink(filler)
        let inSilo = Set(try FileManager.default.contentsOfDirectory(atPath: pool.siloPath("fast0") + "/d"))
        #expect(inSilo.count > 100)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let shown = Set(try FileManager.default.contentsOfDirectory(atPath: pool.path("d")))
        let missing = inSilo.subtracting(shown)
        #expect(missing.isEmpty, "\(missing.count) of \(inSilo.count) files in the silo are not shown, e.g. \(missing.sorted().prefix(3))")
        #expect(shown == inSilo)
    }
}

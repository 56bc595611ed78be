import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// One silo has a symlink or a file where another has a real directory of the same name. The
/// merge rule: the real directory wins the name, the other entry is kept untouched as a
/// shadow (listed by `estuary status`), and creates inside the directory go to silos where it
/// is a real directory, so a name that lists as a directory behaves as one.
@Suite(.serialized)
struct MergeConflictTests {
    /// fast0 (placement's first choice) holds the conflicting entries; bulk0 the directories.
    private func conflictedPool() throws -> TestPool {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        let fast = pool.siloPath("fast0"), bulk = pool.siloPath("bulk0")
        try Fixtures.write(bulk + "/viaLink/inside.txt", "inside a real directory\n")
        try Fixtures.write(bulk + "/viaFile/inside.txt", "inside a real directory\n")
        // A symlink to a directory inside the same silo: following it would put new files at
        // another place in the namespace (/elsewhere).
        try FileManager.default.createDirectory(atPath: fast + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: fast + "/viaLink", withDestinationPath: "elsewhere")
        try Fixtures.write(fast + "/viaFile", "a plain file\n")
        return pool
    }

    private func kind(_ path: String) throws -> FileKind { try Sys.statPath(path, follow: false).fileType }

    @Test func theRealDirectoryWinsAndTakesCreates() throws {
        let pool = try conflictedPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let fast = pool.siloPath("fast0"), bulk = pool.siloPath("bulk0")
        for name in ["viaLink", "viaFile"] {
            #expect(try kind(pool.path(name)) == .directory, "\(name)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: pool.path(name)) == ["inside.txt"])
            // A file, a directory and a file inside that, through the mount.
            try "new\n".write(toFile: pool.path(name + "/new.txt"), atomically: false, encoding: .utf8)
            #expect(mkdir(pool.path(name + "/sub"), 0o755) == 0, "mkdir in \(name): errno \(errno)")
            try "deeper\n".write(toFile: pool.path(name + "/sub/deeper.txt"), atomically: false, encoding: .utf8)
            #expect(try String(contentsOfFile: pool.path(name + "/new.txt"), encoding: .utf8) == "new\n")
            #expect(try FileManager.default.contentsOfDirectory(atPath: pool.path(name)).sorted() == ["inside.txt", "new.txt", "sub"])
            // They live where the directory is real; the conflicting entry is untouched.
            #expect(try String(contentsOfFile: bulk + "/" + name + "/new.txt", encoding: .utf8) == "new\n")
            #expect(try String(contentsOfFile: bulk + "/" + name + "/sub/deeper.txt", encoding: .utf8) == "deeper\n")
        }
        #expect(try kind(fast + "/viaLink") == .symlink)
        #expect(try FileManager.default.contentsOfDirectory(atPath: fast + "/elsewhere").isEmpty)
        #expect(try String(contentsOfFile: fast + "/viaFile", encoding: .utf8) == "a plain file\n")

        // The hidden entries are reported, and a rescan keeps the same view.
        let status = try pool.estuary(["status", pool.mountpoint])
        #expect(status.stdout.contains("viaLink: visible in bulk0, hidden copy in fast0"), "\(status.output)")
        #expect(status.stdout.contains("viaFile: visible in bulk0, hidden copy in fast0"), "\(status.output)")
        let scan = try pool.estuary(["scan", pool.mountpoint])
        #expect(scan.status == 0, "\(scan.output)")
        #expect(scan.stdout.contains("added 0,") && scan.stdout.contains("removed 0,"), "\(scan.output)")
        for name in ["viaLink", "viaFile"] {
            #expect(try kind(pool.path(name)) == .directory)
            #expect(try FileManager.default.contentsOfDirectory(atPath: pool.path(name)).sorted() == ["inside.txt", "new.txt", "sub"])
        }
    }

    /// The conflicting entry may appear after the mount; the rule is the same after a scan.
    @Test func aConflictAppearingBehindTheMountFollowsTheSameRule() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        try Fixtures.write(pool.siloPath("bulk0") + "/shared/inside.txt", "inside\n")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try FileManager.default.createSymbolicLink(atPath: pool.siloPath("fast0") + "/shared", withDestinationPath: "/etc")
        let scan = try pool.estuary(["scan", pool.mountpoint])
        #expect(scan.status == 0, "\(scan.output)")
        #expect(try kind(pool.path("shared")) == .directory)
        try "made\n".write(toFile: pool.path("shared/made.txt"), atomically: false, encoding: .utf8)
        #expect(try String(contentsOfFile: pool.siloPath("bulk0") + "/shared/made.txt", encoding: .utf8) == "made\n")
        #expect(try kind(pool.siloPath("fast0") + "/shared") == .symlink)
    }
}

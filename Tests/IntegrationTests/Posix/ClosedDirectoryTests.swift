import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The daemon checks search permission when the kernel looks a name up, and the kernel keeps
/// names for the entry timeout (60 s by default): a directory closed to other users after
/// they walked through it must not stay open to them through the names they cached.
@Suite(.serialized)
struct ClosedDirectoryTests {
    /// What C (uid 2003, no groups) gets from lstat and open of `path`: "ok" or the errno name.
    private func asOther(_ path: String) throws -> String {
        let script = """
            import errno, os, sys
            out = []
            for op in (lambda p: os.lstat(p), lambda p: os.close(os.open(p, os.O_RDONLY))):
                try:
                    op(sys.argv[1]); out.append("ok")
                except OSError as e:
                    out.append(errno.errorcode[e.errno])
            print(" ".join(out))
            """
        let run = try Shell.run("/usr/bin/setpriv", ["--reuid=2003", "--regid=2003", "--clear-groups", "/usr/bin/python3", "-c", script, path])
        return run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func modeOf(_ path: String) -> UInt32 {
        var s = stat()
        return lstat(path, &s) == 0 ? UInt32(s.st_mode) & 0o7777 : 0
    }

    @Test(arguments: ["through the mount", "behind the mount"])
    func namesBelowADirectoryClosedToOthersAreNoLongerReachable(_ how: String) throws {
        let pool = try TestPool()
        try pool.mount(options: ["-o", "allow_other"])
        defer { _ = try? pool.unmount() }
        try FileManager.default.createDirectory(atPath: pool.path("d/e"), withIntermediateDirectories: true)
        try Fixtures.write(pool.path("d/e/f"), "data")
        chmod(pool.path("d"), 0o755); chmod(pool.path("d/e"), 0o755); chmod(pool.path("d/e/f"), 0o644)
        #expect(try asOther(pool.path("d/e/f")) == "ok ok")

        func close(_ mode: mode_t) throws {
            if how == "through the mount" {
                #expect(chmod(pool.path("d"), mode) == 0)
                return
            }
            for silo in pool.silos where FileManager.default.fileExists(atPath: pool.siloPath(silo.name) + "/d") {
                #expect(chmod(pool.siloPath(silo.name) + "/d", mode) == 0)
            }
            // The watcher sees the change; the mount shows it (its cached attributes dropped).
            let deadline = Date().addingTimeInterval(20)
            while modeOf(pool.path("d")) != UInt32(mode) && Date() < deadline { usleep(50_000) }
            #expect(modeOf(pool.path("d")) == UInt32(mode), "the mount still shows \(String(modeOf(pool.path("d")), radix: 8))")
        }
        try close(0o700)
        #expect(try asOther(pool.path("d/e/f")) == "EACCES EACCES")
        #expect(try asOther(pool.path("d/e")) == "EACCES EACCES")
        try close(0o755)
        #expect(try asOther(pool.path("d/e/f")) == "ok ok")
        // Group and other may read but not search: names listed, nothing reachable.
        try close(0o744)
        #expect(try asOther(pool.path("d/e/f")) == "EACCES EACCES")
    }
}

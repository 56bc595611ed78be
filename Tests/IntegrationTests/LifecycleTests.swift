import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Starting in the background, and ending by unmount or signal.
@Suite(.serialized)
struct LifecycleTests {
    private func daemonPid(_ pool: TestPool) -> Int32? {
        guard let text = try? String(contentsOfFile: pool.root + "/state/mount", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").dropFirst().first.flatMap { Int32($0) }
    }

    private func waitGone(_ pid: Int32) -> Bool {
        for _ in 0..<200 { if kill(pid, 0) != 0 { return true }; usleep(50_000) }
        return false
    }

    @Test func backgroundDaemonReturnsOnceMountedAndEndsOnUnmount() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("fast0") + "/hello.txt", "hi")
        let start = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint])
        #expect(start.status == 0, "\(start.output)")
        // The command returned only after the mount was up.
        #expect(pool.isMounted)
        #expect(try String(contentsOfFile: pool.path("hello.txt"), encoding: .utf8) == "hi")
        let pid = try #require(daemonPid(pool))
        try Shell.run("/bin/fusermount3", ["-u", pool.mountpoint])
        #expect(waitGone(pid), "daemon \(pid) still running after fusermount3 -u")
        #expect(!pool.isMounted)
        let log = try String(contentsOfFile: pool.root + "/state/estuaryfs.log", encoding: .utf8)
        #expect(log.contains("unmounted"), "\(log)")
    }

    @Test func sigtermUnmountsCleanly() throws {
        let pool = try TestPool()
        try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint])
        let pid = try #require(daemonPid(pool))
        kill(pid, SIGTERM)
        #expect(waitGone(pid))
        #expect(!pool.isMounted)
        // And it mounts again at once: nothing stale is left behind.
        try pool.mount()
        #expect(try pool.unmount() == 0)
    }

    @Test func deadMountFromAKilledDaemonIsClearedOnNextMount() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("bulk0") + "/x.txt", "x")
        try pool.mount()
        let pid = try #require(pool.daemonPid)
        kill(pid, SIGKILL)
        // Gone, not just signalled: a request that meets the connection while the killed
        // process is still exiting (a loaded machine) fails with ECONNABORTED instead.
        #expect(waitGone(pid))
        pool.forgetKilledDaemon()
        // "Transport endpoint is not connected" until the next mount clears it.
        #expect(pool.isMounted)
        var fs = statvfs()   // stat may be answered from the kernel's cache; statvfs asks the daemon
        let rc = statvfs(pool.mountpoint, &fs), error = errno
        #expect(rc != 0 && error == ENOTCONN, "statvfs: \(rc), errno \(error)")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(try String(contentsOfFile: pool.path("x.txt"), encoding: .utf8) == "x")
    }

    /// Namespace changes reach the index in group commits a few milliseconds later; a kill -9
    /// right after them must lose none: the remount rescans the silos, and files keep their
    /// inode numbers (from the hint each carries).
    @Test func killRightAfterNamespaceChangesLosesNothing() throws {
        let pool = try TestPool()
        try pool.mount()
        var model: [String: (content: String, inode: UInt64)] = [:]
        try FileManager.default.createDirectory(atPath: pool.path("d"), withIntermediateDirectories: true)
        for round in 0..<3 {
            for i in 0..<150 {
                let name = "d/f\(round)-\(i)"
                let content = "round \(round) file \(i)"
                try Fixtures.write(pool.path(name), content)
                var s = stat()
                #expect(stat(pool.path(name), &s) == 0)
                model[name] = (content, UInt64(s.st_ino))
            }
            for i in stride(from: 0, to: 150, by: 3) {
                let old = "d/f\(round)-\(i)", new = "d/r\(round)-\(i)"
                #expect(rename(pool.path(old), pool.path(new)) == 0)
                model[new] = model.removeValue(forKey: old)
            }
            for i in stride(from: 1, to: 150, by: 5) where i % 3 != 0 {
                #expect(unlink(pool.path("d/f\(round)-\(i)")) == 0)
                model.removeValue(forKey: "d/f\(round)-\(i)")
            }
            // No sync, no fsync: killed while the last batch may still be uncommitted.
            kill(try #require(pool.daemonPid), SIGKILL)
            pool.forgetKilledDaemon()
            try pool.mount()
            let names = Set(try FileManager.default.contentsOfDirectory(atPath: pool.path("d")).map { "d/" + $0 })
            let differing = names.symmetricDifference(model.keys).sorted()
            #expect(differing.isEmpty, "round \(round): \(differing.count) names differ, e.g. \(differing.prefix(5))")
            for (name, expected) in model {
                var s = stat()
                #expect(stat(pool.path(name), &s) == 0 && UInt64(s.st_ino) == expected.inode, "\(name) keeps its inode")
                #expect((try? String(contentsOfFile: pool.path(name), encoding: .utf8)) == expected.content, "\(name)")
            }
        }
        _ = try pool.unmount()
    }
}

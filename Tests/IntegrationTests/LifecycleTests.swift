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
        usleep(200_000)
        pool.forgetKilledDaemon()
        // "Transport endpoint is not connected" until the next mount clears it.
        #expect(pool.isMounted)
        var s = stat()
        #expect(stat(pool.mountpoint, &s) != 0 && errno == ENOTCONN)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(try String(contentsOfFile: pool.path("x.txt"), encoding: .utf8) == "x")
    }
}

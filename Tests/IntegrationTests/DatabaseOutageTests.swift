import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The index's PostgreSQL restarting under load (issue 16 part 3): operations wait for it
/// (`index_timeout`) or fail with EIO, the daemon keeps running, and once the server is back
/// every create the mount acknowledged is there, through the mount and in the index.
@Suite(.serialized)
struct DatabaseOutageTests {
    @Test func aDatabaseRestartUnderLoadLosesNoAcknowledgedCreate() throws {
        // A server of its own: the restart would cut off every other test's pool.
        let server = try PostgresServer.dedicated()
        let pool = try TestPool(silos: [("fast0", "fast")], extraConfig: "index_timeout = 30", watch: false,
                                engine: .postgresql, server: server)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(mkdir(pool.path("load"), 0o755) == 0)
        let acknowledged = NSLockedValue<[String]>([])
        let failures = NSLockedValue<[Int32]>([])
        let stop = NSLockedValue(false)
        let workers = 3
        let directory = pool.path("load/")
        let group = DispatchGroup()
        for worker in 0..<workers {
            DispatchQueue.global().async(group: group) {
                var i = 0
                while !stop.withLock({ $0 }) {
                    let name = "t\(worker)-\(i)"
                    i += 1
                    let fd = open(directory + name, O_CREAT | O_EXCL | O_WRONLY, 0o644)
                    guard fd >= 0 else { let e = errno; failures.withLock { $0.append(e) }; continue }
                    let written = name.withCString { write(fd, $0, strlen($0)) }
                    let writeErrno = errno
                    if close(fd) == 0 && written == name.utf8.count {
                        acknowledged.withLock { $0.append(name) }
                    } else {
                        failures.withLock { $0.append(written < 0 ? writeErrno : errno) }
                    }
                }
            }
        }
        // Load before, during and after the restart.
        usleep(1_500_000)
        let before = acknowledged.withLock { $0.count }
        try server.restart(downFor: 2)
        usleep(3_000_000)
        stop.withLock { $0 = true }
        group.wait()
        let acked = acknowledged.withLock { $0 }
        let failed = failures.withLock { $0 }
        print("database restart under load: \(acked.count) creates acknowledged (\(before) before the restart), \(failed.count) failed: \(Set(failed).sorted())")
        #expect(acked.count > before, "no create was acknowledged after the restart")
        // The server is away about 2 s, far inside the 30 s wait: every call waits it out
        // (with index_timeout = 0 thousands fail with EIO here).
        #expect(failed.isEmpty, "creates failed during the restart: \(failed.count), errnos \(Set(failed))")
        // The daemon still runs and serves; a new create works.
        #expect(pool.daemonPid.map { kill($0, 0) == 0 } == true, "the daemon died")
        let fd = open(pool.path("load/after"), O_CREAT | O_EXCL | O_WRONLY, 0o644)
        #expect(fd >= 0, "a create after the restart failed: \(String(cString: strerror(errno)))")
        if fd >= 0 { close(fd) }
        // Every acknowledged create is there with its bytes, through the mount and in the index.
        var missing: [String] = []
        let deadline = Date().addingTimeInterval(120)
        repeat {
            missing = acked.filter { (try? String(contentsOfFile: pool.path("load/" + $0), encoding: .utf8)) != $0 }
            if missing.isEmpty { break }
            usleep(200_000)
        } while Date() < deadline
        #expect(missing.isEmpty, "\(missing.count) acknowledged creates missing or wrong, e.g. \(missing.prefix(5))")
        let database = try #require(pool.database)
        let indexed = try server.sql("""
            SELECT convert_from(e.name, 'UTF8') FROM entries e JOIN entries d ON e.parent = d.ino WHERE d.name = convert_to('load', 'UTF8')
            """, database: database).split(separator: "\n").map(String.init)
        let notIndexed = Set(acked).subtracting(indexed)
        #expect(notIndexed.isEmpty, "\(notIndexed.count) acknowledged creates not in the index, e.g. \(notIndexed.prefix(5))")
    }

    /// Unmounted while its database is down, the daemon exits instead of waiting out an
    /// `index_timeout` of an hour in the threads it stops; what it could not record is there
    /// after the next mount.
    @Test func aDaemonStoppedWhileItsDatabaseIsDownExitsAndLosesNothing() throws {
        let server = try PostgresServer.dedicated()
        let pool = try TestPool(silos: [("fast0", "fast")], extraConfig: "index_timeout = 3600", watch: false,
                                engine: .postgresql, server: server)
        try pool.mount()
        try Fixtures.write(pool.path("before.txt"), "before")
        try server.stop()
        // TestPool.unmount throws when the daemon has not exited 20 s after the unmount.
        #expect(throws: Never.self) { _ = try pool.unmount() }
        try server.start()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect((try? String(contentsOfFile: pool.path("before.txt"), encoding: .utf8)) == "before")
    }
}

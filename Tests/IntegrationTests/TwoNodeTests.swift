import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Two daemons mount one pool (issue 16 part 3), here on one machine: the same silos, the same
/// PostgreSQL index, a state directory and a mount point each. What one mount changes shows
/// through the other as soon as the other node hears of the commit, with the kernel's caches
/// (60 s by default) on both sides.
@Suite(.serialized)
struct TwoNodeTests {
    /// Polls `condition` until it holds; returns the seconds it took, nil if it never did.
    private func waitFor(_ condition: () -> Bool) -> Double? {
        let start = Date()
        while Date().timeIntervalSince(start) < 15 {
            if condition() { return Date().timeIntervalSince(start) }
            usleep(5_000)
        }
        return nil
    }

    private func exists(_ path: String) -> Bool { var s = stat(); return lstat(path, &s) == 0 }
    private func size(_ path: String) -> Int64? { var s = stat(); return lstat(path, &s) == 0 ? Int64(s.st_size) : nil }
    private func names(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }

    @Test func changesThroughOneMountShowThroughTheOther() throws {
        let a = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], watch: false, engine: .postgresql)
        try Fixtures.write(a.siloPath("bulk0") + "/seed.txt", "seed")
        try a.mount()
        defer { _ = try? a.unmount() }
        let b = try PoolNode.another(of: a)
        try b.start()
        defer { b.stop() }
        #expect(names(b.mountpoint) == ["seed.txt"])
        let bLog = b.log
        #expect(!bLog.contains("did not stop cleanly"), "one node's start is not another's unclean stop: \(bLog)")
        // Both nodes are registered, with their mount points, and beat.
        let server = try PostgresServer.get(), database = try #require(a.database)
        func registered() throws -> [String] {
            try server.sql("SELECT mountpoint FROM nodes ORDER BY mountpoint", database: database).split(separator: "\n").map(String.init)
        }
        #expect(try registered() == [a.mountpoint, b.mountpoint].sorted())
        let firstBeat = try server.sql("SELECT max(heartbeat) FROM nodes", database: database)
        // B has looked the new name up (a negative entry in its kernel) and holds the listing.
        #expect(!exists(b.mountpoint + "/new.txt"))

        var lags: [String: Double] = [:]
        try "hello".write(toFile: a.path("new.txt"), atomically: false, encoding: .utf8)
        lags["create"] = waitFor { exists(b.mountpoint + "/new.txt") && names(b.mountpoint).contains("new.txt") }
        #expect(lags["create"] != nil, "a create through A never showed through B")
        #expect(try String(contentsOfFile: b.mountpoint + "/new.txt", encoding: .utf8) == "hello")

        let handle = try #require(FileHandle(forWritingAtPath: a.path("new.txt")))
        handle.seekToEndOfFile()
        handle.write(Data(" world".utf8))
        try handle.close()
        lags["write"] = waitFor { size(b.mountpoint + "/new.txt") == 11 }
        #expect(lags["write"] != nil, "B kept the old size: \(size(b.mountpoint + "/new.txt") ?? -1)")
        #expect(try String(contentsOfFile: b.mountpoint + "/new.txt", encoding: .utf8) == "hello world")

        #expect(rename(a.path("new.txt"), a.path("renamed.txt")) == 0)
        lags["rename"] = waitFor { !exists(b.mountpoint + "/new.txt") && exists(b.mountpoint + "/renamed.txt") }
        #expect(lags["rename"] != nil, "B: \(names(b.mountpoint))")

        #expect(mkdir(b.mountpoint + "/from-b", 0o755) == 0)
        try "b".write(toFile: b.mountpoint + "/from-b/file", atomically: false, encoding: .utf8)
        lags["create on B"] = waitFor { exists(a.path("from-b/file")) }
        #expect(lags["create on B"] != nil, "a create through B never showed through A")

        #expect(unlink(a.path("renamed.txt")) == 0)
        lags["unlink"] = waitFor { !exists(b.mountpoint + "/renamed.txt") && !names(b.mountpoint).contains("renamed.txt") }
        #expect(lags["unlink"] != nil, "B: \(names(b.mountpoint))")
        #expect(names(a.mountpoint) == names(b.mountpoint))
        #expect(waitFor { (try? server.sql("SELECT max(heartbeat) FROM nodes", database: database)) != firstBeat } != nil,
                "no heartbeat renewed")
        // A node that stops leaves the registry.
        b.stop()
        #expect(try registered() == [a.mountpoint])
        print("two nodes, visibility lag (s): " + lags.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.3f", $0.value))" }.joined(separator: ", "))
    }

    /// Both nodes create in the same two directories at once, in opposite orders, so each
    /// node's batch waits for rows the other's holds (and PostgreSQL breaks the deadlocks):
    /// every create succeeds, every name shows through both mounts, and the same name made on
    /// both at once is one file and one EEXIST.
    @Test func concurrentCreatesOnTwoNodesAllLand() throws {
        let a = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], watch: false, engine: .postgresql)
        try a.mount()
        defer { _ = try? a.unmount() }
        let b = try PoolNode.another(of: a)
        try b.start()
        defer { b.stop() }
        for d in ["d1", "d2"] { #expect(mkdir(a.path(d), 0o755) == 0) }
        #expect(waitFor { exists(b.mountpoint + "/d1") && exists(b.mountpoint + "/d2") } != nil)
        let perWorker = 150
        let failures = NSLockedValue<[String]>([])
        let exclusive = NSLockedValue<[Int32]>([])
        let roots = [a.mountpoint, b.mountpoint]
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            let root = roots[worker / 2]
            let order = worker % 2 == 0 ? ["d1", "d2"] : ["d2", "d1"]
            for i in 0..<perWorker {
                for d in order {
                    let path = "\(root)/\(d)/w\(worker)-\(i)"
                    let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o644)
                    if fd < 0 { failures.withLock { $0.append("\(path): \(String(cString: strerror(errno)))") } } else { close(fd) }
                }
                if i % 30 == 0 {
                    // The same new name from both nodes at once: one wins.
                    let fd = open("\(root)/d1/race-\(worker / 2 == 0 ? worker : worker - 2)-\(i)", O_CREAT | O_EXCL | O_WRONLY, 0o644)
                    exclusive.withLock { $0.append(fd >= 0 ? 0 : errno) }
                    if fd >= 0 { close(fd) }
                }
            }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0 }.prefix(5))")
        let raced = exclusive.withLock { $0 }
        #expect(raced.filter { $0 == 0 }.count == raced.count / 2 && raced.allSatisfy { $0 == 0 || $0 == EEXIST }, "\(raced)")
        let want = 4 * perWorker + raced.count / 2
        #expect(waitFor { names(b.mountpoint + "/d1").count == want && names(a.path("d1")).count == want } != nil,
                "d1: A \(names(a.path("d1")).count), B \(names(b.mountpoint + "/d1").count), want \(want)")
        #expect(names(a.path("d2")) == names(b.mountpoint + "/d2") && names(a.path("d2")).count == 4 * perWorker)
        #expect(names(a.path("d1")) == names(b.mountpoint + "/d1"))
    }

    /// Node B never lists the directory, only looks names up in it, with its kernel caching no
    /// entry or attribute, so every stat reaches B's daemon: after a few lookups B reads the
    /// directory's listing whole and answers from it (DirectoryListings.missed). What A changes
    /// afterwards must still show through B: a listing read that way follows the other node's
    /// commits like one read by opendir.
    @Test func namesLookedUpWithoutAListingFollowTheOtherNode() throws {
        let a = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], watch: false, engine: .postgresql)
        try a.mount()
        defer { _ = try? a.unmount() }
        #expect(mkdir(a.path("d"), 0o755) == 0)
        for i in 0..<10 { try Fixtures.write(a.path("d/f\(i)"), "f\(i)") }
        let b = try PoolNode.another(of: a)
        try b.start(options: ["-o", "entry_timeout=0,attr_timeout=0,negative_timeout=0"])
        defer { b.stop() }
        let d = b.mountpoint + "/d"
        for _ in 0..<5 { for i in 0..<10 { #expect(exists(d + "/f\(i)")) } ; #expect(!exists(d + "/g")) }
        try Fixtures.write(a.path("d/g"), "g")
        #expect(unlink(a.path("d/f1")) == 0)
        #expect(rename(a.path("d/f2"), a.path("d/h")) == 0)
        #expect(mkdir(a.path("d/sub"), 0o755) == 0)
        let seen = waitFor { exists(d + "/g") && !exists(d + "/f1") && !exists(d + "/f2") && exists(d + "/h") && exists(d + "/sub") }
        #expect(seen != nil, "B: g \(exists(d + "/g")), f1 \(exists(d + "/f1")), f2 \(exists(d + "/f2")), h \(exists(d + "/h")), sub \(exists(d + "/sub"))")
        #expect(size(d + "/h") == 2 && size(d + "/g") == 1)
        // And the other way: what B changes in the directory A sees, and B itself answers right.
        #expect(unlink(d + "/f3") == 0 && !exists(d + "/f3"))
        #expect(waitFor { !exists(a.path("d/f3")) } != nil)
        #expect(names(d) == names(a.path("d")))
    }
}

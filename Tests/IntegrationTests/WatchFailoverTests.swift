import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One node at a time watches the silos of a shared pool (issue 16 part 3): a change made
/// directly in a silo is merged by the watching node alone and shows through both mounts;
/// when that node is killed the other takes the watch over, sweeps for what changed while
/// nobody watched, and follows the silos from then on.
@Suite(.serialized)
struct WatchFailoverTests {
    private func exists(_ path: String) -> Bool { var s = stat(); return lstat(path, &s) == 0 }

    /// `estuary status --json` of the node using `config` (its own daemon answers).
    private func status(_ config: String) throws -> [String: Any] {
        let result = try Shell.run(Shell.estuary, ["status", config, "--json"])
        guard result.status == 0, let data = result.output.data(using: .utf8),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("estuary status failed: \(result.output)")
        }
        return object
    }

    private func siloReport(_ report: [String: Any]) -> [String: Any] { (report["silos"] as? [[String: Any]])?.first ?? [:] }

    @Test func oneNodeWatchesAndTheOtherTakesOverWhenItDies() throws {
        let pool = try TestPool(silos: [("fast0", "fast")], extraConfig: "node_timeout = 5", engine: .postgresql)
        let a = PoolNode.first(of: pool), b = try PoolNode.another(of: pool)
        try a.start()
        let server = try PostgresServer.get(), database = try #require(pool.database)
        func watcher() throws -> String {
            try server.sql("SELECT n.pid FROM leases l JOIN nodes n ON n.id = l.node WHERE l.name = 'watch'", database: database)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try Observe.waitFor(60) { try watcher() == a.pid.map(String.init) }, "the first node never took the watch:\n\(a.log)")
        try b.start()
        #expect(try Observe.waitFor(30) { b.log.contains("this one stands by") }, "the second node does not stand by:\n\(b.log)")

        // A file written straight into the silo: merged once (by A), seen through both mounts.
        let silo = pool.siloPath("fast0")
        try Fixtures.write(silo + "/outside.txt", "made behind the mount")
        #expect(Observe.waitFor(30) { exists(a.path("outside.txt")) && exists(b.path("outside.txt")) },
                "the change in the silo does not show through both mounts")
        let (sa, sb) = (try status(a.config), try status(b.config))
        #expect(siloReport(sa)["watchApplied"] != nil && (siloReport(sa)["watch"] as? String ?? "").hasPrefix("watched"), "A: \(siloReport(sa))")
        #expect(siloReport(sb)["watchApplied"] == nil, "the standby merged the change too: \(siloReport(sb))")
        #expect((siloReport(sb)["watch"] as? String ?? "").hasPrefix("standby"), "B: \(siloReport(sb))")
        #expect(!b.log.contains("this node watches"), "both nodes watched:\n\(b.log)")
        let nodes = sb["nodes"] as? [[String: Any]] ?? []
        let watchers: [String] = nodes.filter { $0["watcher"] as? Bool == true }.map { String($0["pid"] as? Int ?? 0) }
        #expect(watchers == [a.pid.map { String($0) } ?? ""], "\(nodes)")
        let text = try Shell.run(Shell.estuary, ["status", b.config])
        #expect(text.output.contains("watcher") && text.output.contains("standby"), "\(text.output)")

        // The watcher dies; a change made while nobody watches is found by the sweep of the
        // node that takes over, and one made after it by its live watch.
        a.kill9()
        try Fixtures.write(silo + "/while-nobody-watched.txt", "made after the kill")
        let killed = Date()
        #expect(try Observe.waitFor(120) { try watcher() == b.pid.map(String.init) }, "the watch never passed:\n\(b.log)")
        #expect(Observe.waitFor(60) { exists(b.path("while-nobody-watched.txt")) },
                "the change made after the watcher died never showed:\n\(b.log)")
        print("watch failover: the change made after kill -9 showed through the other node \(String(format: "%.1f", Date().timeIntervalSince(killed))) s after the kill (node_timeout 5 s)")
        #expect(b.log.contains("this node watches the pool's silos now"), "\(b.log)")
        try Fixtures.write(silo + "/after-takeover.txt", "followed live again")
        #expect(Observe.waitFor(30) { exists(b.path("after-takeover.txt")) }, "the new watcher does not follow the silo:\n\(b.log)")
        let after = try status(b.config)
        #expect(siloReport(after)["watchApplied"] != nil && (siloReport(after)["watch"] as? String ?? "").hasPrefix("watched"), "\(siloReport(after))")
        b.stop()
        #expect(try watcher().isEmpty, "a node that stops cleanly releases the watch")
    }

    /// Two nodes on one host: the watching node leaves the other's changes through its mount
    /// (which that node records itself) alone, instead of merging each once more. Its debug
    /// log counts the names each applied batch held; a file written straight into the silo
    /// afterwards marks when every event of the other node's creates had been read.
    @Test func theWatcherLeavesTheChangesOfItsHostsOtherNodesToThem() throws {
        let pool = try TestPool(silos: [("fast0", "fast")], engine: .postgresql)
        let a = PoolNode.first(of: pool), b = try PoolNode.another(of: pool)
        try a.start(options: ["-o", "log_level=debug"])
        defer { b.stop(); a.stop() }
        #expect(Observe.waitFor(60) { a.log.contains("this node watches the pool's silos") }, "A never took the watch:\n\(a.log)")
        try b.start()
        #expect(Observe.waitFor(30) { a.log.contains("the watch leaves them") }, "A does not leave B's changes alone:\n\(a.log)")
        let before = applied(a.log)
        let creates = 40
        for i in 0..<creates {
            let fd = open(b.path("b\(i)"), O_CREAT | O_WRONLY, 0o644)
            #expect(fd >= 0)
            if fd >= 0 { close(fd) }
        }
        try Fixtures.write(pool.siloPath("fast0") + "/marker.txt", "made behind the mounts")
        #expect(Observe.waitFor(30) { exists(a.path("marker.txt")) }, "A never merged the file written into the silo")
        #expect(Observe.waitFor(30) { exists(a.path("b\(creates - 1)")) }, "B's creates do not show through A")
        let merged = applied(a.log) - before
        #expect(merged < creates, "A's watch merged \(merged) names again for B's \(creates) creates")
    }

    /// The names of every watch batch the log reports applied ("N changes applied in").
    private func applied(_ log: String) -> Int {
        log.split(separator: "\n").reduce(0) { sum, line in
            guard let range = line.range(of: " changes applied in ") else { return sum }
            return sum + (Int(line[..<range.lowerBound].split(separator: " ").last ?? "") ?? 0)
        }
    }
}

import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Two nodes on one pool (issue 16 part 3): what one node does under a lease (a move job,
/// reconcile leadership) passes to the other when it dies, and `estuary status` shows the
/// nodes with what they hold.
@Suite(.serialized)
struct NodeFailoverTests {
    private func exists(_ path: String) -> Bool { var s = stat(); return lstat(path, &s) == 0 }

    private func sha256(_ path: String) throws -> String {
        let result = try Shell.run("/usr/bin/sha256sum", [path])
        return String(result.output.split(separator: " ").first ?? "")
    }

    private func nodesReport(_ config: String) throws -> [[String: Any]] {
        let result = try Shell.run(Shell.estuary, ["status", config, "--json"])
        guard result.status == 0, let data = result.output.data(using: .utf8),
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw TestFailure("estuary status failed: \(result.output)")
        }
        return object["nodes"] as? [[String: Any]] ?? []
    }

    /// A move of a 48 MiB file, slowed to about 12 s, is running on one node when that node
    /// is killed: the other node takes the job's lease once the dead node's heartbeat lapses,
    /// resumes the copy and switches the file. The file ends whole (same SHA-256) on exactly
    /// one silo, with no staging file left.
    @Test func aMoveResumesOnTheOtherNodeWhenItsNodeIsKilled() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")],
                                extraConfig: "move_bandwidth = \"4MiB\"\nextent_size = \"256KiB\"\nnode_timeout = 5",
                                watch: false, engine: .postgresql)
        let original = pool.siloPath("fast0") + "/big.bin"
        try Shell.run("/bin/dd", ["if=/dev/urandom", "of=\(original)", "bs=1M", "count=48", "status=none"])
        let before = try sha256(original)
        let a = PoolNode.first(of: pool), b = try PoolNode.another(of: pool)
        try a.start()
        try b.start()
        let server = try PostgresServer.get(), database = try #require(pool.database)
        func sql(_ statement: String) throws -> String {
            try server.sql(statement, database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let move = try Shell.run(Shell.estuary, ["move", a.path("big.bin"), "--to", "bulk"])
        #expect(move.status == 0, "\(move.output)")
        // Running on one node under its lease, with some progress recorded.
        var holder = ""
        let taken = try Observe.waitFor(120) {
            holder = try sql("SELECT n.pid FROM leases l JOIN nodes n ON n.id = l.node WHERE l.name LIKE 'job:%'")
            let copied: Int64 = Int64(try sql("SELECT max(bytes_copied) FROM jobs")) ?? 0
            return !holder.isEmpty && copied > 0
        }
        #expect(taken, "no node took the job")
        let copiedAtKill = Int64(try sql("SELECT max(bytes_copied) FROM jobs")) ?? 0
        #expect(try sql("SELECT state FROM jobs") == "copying", "the move ended before the kill: make it longer")
        // Status shows both nodes alive and which one runs the job.
        let nodes = try nodesReport(a.config)
        #expect(nodes.count == 2 && nodes.allSatisfy { $0["alive"] as? Bool == true }, "\(nodes)")
        let running: [String] = nodes.filter { ($0["jobs"] as? [Int])?.count == 1 }.map { String($0["pid"] as? Int ?? 0) }
        #expect(running == [holder], "\(nodes)")

        let (dead, survivor) = a.pid.map(String.init) == holder ? (a, b) : (b, a)
        dead.kill9()
        let killedAt = Date()
        let finished = try Observe.waitFor(300) { try sql("SELECT state FROM jobs") == "done" }
        print("move resumed after kill -9: done \(String(format: "%.1f", Date().timeIntervalSince(killedAt))) s after the kill (node_timeout 5 s, \(copiedAtKill >> 20) MiB of 48 copied before it)")
        let jobRow = (try? sql("SELECT state, bytes_copied, error FROM jobs")) ?? "?"
        #expect(finished, "the job never finished on the surviving node: \(jobRow)\n\(survivor.log)")
        #expect(copiedAtKill < 48 << 20)
        #expect(survivor.log.contains("moved inode"), "the surviving node did not run the move:\n\(survivor.log)")
        #expect(!survivor.log.contains("starting over"), "the copy was started over instead of resumed")
        // Whole, on exactly one silo, through the surviving mount and in the silo.
        #expect(!exists(original), "the source copy is still on fast0")
        #expect(try sha256(pool.siloPath("bulk0") + "/big.bin") == before)
        #expect(try sha256(survivor.path("big.bin")) == before)
        for silo in ["fast0", "bulk0"] {
            let staging = (try? FileManager.default.contentsOfDirectory(atPath: pool.siloPath(silo) + "/.estuary/staging")) ?? []
            #expect(staging.isEmpty, "\(silo) staging: \(staging)")
        }
        // The killed node is listed as dead once its heartbeat lapsed, holding nothing.
        let after = try nodesReport(survivor.config)
        #expect(after.count == 2, "\(after)")
        #expect(after.first { String($0["pid"] as? Int ?? 0) == holder }?["alive"] as? Bool == false, "\(after)")
        #expect(after.allSatisfy { ($0["jobs"] as? [Int])?.isEmpty == true }, "\(after)")
        let text = try Shell.run(Shell.estuary, ["status", survivor.config])
        #expect(text.output.contains("dead") && text.output.contains("alive") && text.output.contains(survivor.mountpoint), "\(text.output)")
        survivor.stop()
    }

    /// One reconcile leader per pool: the first node leads, the second follows (it never
    /// leads while the first lives), and leadership passes to it when the leader is killed.
    @Test func reconcileLeadershipPassesWhenTheLeaderDies() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")],
                                extraConfig: "reconcile_interval = 1\nnode_timeout = 5", watch: false, engine: .postgresql)
        let a = PoolNode.first(of: pool), b = try PoolNode.another(of: pool)
        try a.start()
        let server = try PostgresServer.get(), database = try #require(pool.database)
        func leader() throws -> String {
            try server.sql("SELECT n.pid FROM leases l JOIN nodes n ON n.id = l.node WHERE l.name = 'reconcile'", database: database)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        #expect(try Observe.waitFor(60) { try leader() == a.pid.map(String.init) }, "the first node never led")
        try b.start()
        // Several passes' worth of intervals (each node asks every second): B follows.
        let beats = try server.sql("SELECT heartbeat FROM nodes WHERE pid = \(b.pid ?? 0)", database: database)
        let firstBeat = Int64(beats.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        let followed = try Observe.waitFor(60) {
            let now = try server.sql("SELECT heartbeat FROM nodes WHERE pid = \(b.pid ?? 0)", database: database)
            let beat: Int64 = Int64(now.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            return beat >= firstBeat + 4
        }
        #expect(followed)
        #expect(try leader() == a.pid.map(String.init))
        #expect(a.log.contains("this node is the pool's reconcile leader"))
        #expect(!b.log.contains("this node is the pool's reconcile leader"), "both nodes led:\n\(b.log)")
        let nodes = try nodesReport(b.config)
        let leaders: [String] = nodes.filter { $0["leader"] as? Bool == true }.map { String($0["pid"] as? Int ?? 0) }
        let aPid: String = a.pid.map { String($0) } ?? ""
        #expect(leaders == [aPid], "\(nodes)")

        a.kill9()
        #expect(try Observe.waitFor(120) { try leader() == b.pid.map(String.init) }, "leadership never passed:\n\(b.log)")
        #expect(try Observe.waitFor(30) { b.log.contains("this node is the pool's reconcile leader") })
        b.stop()
        #expect(try leader().isEmpty, "a node that stops cleanly releases its leases")
    }
}

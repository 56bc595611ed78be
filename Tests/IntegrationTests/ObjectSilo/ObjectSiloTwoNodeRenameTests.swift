import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The journal of renames in a bucket with two nodes on one shared (PostgreSQL) index: a
/// rename runs only on the node that holds its lease, and when that node dies mid-rename the
/// other takes the lease once the dead node's heartbeat lapses and finishes it.
///
/// The nodes reach the server through a proxy that refuses server-side copies while told to:
/// their bucket silo stays online (a stopped server would take it offline at the next health
/// check, and the rename itself would then be refused), yet no copy of the rename can finish
/// until the test lets them through.
@Suite(.serialized)
struct ObjectSiloTwoNodeRenameTests {
    static let objects = 20

    private func content(_ i: Int) -> [UInt8] { Array(String(repeating: "\(i)-", count: 50).utf8) }

    @Test func aDeadNodesRenameIsFinishedByTheOther() throws {
        let server = try SeaweedServer.shared()
        let proxy = try CopyBlockingProxy(upstream: server.endpoint)
        defer { proxy.stop() }
        let s3 = try ObjectSiloPool(extraConfig: "extent_size = \"64KiB\"\nheat_half_life = 3600\nnode_timeout = 5",
                                    server: server, engine: .postgresql, endpoint: proxy.endpoint)
        try server.boto("for i in range(\(Self.objects)): s3.put_object(Bucket='\(s3.bucket)', Key='d/f%d' % i, Body=(b'%d-' % i) * 50)")
        let postgres = try PostgresServer.get(), database = try #require(s3.pool.database)
        func sql(_ statement: String) throws -> String {
            try postgres.sql(statement, database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func renameHolder() throws -> String {
            try sql("SELECT n.pid FROM leases l JOIN nodes n ON n.id = l.node WHERE l.name LIKE 'rename:%'")
        }
        func journal() throws -> String { try sql("SELECT value FROM meta WHERE key = 'bucket_renames'") }
        let a = PoolNode.first(of: s3.pool), b = try PoolNode.another(of: s3.pool)
        try a.start()
        try b.start()
        defer { a.stop(); b.stop() }
        #expect(try readWholeFile(b.path("d/f3")) == content(3))
        #expect(try readWholeFile(a.path("d/f4")) == content(4))

        // Node A renames with copies refused: the index and the journal hold the new name at
        // once, the copies keep failing.
        proxy.blocked = true
        #expect(Glibc.rename(a.path("d"), a.path("e")) == 0, "rename on node A: errno \(errno)")
        let aPid = String(try #require(a.pid)), bPid = String(try #require(b.pid))
        #expect(!(try journal()).isEmpty, "no journal line for the rename")
        #expect(try renameHolder() == aPid, "the rename's lease is not node A's")
        #expect(try Observe.waitFor(60) { a.log.contains("rename of d to e") && a.log.contains("retrying") }, "node A did not try the copies:\n\(a.log.suffix(2000))")
        // While A lives its rename stays A's: B looks at the journal every 2 s, and A's lease
        // is watched for more than two dead times (node_timeout 5 s) of B's looking.
        _ = try Observe.waitFor(12) { try renameHolder() != aPid }
        #expect(try renameHolder() == aPid, "node B took a live node's rename")
        #expect(!b.log.contains("took over"), "node B ran a live node's rename:\n\(b.log.suffix(2000))")

        a.kill9()
        // B takes the lease once A's heartbeat lapsed; copies are still refused, so the rename
        // is still to do.
        #expect(try Observe.waitFor(120) { try renameHolder() == bPid }, "node B never took the dead node's rename:\n\(b.log.suffix(2000))")
        #expect(!(try journal()).isEmpty)
        #expect(try Observe.waitFor(30) { b.log.contains("took over 1 rename") }, "\(b.log.suffix(2000))")
        #expect(try s3.keys().allSatisfy { $0.hasPrefix("d/") }, "a copy went through the proxy")

        proxy.blocked = false
        #expect(try Observe.waitFor(180) { try journal().isEmpty && renameHolder().isEmpty }, "node B did not finish the rename:\n\(b.log.suffix(3000))")
        let expected = (0..<Self.objects).map { "e/f\($0)" }.sorted()
        #expect(try s3.keys() == expected)
        for i in 0..<Self.objects { #expect(try readWholeFile(b.path("e/f\(i)")) == content(i), "e/f\(i) on node B") }
        #expect(!FileManager.default.fileExists(atPath: b.path("d")))

        // A's next mount finds nothing left to do and serves the new name.
        try a.start()
        #expect(try readWholeFile(a.path("e/f7")) == content(7))
        #expect(try s3.keys() == expected)
    }
}

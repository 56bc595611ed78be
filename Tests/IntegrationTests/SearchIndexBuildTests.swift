import Foundation
import Index
import Pool
import Syscalls
import Testing

/// A first scan leaves the name-search indexes out (they were a fifth to a quarter of it). A
/// name query on a pool no daemon serves builds them; one that cannot (the pool's lock held)
/// reads every row; a daemon builds them once it serves. All three must print the same paths.
@Suite(.serialized)
struct SearchIndexBuildTests {
    private func hasSearchIndexes(_ pool: TestPool) throws -> Bool {
        try ReadTransaction.readOnly(path: pool.root + "/state/index.db") { tx in try tx.hasSearchIndexes() }
    }

    private static let expressions = ["name ~ \"*.mkv\"", "name == \"f17\"", "name ~ \"f1*\" and size > 100000", "name ~ \"*23*\"",
                                      "path ~ \"/many/**/f2*\""]

    /// Pool-relative paths of every expression, offline or through the mount.
    private func answers(_ pool: TestPool, mounted: Bool) throws -> [String: Set<[UInt8]>] {
        var found: [String: Set<[UInt8]>] = [:]
        for expression in Self.expressions {
            let where_ = mounted ? [pool.mountpoint] : [pool.configPath, "--root", "/"]
            let result = try pool.estuary(["find"] + where_ + ["--print0", "--where", expression])
            #expect(result.status == 0, "\(expression): \(result.stderr)")
            let prefix = mounted ? pool.mountpoint.utf8.count : 0
            found[expression] = Set(result.stdoutBytes.split(separator: 0).map { Array($0.dropFirst(prefix)) })
            #expect(!found[expression]!.isEmpty, "\(expression) finds something")
        }
        return found
    }

    @Test func everyWayOfAnsweringNameTestsAgrees() throws {
        let pool = try TestPool()
        _ = try QueryTests.populate(pool)
        let scan = try pool.estuary(["scan", pool.configPath])
        #expect(scan.status == 0, "\(scan.output)")
        #expect(try !hasSearchIndexes(pool), "a first scan leaves them out")

        // The lock held (as by a daemon): nothing is built, every row is read.
        let rowPass = try withExtendedLifetime(try PoolLock(path: pool.root + "/state/lock")) { try answers(pool, mounted: false) }
        #expect(try !hasSearchIndexes(pool), "not built while the pool's lock is held")

        // Offline and free: the first name query builds them.
        #expect(try answers(pool, mounted: false) == rowPass)
        #expect(try hasSearchIndexes(pool), "built by the first name query")

        // Left out again: the daemon builds them once it serves.
        do {
            let store = try IndexStore(engine: SQLiteEngine(path: pool.root + "/state/index.db"))
            try store.write { tx throws(IndexError) in try tx.setSearchIndexes(false) }
        }
        try pool.mount()
        defer { _ = try? pool.unmount() }
        var built = false
        for _ in 0..<300 where !built {
            built = try hasSearchIndexes(pool)
            if !built { usleep(100_000) }
        }
        #expect(built, "the daemon builds the name indexes once it serves")
        #expect(try answers(pool, mounted: true) == rowPass)
    }
}

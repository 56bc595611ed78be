import Foundation
import Index
import Syscalls
import Testing

/// A first scan leaves the name-search indexes out (they were a fifth to a quarter of it): until
/// a daemon builds them, once it serves, `estuary find` reads every row for name tests. Both
/// ways must print the same paths.
@Suite(.serialized)
struct SearchIndexBuildTests {
    private func hasSearchIndexes(_ pool: TestPool) throws -> Bool {
        try ReadTransaction.readOnly(path: pool.root + "/state/index.db") { tx in try tx.hasSearchIndexes() }
    }

    private func relative(_ output: [UInt8], below prefix: String) -> Set<[UInt8]> {
        Set(output.split(separator: 0).map { Array($0.dropFirst(prefix.utf8.count)) })
    }

    @Test func findAgreesBeforeAndAfterTheDaemonBuildsTheNameIndexes() throws {
        let pool = try TestPool()
        _ = try QueryTests.populate(pool)
        let scan = try pool.estuary(["scan", pool.configPath])
        #expect(scan.status == 0, "\(scan.output)")
        #expect(try !hasSearchIndexes(pool), "a first scan leaves them out")
        let expressions = ["name ~ \"*.mkv\"", "name == \"f17\"", "name ~ \"f1*\" and size > 100000", "name ~ \"*23*\"",
                           "path ~ \"/many/**/f2*\""]
        var before: [String: Set<[UInt8]>] = [:]
        for expression in expressions {
            let found = try pool.estuary(["find", pool.configPath, "--root", "/", "--print0", "--where", expression])
            #expect(found.status == 0, "\(expression): \(found.stderr)")
            before[expression] = relative(found.stdoutBytes, below: "")
            #expect(!before[expression]!.isEmpty, "\(expression) finds something")
        }

        try pool.mount()
        defer { _ = try? pool.unmount() }
        var built = false
        for _ in 0..<300 where !built {
            built = try hasSearchIndexes(pool)
            if !built { usleep(100_000) }
        }
        #expect(built, "the daemon builds the name indexes once it serves")
        for expression in expressions {
            let found = try pool.estuary(["find", pool.mountpoint, "--print0", "--where", expression])
            #expect(found.status == 0, "\(expression): \(found.stderr)")
            #expect(relative(found.stdoutBytes, below: pool.mountpoint) == before[expression], "\(expression): index and rows differ")
        }
    }
}

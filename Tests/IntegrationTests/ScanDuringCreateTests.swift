import Assimilation
import Config
import Foundation
import Index
import Namespace
import Pool
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A live scan that lists a silo between a create's backing call and its index insert adds
/// the new file itself. The create must still succeed, with one row for the file; only a name
/// held by another file fails it (EEXIST, its backing file removed). Found as a create failing
/// with EEXIST in DatabaseOutageTests: the rescan after a lost batch ran while creates that
/// had waited out the outage were inserting.
///
/// The scan's insert is made deterministic: the test holds the index writer, waits for the
/// create's backing file to appear, and records it as the merge of a scan would.
@Suite(.serialized)
struct ScanDuringCreateTests {
    enum Setup: String, CaseIterable, CustomStringConvertible {
        /// Inserts run in place, as on a shared index or without the committer.
        case sqlite
        /// The daemon's SQLite mode: the reply goes out first, the insert joins a batch later.
        case sqliteGroupCommit
        case postgresql
        var description: String { rawValue }
    }

    @Test(arguments: Setup.allCases)
    func aFileTheScanRecordedFirstIsTheCreatesOwn(_ setup: Setup) throws {
        let fixture = try Fixture(setup)
        defer { fixture.close() }
        let scanned = fixture.recordWhenMade("new") { path in try Sys.statPath(path, follow: false) }
        let (row, fd) = try fixture.create("new")
        defer { Sys.close(fd) }
        let scannedIno = try scanned()
        try fixture.settle()
        let indexed = try #require(try fixture.indexed("new"), "the created file has no row")
        #expect(indexed.ino == row.ino, "the kernel was given \(row.ino), the index holds \(indexed.ino)")
        if setup != .sqliteGroupCommit {
            #expect(row.ino == scannedIno, "the create should keep the number the scan gave the file")
        }
        #expect(try fixture.pool.index.query { tx throws(IndexError) in try tx.entry(scannedIno) } == nil || scannedIno == row.ino,
                "the scan's row is left beside the create's")
        #expect(pwrite(fd, "data", 4, 0) == 4)
        #expect(try String(contentsOfFile: fixture.silo + "/new", encoding: .utf8) == "data", "the backing file is not the created one")
        #expect(fixture.pool.index.lostBatches == 0, "the create's insert was lost")
    }

    @Test(arguments: [Setup.sqlite, .postgresql])
    func aNameAnotherFileTookStillFailsTheCreate(_ setup: Setup) throws {
        let fixture = try Fixture(setup)
        defer { fixture.close() }
        // Another file under the name: a row for a different backing inode.
        let other = fixture.silo + "/elsewhere"
        FileManager.default.createFile(atPath: other, contents: Data("theirs".utf8))
        let scanned = fixture.recordWhenMade("taken") { _ in try Sys.statPath(other, follow: false) }
        #expect(throws: Errno.fileExists) { _ = try fixture.create("taken") }
        _ = try scanned()
        #expect(access(fixture.silo + "/taken", F_OK) != 0, "the refused create left its backing file")
    }

    final class Fixture: Sendable {
        let root: String
        let silo: String
        let pool: PoolContext
        let namespace: Namespace
        let setup: Setup

        init(_ setup: Setup) throws {
            self.setup = setup
            root = FileManager.default.temporaryDirectory.appendingPathComponent("scan-create-\(getpid())-\(UUID().uuidString.prefix(8))").path
            silo = root + "/fast0"
            try FileManager.default.createDirectory(atPath: silo, withIntermediateDirectories: true)
            let name = "sc\(UUID().uuidString.prefix(8).lowercased())"
            var config = PoolConfig(name: name, stateDirectory: root + "/state", tiers: ["fast"],
                                    silos: [SiloConfig(name: "fast0", path: silo, tier: "fast")], source: "test")
            if setup == .postgresql {
                let server = try PostgresServer.get()
                try server.ensureDatabase(name)
                config.index = server.uri(name)
            }
            pool = try PoolContext(config: config)
            _ = try Scanner(index: pool.index, silos: pool.silos).scan()
            namespace = Namespace(index: pool.index, silos: pool.silos)
            if setup == .sqliteGroupCommit { pool.index.startGroupCommit() }
        }

        /// Holds the index writer until `name` appears in the silo, then inserts the row a
        /// scan's merge would make, from the stat `stat` gives. Returns a wait for that row's number.
        func recordWhenMade(_ name: String, stat: @escaping @Sendable (String) throws -> FileStat) -> () throws -> UInt64 {
            let holding = DispatchSemaphore(value: 0)
            let result = NSLockedValue<Result<UInt64, any Error>?>(nil)
            let done = DispatchSemaphore(value: 0)
            let path = silo + "/" + name
            let siloID = pool.silos.all[0].id
            let index = pool.index
            Thread.detachNewThread {
                let outcome = Result { () throws -> UInt64 in
                    try index.write { tx throws(IndexError) -> UInt64 in
                        holding.signal()
                        let deadline = Date().addingTimeInterval(20)
                        while access(path, F_OK) != 0 {
                            guard Date() < deadline else { throw IndexError(.failed, "the create made no backing file") }
                            usleep(1000)
                        }
                        guard let found = try? stat(path) else { throw IndexError(.failed, "cannot stat \(path)") }
                        let row = EntryRow(ino: 0, parent: 1, name: Array(name.utf8), stat: found, silo: siloID)
                        return try tx.insert(row)
                    }
                }
                result.withLock { $0 = outcome }
                done.signal()
            }
            holding.wait()
            return {
                done.wait()
                return try result.withLock { $0! }.get()
            }
        }

        func create(_ name: String) throws -> (EntryRow, Int32) {
            let bytes = Array(name.utf8)
            return try bytes.withUnsafeBufferPointer { buffer in
                try namespace.create(parent: 1, name: buffer, mode: 0o644, flags: O_RDWR, creator: Creator(uid: 0, gid: 0))
            }
        }

        /// Whatever the create left for the batch is in the index.
        func settle() throws {
            try pool.index.commitPending()
        }

        func indexed(_ name: String) throws -> EntryRow? {
            try pool.index.query { tx throws(IndexError) in try tx.entry(parent: 1, name: Array(name.utf8)) }
        }

        func close() {
            try? pool.index.stopGroupCommit()
            try? FileManager.default.removeItem(atPath: root)
        }
    }
}

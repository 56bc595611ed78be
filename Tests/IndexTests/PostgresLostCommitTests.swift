import Foundation
@testable import Index
import Syscalls
import TestSupport
import Testing

/// A COMMIT whose answer is lost with the connection (the server crashed or the network cut
/// after it was sent). The transaction's id, taken with its BEGIN, tells a new connection what
/// became of it: committed is a success (it used to be reported as a failure, EIO at the
/// mount); rolled back is the failure it was, or a retry while the outage wait allows one.
/// The knob `PGCommitFault` loses the answer at exactly that moment.
@Suite(.serialized)
struct PostgresLostCommitTests {
    /// A store on a fresh database whose COMMITs fail as the trigger file says.
    private func store(_ label: String, moment: String) throws -> (IndexStore, trigger: String, cleanup: () -> Void) {
        let server = try PostgresServer.get()
        let name = "lostcommit_\(label)_" + UUID().uuidString.prefix(8).lowercased()
        try server.ensureDatabase(name)
        let trigger = NSTemporaryDirectory() + "estuary-\(name).trigger"
        let index = try IndexStore(engine: PostgresEngine(conninfo: server.conninfo(name), schema: PGMigrations.all,
                                                          fault: PGCommitFault(trigger: trigger)))
        try (moment + "\n").write(toFile: trigger, atomically: true, encoding: .utf8)
        return (index, trigger, { unlink(trigger) })
    }

    private func file(_ name: String) -> EntryRow {
        EntryRow(ino: 0, parent: 1, name: Array(name.utf8),
                 stat: FileStat(inode: 77, mode: UInt32(S_IFREG) | 0o644, size: 0, mtimeNs: 1_000, ctimeNs: 1_000), silo: 0)
    }

    private func names(_ index: IndexStore) throws -> [String] {
        try index.query { tx throws(IndexError) in try tx.session.firstNameRows(in: 1) }.map { String(decoding: $0.name, as: UTF8.self) }
    }

    @Test func aCommitThatHappenedIsASuccessThoughItsAnswerWasLost() throws {
        let (index, trigger, cleanup) = try store("after", moment: "after")
        defer { cleanup() }
        let ino = try index.write { tx throws(IndexError) in try tx.insert(file("committed")) }
        #expect(!FileManager.default.fileExists(atPath: trigger), "the COMMIT's answer was not lost: the test tested nothing")
        #expect(try names(index) == ["committed"])
        #expect(try index.query { tx throws(IndexError) in try tx.entry(ino) }?.name == Array("committed".utf8))
        // The writer goes on, on its new connection.
        try index.write { tx throws(IndexError) in _ = try tx.insert(file("next")) }
        #expect(try names(index) == ["committed", "next"])
    }

    @Test func aCommitThatNeverReachedTheServerFailsAndLeavesNothing() throws {
        let (index, trigger, cleanup) = try store("before", moment: "before")
        defer { cleanup() }
        let error = #expect(throws: IndexError.self) {
            try index.write { tx throws(IndexError) in _ = try tx.insert(file("lost")) }
        }
        #expect(error?.kind == .unavailable)
        #expect(!FileManager.default.fileExists(atPath: trigger), "the COMMIT's answer was not lost: the test tested nothing")
        #expect(try names(index).isEmpty, "a transaction whose COMMIT never arrived left rows")
        try index.write { tx throws(IndexError) in _ = try tx.insert(file("next")) }
        #expect(try names(index) == ["next"])
    }

    /// Known rolled back, the write runs again within the outage wait, once.
    @Test func aCommitKnownRolledBackIsRunAgainWithinTheOutageWait() throws {
        let (index, trigger, cleanup) = try store("retry", moment: "before")
        defer { cleanup() }
        index.outageWait = 5
        var runs = 0
        try index.write { tx throws(IndexError) in
            runs += 1
            _ = try tx.insert(file("again"))
        }
        #expect(!FileManager.default.fileExists(atPath: trigger))
        #expect(runs == 2)
        #expect(try names(index) == ["again"])
    }

    /// A group-commit batch (fsync commits it; the committer thread otherwise) whose answer was
    /// lost but which committed: no error, and not counted lost (which would ask for a rescan).
    @Test func aBatchThatCommittedIsNotCountedLost() throws {
        let (index, trigger, cleanup) = try store("batch", moment: "after")
        defer { cleanup() }
        // The committer waits 5 s after a batch opens: the commit below is this test's.
        index.startGroupCommit(interval: 5)
        defer { try? index.stopGroupCommit() }
        try index.change { tx throws(IndexError) in _ = try tx.insert(file("batched")) }
        try index.commitPending()
        #expect(!FileManager.default.fileExists(atPath: trigger), "the COMMIT's answer was not lost: the test tested nothing")
        #expect(index.lostBatches == 0)
        try index.stopGroupCommit()
        #expect(try names(index) == ["batched"])
    }
}

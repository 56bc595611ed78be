import Foundation
import Index
import Syscalls
import Testing

/// `IndexStore.changeLater`: a change queued without waiting must be seen by every later read
/// and write of the index exactly as if it had run in place, in order, and reach the database.
struct DeferredChangeTests {
    @Test func queuedChangesAreSeenByEveryLaterReadInOrder() throws {
        let f = try SQLiteIndexFixture("deferred")
        f.index.startGroupCommit(interval: 0.2)   // long, so the queue is still full when read
        let inos = try (0..<50).map { i in try f.index.change { tx throws(IndexError) in try tx.insert(f.row("f\(i)")) } }
        for ino in inos where ino % 2 == 0 { f.index.changeLater { tx throws(IndexError) in try tx.delete(ino) } }
        for ino in inos { #expect((try f.entry(ino) == nil) == (ino % 2 == 0), "ino \(ino) through query") }
        // A later synchronous change runs after the queued ones: renaming a file whose delete
        // was queued finds no row to rename.
        f.index.changeLater { tx throws(IndexError) in try tx.delete(inos[2]) }
        try f.index.change { tx throws(IndexError) in try tx.setName(inos[2], parent: 1, name: Array("renamed".utf8), ctime: 1) }
        let snapshot = try f.index.read { tx throws(IndexError) in
            var present: [Bool] = []
            for ino in inos { present.append(try tx.entry(ino) != nil) }
            return present
        }
        #expect(snapshot == inos.map { $0 % 2 != 0 }, "a reader's snapshot")
        #expect(try f.index.query { tx throws(IndexError) in try tx.entry(parent: 1, name: Array("renamed".utf8)) } == nil)
        try f.index.stopGroupCommit()

        let reopened = try IndexStore(path: f.root + "/index.db")
        let kept = try reopened.query { tx throws(IndexError) in
            var kept: [UInt64] = []
            for ino in inos where try tx.entry(ino) != nil { kept.append(ino) }
            return kept
        }
        #expect(kept == inos.filter { $0 % 2 != 0 })
        #expect(f.index.lostBatches == 0)
    }

    @Test func aFailingQueuedChangeIsCountedAndUndoesOnlyItself() throws {
        let f = try SQLiteIndexFixture("deferred")
        f.index.startGroupCommit(interval: 0.2)
        let a = try f.index.change { tx throws(IndexError) in try tx.insert(f.row("a")) }
        let b = try f.index.change { tx throws(IndexError) in try tx.insert(f.row("b")) }
        f.index.changeLater { tx throws(IndexError) in
            try tx.delete(a)
            throw IndexError(.invalid, "refused")
        }
        f.index.changeLater { tx throws(IndexError) in try tx.delete(b) }
        #expect(try f.entry(a) != nil, "the failed change's delete was undone")
        #expect(try f.entry(b) == nil)
        #expect(f.index.lostBatches == 1)
        try f.index.stopGroupCommit()
    }

    @Test func withoutACommitterAQueuedChangeRunsAtOnce() throws {
        let f = try SQLiteIndexFixture("deferred")
        let a = try f.index.change { tx throws(IndexError) in try tx.insert(f.row("a")) }
        f.index.changeLater { tx throws(IndexError) in try tx.delete(a) }
        let other = try IndexStore(path: f.root + "/index.db")
        #expect(try other.query { tx throws(IndexError) in try tx.entry(a) } == nil, "committed, visible to another connection")
    }
}

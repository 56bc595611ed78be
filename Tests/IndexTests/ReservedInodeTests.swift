import Foundation
import Index
import Syscalls
import Testing

/// `IndexStore.reserveInode`: creates take numbers from a block held in memory and queue their
/// insert. A number must be durable before it is handed out (it goes into a silo as a hint at
/// once), never handed out twice, and never taken by a scan's hint while it waits in the block.
struct ReservedInodeTests {
    @Test func reservedNumbersAreDurableBeforeTheyAreHandedOut() throws {
        let f = try SQLiteIndexFixture("reserved")
        let existing = try f.index.write { tx throws(IndexError) in try tx.insert(f.row("before")) }
        // More than one block (4,096), so that a block runs out and a new one is taken.
        let reserved = try (0..<5_000).map { _ in try f.index.reserveInode() }
        #expect(Set(reserved).count == reserved.count && !reserved.contains(existing))
        // Another store opening the index now is what a restart after a crash sees (nothing
        // was inserted under the reserved numbers): whatever it hands out must lie above every
        // number already given to a create, which may be in a silo as a hint.
        let afterCrash = try IndexStore(path: f.root + "/index.db")
        let next = try afterCrash.write { tx throws(IndexError) in try tx.insert(f.row("after")) }
        #expect(next > reserved.max()!, "a restarted index hands out \(next), below the reserved \(reserved.max()!)")
    }

    @Test func aQueuedCreateIsSeenAtOnceAndKept() throws {
        let f = try SQLiteIndexFixture("reserved")
        f.index.startGroupCommit(interval: 0.2)
        let ino = try f.index.reserveInode()
        let new = f.row("new", ino: ino)
        f.index.changeLater { tx throws(IndexError) in try tx.insertReserved(new) }
        #expect(try f.index.query { tx throws(IndexError) in try tx.entry(parent: 1, name: Array("new".utf8)) }?.ino == ino)
        // The writer's own numbers never meet the block's.
        let written = try f.index.change { tx throws(IndexError) in try tx.insert(f.row("written")) }
        #expect(written != ino)
        try f.index.stopGroupCommit()
        let reopened = try IndexStore(path: f.root + "/index.db")
        #expect(try reopened.query { tx throws(IndexError) in try tx.entry(ino) }?.name == Array("new".utf8))
        #expect(f.index.lostBatches == 0)
    }

    @Test func aHintInsideTheBlockNotHandedOutIsNotTaken() throws {
        let f = try SQLiteIndexFixture("reserved")
        f.index.startGroupCommit(interval: 0.2)
        let first = try f.index.reserveInode()
        // A scan finding a file that carries the next number of the block (copied from elsewhere)
        // must give it a fresh one: the next create will be handed that number.
        let scanned = try f.index.write { tx throws(IndexError) in try tx.insert(f.row("scanned"), hint: first + 1) }
        #expect(scanned != first + 1)
        let second = try f.index.reserveInode()
        #expect(second == first + 1)
        let created = f.row("created", ino: second)
        f.index.changeLater { tx throws(IndexError) in try tx.insertReserved(created) }
        try f.index.commitPending()
        #expect(f.index.lostBatches == 0, "the create's insert met no row with its number")
        try f.index.stopGroupCommit()
    }
}

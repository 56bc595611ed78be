import Foundation
import Index
import Syscalls
import Testing

/// The Index interface, engine by engine: transactions, group commit, inode numbers, schema
/// migrations and the writer lock.
struct TransactionConformanceTests {
    @Test(arguments: EngineUnderTest.all)
    func aThrowingWriteLeavesNoTrace(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        #expect(throws: IndexError.self) {
            try f.index.write { tx throws(IndexError) in
                try tx.insert(f.file("kept-out"))
                throw IndexError(.invalid, "refused")
            }
        }
        #expect(try f.entry("kept-out") == nil)
        // A failing statement inside a write rolls back the statements before it too.
        let first = try f.insert(f.file("a"))
        #expect(throws: IndexError.self) {
            try f.index.write { tx throws(IndexError) in
                try tx.setName(first, parent: 1, name: Array("renamed".utf8), ctime: 1)
                try tx.insert(f.file("renamed"))   // conflict
            }
        }
        #expect(try f.entry("a")?.ino == first)
        // dryRun shows what a change would do and keeps none of it.
        let seen = try f.index.dryRun { tx throws(IndexError) in
            try tx.delete(first)
            return try tx.reader.entry(first)
        }
        #expect(seen == nil)
        #expect(try f.entry(first) != nil)
    }

    @Test(arguments: EngineUnderTest.all)
    func aFailingChangeInAGroupCommitUndoesOnlyItself(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        f.index.startGroupCommit(interval: 0.2)
        let a = try f.index.change { tx throws(IndexError) in try tx.insert(f.file("a")) }
        let failed = #expect(throws: IndexError.self) {
            try f.index.change { tx throws(IndexError) in
                try tx.delete(a)
                try tx.insert(f.file("b"))
                try tx.insert(f.file("b"))
            }
        }
        #expect(failed?.kind == .conflict)
        let c = try f.index.change { tx throws(IndexError) in try tx.insert(f.file("c")) }
        #expect(try f.entry(a) != nil && f.entry("b") == nil && f.entry(c) != nil, "seen before the batch commits")
        try f.index.stopGroupCommit()
        let other = try f.reopen()
        let kept = try other.query { tx throws(IndexError) in (try tx.entry(a), try tx.entry(c)) }
        #expect(kept.0 != nil && kept.1 != nil, "committed")
        #expect(f.index.lostBatches == 0)
    }

    @Test(arguments: EngineUnderTest.all)
    func aReadSeesOneSnapshot(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        try f.insert(f.file("a"))
        let writer = try f.reopen()
        let (before, after) = try f.index.read { tx throws(IndexError) in
            let before = try tx.entryCount()
            _ = try writer.write { w throws(IndexError) in try w.insert(f.file("b")) }
            return (before, try tx.entryCount())
        }
        #expect(before == 1 && after == 1, "a change committed meanwhile is not seen inside the snapshot")
        #expect(try f.index.read { tx throws(IndexError) in try tx.entryCount() } == 2, "and is seen by the next one")
    }

    @Test(arguments: EngineUnderTest.all)
    func inodeNumbersAreNeverHandedOutTwice(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        var seen = Set<UInt64>([1])
        seen.insert(try f.insert(f.file("a")))
        // A number handed out in a rolled-back transaction is skipped.
        let rolledBack = try f.index.dryRun { tx throws(IndexError) in try tx.insert(f.file("gone")) }
        #expect(!seen.contains(rolledBack))
        seen.insert(rolledBack)
        let next = try f.insert(f.file("b"))
        #expect(!seen.contains(next))
        seen.insert(next)
        // A deleted file's number is not reused, by this store or by the next one to open the index.
        try f.index.write { tx throws(IndexError) in try tx.delete(next) }
        for i in 0..<3 { #expect(seen.insert(try f.insert(f.file("c\(i)"))).inserted) }
        let reopened = try f.reopen()
        for i in 0..<3 { #expect(seen.insert(try reopened.write { tx throws(IndexError) in try tx.insert(f.file("d\(i)")) }).inserted) }
        // A hint (a file's number from an earlier index) is taken when free, and counted.
        let hinted = try reopened.write { tx throws(IndexError) in try tx.insert(f.file("hinted"), hint: 1_000_000) }
        #expect(hinted == 1_000_000)
        let taken = try reopened.write { tx throws(IndexError) in try tx.insert(f.file("again"), hint: 1_000_000) }
        #expect(taken != 1_000_000 && taken > 1_000_000, "a taken hint gets a fresh number above it")
    }

    @Test(arguments: EngineUnderTest.all)
    func migrationsAreAppliedOnceAndANewerSchemaIsRefused(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let names = try f.index.appliedMigrations()
        #expect(!names.isEmpty && names == f.index.engine.migrations)
        #expect(try f.reopen().appliedMigrations() == names, "reopening applies nothing twice")
        #expect(try f.index.quickCheck().isEmpty)

        let newer = try IndexStore(engine: try engine.makeNewer(f.root))
        #expect(try newer.appliedMigrations().count == names.count + 1)
        let refused = #expect(throws: IndexError.self) { _ = try f.reopen() }
        #expect(refused?.kind == .versionMismatch)
        #expect(refused?.message.contains("newer") == true, "\(refused.map(String.init(describing:)) ?? "")")
    }

    /// Two stores over one index (another process; the pool lock keeps a second daemon out,
    /// but tools and tests open it too): a writer meeting the write lock waits and then lands.
    /// Inode numbers are the one writer's to hand out, so the second one writes settings.
    @Test(arguments: EngineUnderTest.all)
    func aWriterWaitsForAnotherHoldingTheWriteLock(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let other = try f.reopen()
        let holding = DispatchSemaphore(value: 0), finished = DispatchSemaphore(value: 0)
        let outcome = LockedResult()
        let thread = Thread {
            holding.wait()
            do {
                try other.write { tx throws(IndexError) in try tx.setMeta("second", "landed") }
                outcome.set(.success(()))
            } catch { outcome.set(.failure(error)) }
            finished.signal()
        }
        thread.start()
        let first = try f.index.write { tx throws(IndexError) in
            let ino = try tx.insert(f.file("first"))
            holding.signal()
            usleep(100_000)   // the other writer meets the lock meanwhile (or not: either way both must land)
            return ino
        }
        finished.wait()
        try outcome.get()
        #expect(try f.entry("first")?.ino == first)
        #expect(try f.index.query { tx throws(IndexError) in try tx.meta("second") } == "landed")
    }

    @Test(arguments: EngineUnderTest.all)
    func jobsMoveForwardAndAreQueriedByState(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let a = try f.insert(f.file("a", size: 100)), b = try f.insert(f.file("b"))
        let ids = try f.index.write { tx throws(IndexError) in
            var ids: [Int64] = []
            for (ino, time) in [(a, Int64(10)), (a, 20), (b, 30), (a, 40)] {
                ids.append(try tx.insertJob(JobRow(ino: ino, source: 0, destination: 1, extentSize: 4096, size: 100, sourceMtime: 5, batch: time == 30 ? 7 : nil, created: time)))
            }
            return ids
        }
        #expect(ids == ids.sorted() && Set(ids).count == 4, "ids grow")
        var job = try #require(try f.index.query { tx throws(IndexError) in try tx.job(ids[0]) })
        #expect(job.state == .queued && job.done.isEmpty && job.batch == nil && job.created == 10)
        #expect(try f.index.query { tx throws(IndexError) in try tx.job(ids[2]) }?.batch == 7)
        job.state = .done; job.done = [1]; job.hashes = [1, 2, 3, 4, 5, 6, 7, 8]; job.log = [0, 0, 0, 0]
        job.bytesCopied = 100; job.updated = 50
        var failed = try #require(try f.index.query { tx throws(IndexError) in try tx.job(ids[1]) })
        failed.state = .failed; failed.error = "disk full"; failed.updated = 60
        try f.index.write { tx throws(IndexError) in try tx.updateJob(job); try tx.updateJob(failed) }
        var unknown = job
        unknown.id = ids.max()! + 100
        let missing = #expect(throws: IndexError.self) { try f.index.write { tx throws(IndexError) in try tx.updateJob(unknown) } }
        #expect(missing?.kind == .notFound && missing?.errno == .noSuchFileOrDirectory)
        try f.reading { tx throws in
            #expect(try tx.job(ids[0]) == job)
            #expect(try tx.jobs().map(\.id) == [ids[3], ids[2]], "unfinished, newest first")
            #expect(try tx.jobs(all: true).count == 4)
            #expect(try tx.jobs(all: true, limit: 1).map(\.id) == [ids[3]])
            #expect(try tx.failedJobs() == [FailedJob(id: ids[1], ino: a, source: 0, destination: 1, size: 100, sourceMtime: 5, updated: 60, error: "disk full")])
            let done = try tx.completedMoves()
            #expect(done.count == 1 && done[a]?.id == ids[0] && done[a]?.updated == 50)
            #expect(try tx.inodesWithJobs(since: 25) == [a, b])
            #expect(try tx.inodesWithJobs(since: 55) == [a])
            #expect(try tx.hasJob(for: b, since: 30) && !tx.hasJob(for: b, since: 31))
        }
    }

    @Test(arguments: EngineUnderTest.all)
    func checksumsAndHeatBelongToLiveFiles(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let a = try f.insert(f.file("a"))
        try f.index.write { tx throws(IndexError) in
            try tx.setChecksums(ino: a, silo: 1, size: 8192, mtime: 3, extentSize: 4096, hashes: [9, 8])
            try tx.setChecksums(ino: a, silo: 2, size: 8192, mtime: 4, extentSize: 4096, hashes: [7])
        }
        let sums = try #require(try f.index.query { tx throws(IndexError) in try tx.checksums(of: a) })
        #expect(sums.silo == 2 && sums.mtime == 4 && sums.hashes == [7], "replaced, not added")

        let recorded = try f.index.write { tx throws(IndexError) in
            (try tx.setHeat(ino: a, score: 8, updated: 1000, extents: [1, 2]), try tx.setHeat(ino: 999_999, score: 1, updated: 1000, extents: []))
        }
        #expect(recorded == (true, false), "no heat for a file that is not in the index")
        try f.reading { tx throws in
            #expect(try tx.heatRow(a)?.extents == [1, 2])
            #expect(try tx.heat(of: a, now: 1100, halfLife: 100) == 4, "halved after one half-life")
            #expect(try tx.heat(of: 999_999, now: 1100, halfLife: 100) == 0)
            #expect(try tx.heat(limit: 10).map(\.ino) == [a])
        }
    }
}

/// A result handed from a thread to the test.
final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<Void, any Error>?
    func set(_ r: Result<Void, any Error>) { lock.withLock { result = r } }
    func get() throws { try lock.withLock { result }!.get() }
}

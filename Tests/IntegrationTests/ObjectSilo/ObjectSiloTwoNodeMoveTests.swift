import Foundation
import Synchronization
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Moves to and from a bucket with two nodes on one PostgreSQL index (issue 16: "a file open
/// for writing on another node while it moves loses no write and never serves stale bytes
/// after the switch"). Node B holds the file open and writes while node A uploads it to the
/// bucket and recalls it: B's writes during an upload make A upload again, B's handle follows
/// the file into the bucket (reading the bytes the object holds), a write through it on B
/// recalls the file (or waits for A's recall) and lands in the local copy.
@Suite(.serialized)
struct ObjectSiloTwoNodeMoveTests {
    /// What the writer on node B has had acknowledged, and whether it should pause.
    private final class Writer: Sendable {
        let model: Mutex<[UInt8]>
        let pause = Atomic<Bool>(true)
        let paused = Atomic<Bool>(false)
        let stop = Atomic<Bool>(false)
        let writes = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        init(_ bytes: [UInt8]) { model = Mutex(bytes) }

        func pauseAndWait() {
            pause.store(true, ordering: .relaxed)
            while !paused.load(ordering: .relaxed) && failure.withLock({ $0 }) == nil { usleep(1_000) }
        }

        func resume() { paused.store(false, ordering: .relaxed); pause.store(false, ordering: .relaxed) }

        /// Overwrites 4 KiB at random offsets, appends every 16th write, until stopped.
        func run(fd: Int32) {
            var generator = SystemRandomNumberGenerator()
            var round = 0
            while !stop.load(ordering: .relaxed) {
                if pause.load(ordering: .relaxed) { paused.store(true, ordering: .relaxed); usleep(2_000); continue }
                round += 1
                let size = model.withLock { $0.count }
                let append = round % 16 == 0
                let at = append ? size : Int.random(in: 0..<(size - 4096), using: &generator)
                let patch = [UInt8](repeating: UInt8(truncatingIfNeeded: round % 251 + 1), count: 4096)
                let n = patch.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(at)) }
                if n != patch.count {
                    failure.withLock { $0 = "write \(round) at \(at) returned \(n), errno \(errno)" }
                    paused.store(true, ordering: .relaxed)
                    return
                }
                model.withLock { m in if append { m.append(contentsOf: patch) } else { m.replaceSubrange(at..<(at + 4096), with: patch) } }
                writes.add(1, ordering: .relaxed)
                usleep(2_000)
            }
        }
    }

    private func difference(_ a: [UInt8], _ b: [UInt8]) -> String {
        if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return "first difference at byte \(i)" }
        return "sizes \(a.count) and \(b.count)"
    }

    /// Runs `estuary move` on a thread; `wait` returns its result.
    private func moveInBackground(_ path: String, to tier: String) -> () -> Shell.Result? {
        let result = Mutex<Shell.Result?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let r = try? Shell.run(Shell.estuary, ["move", path, "--to", tier, "--wait"], timeout: 300)
            result.withLock { $0 = r }
            done.signal()
        }
        return { done.wait(); return result.withLock { $0 } }
    }

    /// Node B writes through one handle while node A uploads the file to the bucket and
    /// recalls it, four rounds. B writes during the first part of each upload (A must upload
    /// again: the object would miss them), then pauses until the upload ends; then either B
    /// writes at once (through its handle, now in the bucket: B recalls the file) or A recalls
    /// it while B reads and then writes (B's write waits for A's recall). After each upload and
    /// each recall B's old handle, a fresh open on B, A's mount and the object or backing file
    /// hold every write B had acknowledged.
    @Test func writesThroughAnotherNodeSurviveUploadsAndRecalls() throws {
        let s3 = try ObjectSiloPool(extraConfig: "extent_size = \"64KiB\"\nheat_half_life = 3600\nmove_bandwidth = \"1MiB\"\nnode_timeout = 5",
                                    engine: .postgresql)
        let initial = objectPattern(2 << 20, seed: 11)
        try Data(initial).write(to: URL(fileURLWithPath: s3.pool.siloPath("fast0") + "/shared.bin"))
        let a = PoolNode.first(of: s3.pool), b = try PoolNode.another(of: s3.pool)
        try a.start()
        try b.start()
        defer { b.stop(); a.stop() }
        let postgres = try PostgresServer.get(), database = try #require(s3.pool.database)
        func sql(_ statement: String) throws -> String {
            try postgres.sql(statement, database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func backingSilo() throws -> String {
            try sql("SELECT s.name FROM entries e JOIN silos s ON s.id = e.silo WHERE e.name = 'shared.bin'")
        }

        let fd = open(b.path("shared.bin"), O_RDWR)
        try #require(fd >= 0, "open through B: \(errno)")
        defer { close(fd) }
        let writer = Writer(initial)
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread { writer.run(fd: fd); finished.signal() }
        defer { writer.stop.store(true, ordering: .relaxed); writer.resume(); finished.wait() }

        /// Every view of the file equals what B had acknowledged; `label` names the moment.
        func check(_ label: String, inBucket: Bool) throws {
            #expect(fsync(fd) == 0, "\(label): fsync on B: \(errno)")
            let model = writer.model.withLock { $0 }
            let handle = try WholeFile.read(fd: fd)
            let handleSame = handle == model
            #expect(handleSame, "\(label): B's open handle: \(difference(handle, model))")
            let fresh = try readWholeFile(b.path("shared.bin"))
            let freshSame = fresh == model
            #expect(freshSame, "\(label): a fresh open on B: \(difference(fresh, model))")
            var onA: [UInt8] = []
            let same = try Observe.waitFor(15) { onA = try readWholeFile(a.path("shared.bin")); return onA == model }
            #expect(same, "\(label): A's mount: \(difference(onA, model))")
            let silo = try backingSilo(), keys = try s3.keys()
            if inBucket {
                #expect(silo == "archive", "\(label): the index names \(silo)")
                #expect(keys == ["shared.bin"], "\(label): keys \(keys)")
                let object = try s3.object("shared.bin") ?? []
                let objectSame = object == model
                #expect(objectSame, "\(label): the object: \(difference(object, model))")
                #expect(!FileManager.default.fileExists(atPath: s3.pool.siloPath("fast0") + "/shared.bin"), "\(label): a local copy is left")
            } else {
                let backing = (try? readWholeFile(s3.pool.siloPath(silo == "archive" ? "fast0" : silo) + "/shared.bin")) ?? []
                let backingSame = silo != "archive" && backing == model
                #expect(backingSame, "\(label): the backing file on \(silo): \(difference(backing, model))")
                #expect(keys.isEmpty, "\(label): keys left in the bucket \(keys)")
            }
        }

        let rounds = 4
        for round in 0..<rounds {
            // Upload: B writes during its first part, then pauses until it ends.
            writer.resume()
            usleep(200_000)
            let before = writer.writes.load(ordering: .relaxed)
            let upload = moveInBackground(a.path("shared.bin"), to: "cold")
            // The first attempt has read the file's size once its job is copying; B goes on
            // writing a little (the move's bandwidth, 1 MiB/s, makes each attempt last about
            // two seconds after its read), then stops so that a later attempt is clean.
            _ = try Observe.waitFor(30) {
                try sql("SELECT count(*) FROM jobs WHERE state = 'copying' AND destination = (SELECT id FROM silos WHERE name = 'archive')") != "0"
            }
            usleep(300_000)
            writer.pauseAndWait()
            let during = writer.writes.load(ordering: .relaxed) - before
            let uploaded = upload()
            #expect(uploaded?.status == 0, "round \(round): upload: \(uploaded?.output ?? "did not run")\n\(a.log.suffix(3000))")
            try #require(writer.failure.withLock { $0 } == nil, "\(writer.failure.withLock { $0 } ?? "")")
            try check("round \(round) after the upload (\(during) writes by B while it started)", inBucket: true)

            if round % 2 == 0 {
                // B writes through its handle at once: the file comes back for it.
                writer.resume()
                usleep(800_000)
                writer.pauseAndWait()
                let recall = try Shell.run(Shell.estuary, ["move", a.path("shared.bin"), "--to", "fast", "--wait"], timeout: 300)
                #expect(recall.status == 0, "round \(round): recall: \(recall.output)")
            } else {
                // A recalls while B reads through its handle; B writes once A's job copies.
                _ = try sql("DELETE FROM jobs WHERE state IN ('done', 'cancelled')")
                let recall = moveInBackground(a.path("shared.bin"), to: "fast")
                _ = try Observe.waitFor(30) { try sql("SELECT count(*) FROM jobs WHERE state <> 'queued'") != "0" }
                let model = writer.model.withLock { $0 }
                let handle = try WholeFile.read(fd: fd)
                let handleSame = handle == model
                #expect(handleSame, "round \(round): B's handle during the recall: \(difference(handle, model))")
                writer.resume()
                let recalled = recall()
                #expect(recalled?.status == 0, "round \(round): recall: \(recalled?.output ?? "did not run")\n\(a.log.suffix(3000))")
                usleep(300_000)
                writer.pauseAndWait()
            }
            try #require(writer.failure.withLock { $0 } == nil, "\(writer.failure.withLock { $0 } ?? "")")
            try check("round \(round) after the recall", inBucket: false)
            print("round \(round): \(during) writes by B during the upload's start; \(writer.writes.load(ordering: .relaxed)) in all")
        }
        let again = a.log.components(separatedBy: "uploading again").count - 1
        let recallsOnB = b.log.components(separatedBy: "moved inode").count - 1
        print("uploads started again for B's writes: \(again); recalls run by B for its writes: \(recallsOnB)")
        #expect(again >= 1, "no upload saw B's writes:\n\(a.log.suffix(3000))")
        // B recalls for its writes in the even rounds; in the odd ones its writes wait for A's
        // recall, except that a write meeting the file in the instant A's job is not yet seen
        // as running starts a recall on B too (seen once in CI: a second job beside A's,
        // which refuses B's gate and retries; the bytes are checked above either way).
        #expect(recallsOnB >= rounds / 2 && recallsOnB <= rounds, "B ran \(recallsOnB) moves:\n\(b.log.suffix(3000))")
        let jobs = try sql("SELECT id, state, error FROM jobs WHERE state NOT IN ('done', 'cancelled')")
        #expect(jobs.isEmpty, "unfinished or failed jobs: \(jobs)")
    }

    private func content(_ i: Int) -> [UInt8] { Array(String(repeating: "\(i)-", count: 50).utf8) }

    /// Node A renames a directory in the bucket with server-side copies refused (then let
    /// through): node B reading the new names meanwhile gets every file whole, never an error,
    /// and a handle B opened before the rename goes on reading after the old key is gone.
    @Test func aReaderOnAnotherNodeNeverFailsDuringARename() throws {
        let server = try SeaweedServer.shared()
        let proxy = try CopyBlockingProxy(upstream: server.endpoint)
        defer { proxy.stop() }
        let s3 = try ObjectSiloPool(extraConfig: "extent_size = \"64KiB\"\nheat_half_life = 3600\nnode_timeout = 5",
                                    server: server, engine: .postgresql, endpoint: proxy.endpoint)
        let objects = 12
        let big = objectPattern(3 << 20, seed: 5), other = objectPattern(1 << 20, seed: 6)
        // `held` is read only through the handle opened before the rename: fresh opens of it
        // would fill the kernel's cache of the inode, and the handle's reads would never reach
        // the daemon.
        var put: [String: [UInt8]] = ["d/held": big, "d/big": other]
        for i in 0..<objects { put["d/f\(i)"] = content(i) }
        try s3.put(put)
        let postgres = try PostgresServer.get(), database = try #require(s3.pool.database)
        func journal() throws -> String {
            try postgres.sql("SELECT value FROM meta WHERE key = 'bucket_renames'", database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let a = PoolNode.first(of: s3.pool), b = try PoolNode.another(of: s3.pool)
        try a.start()
        try b.start()
        defer { b.stop(); a.stop() }
        #expect(try readWholeFile(b.path("d/f1")) == content(1))

        // A handle on B from before the rename, which has read the start of the big file.
        let held = open(b.path("d/held"), O_RDONLY)
        try #require(held >= 0, "open d/held on B: \(errno)")
        defer { close(held) }
        var head = [UInt8](repeating: 0, count: 4096)
        #expect(head.withUnsafeMutableBytes { pread(held, $0.baseAddress!, 4096, 0) } == 4096)
        let headSame = head == Array(big[0..<4096])
        #expect(headSame)

        proxy.blocked = true
        #expect(Glibc.rename(a.path("d"), a.path("e")) == 0, "rename on node A: errno \(errno)")
        #expect(!(try journal()).isEmpty, "no journal line for the rename")
        var failures: [String] = []
        var reads = 0
        func readAllNames(_ label: String) {
            for i in 0..<objects {
                reads += 1
                do {
                    let got = try readWholeFile(b.path("e/f\(i)"))
                    if got != content(i) { failures.append("\(label) e/f\(i): \(got.count) bytes, not the file") }
                } catch { failures.append("\(label) e/f\(i): \(error)") }
            }
            reads += 1
            do { if try readWholeFile(b.path("e/big")) != other { failures.append("\(label) e/big: not the file") } }
            catch { failures.append("\(label) e/big: \(error)") }
        }
        // Copies refused: B reads the new names while only the old keys exist.
        let blockedUntil = monotonicSeconds() + 4
        while monotonicSeconds() < blockedUntil { readAllNames("copies refused") }
        #expect(try s3.keys().allSatisfy { $0.hasPrefix("d/") }, "a copy went through the proxy")
        // Copies let through: B reads while they run, until the journal is empty.
        proxy.blocked = false
        let deadline = monotonicSeconds() + 120
        while monotonicSeconds() < deadline, !(try journal()).isEmpty { readAllNames("copies running") }
        let finished = try journal().isEmpty
        #expect(finished, "the rename never finished:\n\(a.log.suffix(3000))")
        readAllNames("after the rename")
        let keys = try s3.keys()
        #expect(keys.allSatisfy { $0.hasPrefix("e/") }, "keys \(keys)")
        #expect(failures.isEmpty, "\(failures.count) of \(reads) reads on B failed: \(failures.prefix(10))")

        // The old handle reads past what it had read: its key is gone, the object is under e/.
        _ = posix_fadvise(held, 0, 0, POSIX_FADV_DONTNEED)
        var tail = [UInt8](repeating: 0, count: 65536)
        let at = 2 << 20
        let n = tail.withUnsafeMutableBytes { pread(held, $0.baseAddress!, 65536, off_t(at)) }
        #expect(n == 65536, "read through the handle opened before the rename: \(n), errno \(errno)")
        let tailSame = n == 65536 && tail == Array(big[at..<(at + 65536)])
        #expect(tailSame)
        print("reads on B during the rename: \(reads)")
    }
}

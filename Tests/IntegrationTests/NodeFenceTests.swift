import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A node frozen longer than node_timeout with a file open (issue 16): the other nodes take
/// it for dead and move the file without asking it, deleting the copy its descriptors use.
/// Woken, it must not write into that deleted copy or serve it: it fences itself (its
/// validity ran out) and points its handles at the file's current copy before going on.
@Suite(.serialized)
struct NodeFenceTests {
    private func firstDifference(_ a: [UInt8], _ b: [UInt8]) -> String {
        if let i = zip(a, b).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset { return "first difference at byte \(i)" }
        return "sizes \(a.count) and \(b.count)"
    }

    private func patch(_ round: Int) -> [UInt8] { [UInt8](repeating: UInt8(truncatingIfNeeded: round * 37 + 1), count: 4096) }

    /// Node B writes through an open handle; B's daemon is stopped (SIGSTOP) until node A
    /// counts it dead; A moves the file to the other silo (without B) and writes a page of it;
    /// B is continued and writes again through its old handle. Every write acknowledged, B's
    /// and A's, is then in the copy the index names, seen through B's old handle, a fresh open
    /// on B and A's mount, and the old silo has no copy.
    @Test func aFrozenNodeFollowsAMoveMadeWithoutIt() throws { try frozenNode(mapped: false) }

    /// The same with B writing through a shared mapping, each write synced with msync.
    @Test func aFrozenNodesMappingFollowsAMoveMadeWithoutIt() throws { try frozenNode(mapped: true) }

    private func frozenNode(mapped: Bool) throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: "node_timeout = 5",
                                watch: false, engine: .postgresql)
        var model = (0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 11) }
        try Data(model).write(to: URL(fileURLWithPath: pool.siloPath("fast0") + "/held.bin"))
        let a = PoolNode.first(of: pool), b = try PoolNode.another(of: pool)
        try a.start()
        let metricsPort = try Observe.freePort()
        try b.start(options: ["-o", "metrics=127.0.0.1:\(metricsPort)"])
        defer { b.stop(); a.stop() }
        let bPid = try #require(b.pid)
        let server = try PostgresServer.get(), database = try #require(pool.database)
        func sql(_ statement: String) throws -> String {
            try server.sql(statement, database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        }

        // B answers the first FLUSH with ENOSYS and the kernel sends no more: a child process
        // (psql, estuary) closing its copy of the descriptor below while B is stopped would
        // otherwise wait on B. Close-on-exec besides.
        close(open(b.path("held.bin"), O_RDONLY))
        let fd = open(b.path("held.bin"), O_RDWR | O_CLOEXEC)
        try #require(fd >= 0, "open through B: \(errno)")
        defer { close(fd) }
        var mapping: UnsafeMutableRawPointer?
        if mapped {
            let address = mmap(nil, model.count, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
            try #require(address != MAP_FAILED, "mmap through B: \(errno)")
            mapping = address
        }
        defer { if let mapping { munmap(mapping, model.count) } }
        // Continued before anything above touches B's mount on the way out.
        var stopped = false
        defer { if stopped { kill(bPid, SIGCONT) } }
        /// One 4 KiB write through B (page `page`), acknowledged before it returns.
        func writeThroughB(page: Int, _ bytes: [UInt8]) throws {
            let at = page * 4096
            if let mapping {
                bytes.withUnsafeBytes { (mapping + at).copyMemory(from: $0.baseAddress!, byteCount: 4096) }
                guard msync(mapping + at, 4096, MS_SYNC) == 0 else { throw TestFailure("msync of page \(page): errno \(errno)") }
            } else {
                let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress!, 4096, off_t(at)) }
                guard n == 4096 else { throw TestFailure("write of page \(page) through B returned \(n), errno \(errno)") }
            }
            model.replaceSubrange(at..<(at + 4096), with: bytes)
        }

        // B writes, and reads the whole file (its pages are now in B's page cache).
        for page in [1, 50, 100] { try writeThroughB(page: page, patch(page)) }
        #expect(try WholeFile.read(fd: fd) == model)

        kill(bPid, SIGSTOP)
        stopped = true
        // A counts B dead once its heartbeat is older than node_timeout by the database's clock.
        let dead = try Observe.waitFor(60) {
            try sql("SELECT floor(extract(epoch from clock_timestamp()))::bigint - heartbeat > 5 FROM nodes WHERE pid = \(bPid)") == "t"
        }
        try #require(dead, "B never counted as dead")
        let move = try Shell.run(Shell.estuary, ["move", a.path("held.bin"), "--to", "bulk", "--wait"])
        #expect(move.status == 0, "the move without B: \(move.output)")
        #expect(!FileManager.default.fileExists(atPath: pool.siloPath("fast0") + "/held.bin"), "the source stayed")
        // A writes a page of the moved file: B must not serve its old bytes afterwards.
        let fromA = patch(200)
        let aFD = open(a.path("held.bin"), O_WRONLY | O_CLOEXEC)
        try #require(aFD >= 0)
        #expect(fromA.withUnsafeBytes { pwrite(aFD, $0.baseAddress!, 4096, off_t(150 * 4096)) } == 4096)
        #expect(fsync(aFD) == 0)
        close(aFD)
        model.replaceSubrange((150 * 4096)..<(151 * 4096), with: fromA)

        kill(bPid, SIGCONT)
        stopped = false
        // B's old handle writes on: these reach B's daemon, which is fenced until its
        // handles follow the index.
        for page in [2, 51, 101, 255] { try writeThroughB(page: page, patch(page + 1000)) }
        #expect(fsync(fd) == 0)

        let backing = pool.siloPath("bulk0") + "/held.bin"
        let silo = try WholeFile.read(backing)
        let siloSame = silo == model
        #expect(siloSame, "the backing file \(backing): \(firstDifference(silo, model))")
        #expect(!FileManager.default.fileExists(atPath: pool.siloPath("fast0") + "/held.bin"), "a copy came back on the old silo")
        let fresh = try WholeFile.read(b.path("held.bin"))
        let freshSame = fresh == model
        #expect(freshSame, "a fresh open on B: \(firstDifference(fresh, model))")
        // B's old handle: its cached pages go with the recovery's invalidation, sent to the
        // kernel right after the fence lifts.
        var throughHandle: [UInt8] = []
        let handleSame = try Observe.waitFor(15) { throughHandle = try WholeFile.read(fd: fd); return throughHandle == model }
        #expect(handleSame, "B's old handle: \(firstDifference(throughHandle, model))")
        if let mapping {
            var inMapping: [UInt8] = []
            let mappingSame = Observe.waitFor(15) { inMapping = Array(UnsafeRawBufferPointer(start: mapping, count: model.count)); return inMapping == model }
            #expect(mappingSame, "B's mapping: \(firstDifference(inMapping, model))")
        }
        var onA: [UInt8] = []
        let aSame = try Observe.waitFor(15) { onA = try WholeFile.read(a.path("held.bin")); return onA == model }
        #expect(aSame, "A's mount: \(firstDifference(onA, model))")
        #expect(b.log.contains("pointed at its current copy"), "B's log:\n\(b.log)")
        // The fence and its recovery are counted where an operator looks.
        let scrape = Observe.get("http://127.0.0.1:\(metricsPort)/metrics") ?? ""
        let fences = scrape.split(separator: "\n").first { $0.hasPrefix("estuary_node_fences ") }
        let repointed = scrape.split(separator: "\n").first { $0.hasPrefix("estuary_node_fence_repointed_handles ") }
        #expect(fences.flatMap { Double($0.split(separator: " ").last!) }.map { $0 >= 1 } == true, "\(fences ?? "no estuary_node_fences")")
        #expect(repointed.flatMap { Double($0.split(separator: " ").last!) }.map { $0 >= 1 } == true, "\(repointed ?? "no estuary_node_fence_repointed_handles")")
        for line in b.log.split(separator: "\n") where line.contains("fence") || line.contains("silent for") { print(line) }
    }
}

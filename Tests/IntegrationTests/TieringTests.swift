import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Tier moves through the real mount: content intact whatever runs meanwhile, hottest extents
/// first, and nothing lost when the daemon dies mid-move.
@Suite(.serialized)
struct TieringTests {
    static let extent = 64 << 10

    /// Every test here runs on both index engines: a move's job rows, its switch and its
    /// recovery after a kill are index transactions.
    private func makePool(bandwidth: String = "0", engine: TestEngine) throws -> TestPool {
        try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")],
                     extraConfig: "extent_size = \"64KiB\"\nmove_bandwidth = \"\(bandwidth)\"\nheat_half_life = 3600", engine: engine)
    }

    private func pattern(_ count: Int, seed: UInt8) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed) &+ $0 / 4096) }
    }

    private func readAll(_ path: String) throws -> [UInt8] {
        let fd = try Sys.open(path, flags: O_RDONLY)
        defer { close(fd) }
        return try Sys.readAll(fd, limit: 1 << 30)
    }

    private func jobsJSON(_ pool: TestPool, id: Int64? = nil) throws -> [[String: Any]] {
        var args = ["jobs", "list", pool.mountpoint, "--all", "--json"]
        if let id { args += ["--id", String(id)] }
        let out = try pool.estuary(args)
        return (try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    private func siloFiles(_ pool: TestPool, _ name: String) -> [String] {
        pool.silos.compactMap { FileManager.default.fileExists(atPath: pool.siloPath($0.name) + "/" + name) ? $0.name : nil }
    }

    private func stagingLeftovers(_ pool: TestPool) -> [String] {
        pool.silos.flatMap { (try? FileManager.default.contentsOfDirectory(atPath: pool.siloPath($0.name) + "/.estuary/staging")) ?? [] }
    }

    @Test(arguments: TestEngine.allCases) func filesOfEverySizeMoveIntactWhileInUse(engine: TestEngine) throws {
        let pool = try makePool(bandwidth: "32MiB", engine: engine)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let sizes = [0, 1, Self.extent, 5 * Self.extent + 123, 3 << 20]
        var model: [String: [UInt8]] = [:]
        for (i, size) in sizes.enumerated() {
            let name = "f\(i)"
            model[name] = pattern(size, seed: UInt8(i))
            try Data(model[name]!).write(to: URL(fileURLWithPath: pool.path(name)))
        }
        // A 1 GiB sparse file with a few marks.
        let sparse = pool.path("sparse.img")
        let fd = try Sys.open(sparse, flags: O_WRONLY | O_CREAT, mode: 0o644)
        #expect(ftruncate(fd, 1 << 30) == 0)
        let mark = [UInt8](repeating: 0x5a, count: 3)
        for offset: Int64 in [0, 512 << 20, (1 << 30) - 3] {
            _ = try mark.withUnsafeBytes { raw throws in try Sys.pwrite(fd, raw.baseAddress!, 3, offset) }
        }
        close(fd)

        let move = try pool.estuary(["move", pool.path("f0"), pool.path("f1"), pool.path("f2"), pool.path("f3"), pool.path("f4"),
                                     sparse, "--to", "bulk"])
        #expect(move.status == 0, "\(move.output)")
        // Meanwhile: append to f4, overwrite the middle of f3, truncate f2, read everything.
        let f4 = try Sys.open(pool.path("f4"), flags: O_WRONLY | O_APPEND)
        let f3 = try Sys.open(pool.path("f3"), flags: O_WRONLY)
        for round in 0..<20 {
            let extra = pattern(10_000, seed: UInt8(100 + round))
            _ = try extra.withUnsafeBytes { try Sys.pwrite(f4, $0.baseAddress!, $0.count, 0) }
            model["f4"]! += extra
            let patch = [UInt8](repeating: UInt8(round), count: 777)
            let at = (round * 15_000) % (model["f3"]!.count - 777)
            _ = try patch.withUnsafeBytes { try Sys.pwrite(f3, $0.baseAddress!, $0.count, Int64(at)) }
            model["f3"]!.replaceSubrange(at..<(at + 777), with: patch)
            if round == 10 { #expect(truncate(pool.path("f2"), 1000) == 0); model["f2"] = Array(model["f2"]!.prefix(1000)) }
            for (name, bytes) in model { #expect(try readAll(pool.path(name)) == bytes, "\(name) during the move, round \(round)") }
            usleep(20_000)
        }
        close(f4); close(f3)
        let wait = try pool.estuary(["jobs", "watch", pool.mountpoint])
        #expect(wait.status == 0, "\(wait.output)")
        for (name, bytes) in model {
            #expect(try readAll(pool.path(name)) == bytes, "\(name) after the move")
            #expect(siloFiles(pool, name) == ["bulk0"], "\(name) must be whole on exactly bulk0")
            #expect(try readAll(pool.siloPath("bulk0") + "/" + name) == bytes, "\(name) in the silo")
        }
        #expect(siloFiles(pool, "sparse.img") == ["bulk0"])
        var st = stat()
        #expect(stat(pool.siloPath("bulk0") + "/sparse.img", &st) == 0 && st.st_size == 1 << 30 && st.st_blocks < 1024, "stays sparse")
        #expect(stagingLeftovers(pool).isEmpty)
    }

    @Test(arguments: TestEngine.allCases) func hotExtentsArriveFirst(engine: TestEngine) throws {
        let pool = try makePool(bandwidth: "24MiB", engine: engine)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let extents = 400
        try Data(pattern(extents * Self.extent, seed: 7)).write(to: URL(fileURLWithPath: pool.path("large.bin")))
        let hot = Array(stride(from: 5, to: extents, by: 10))          // 10% of the extents
        let fd = try Sys.open(pool.path("large.bin"), flags: O_RDONLY)
        defer { close(fd) }
        // Only the hot extents are read: kernel readahead would also read their cold neighbours
        // (and count them as wanted), more so when a loaded machine grows the readahead window.
        _ = posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM)
        var buffer = [UInt8](repeating: 0, count: 4096)
        func readHot() throws {
            // Reads served from the page cache never reach the daemon and count no heat: drop
            // the file's cached pages first, as the benchmark does.
            _ = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED)
            for e in hot { _ = try buffer.withUnsafeMutableBytes { try Sys.pread(fd, $0.baseAddress!, 4096, Int64(e * Self.extent)) } }
        }
        for _ in 0..<5 { try readHot() }
        let move = try pool.estuary(["move", pool.path("large.bin"), "--to", "bulk", "--json"])
        #expect(move.status == 0, "\(move.output)")
        let id = ((try JSONSerialization.jsonObject(with: Data(move.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? Int).map(Int64.init)
        let jobID = try #require(id)
        for _ in 0..<20 { try readHot(); usleep(20_000) }
        #expect(try pool.estuary(["jobs", "watch", pool.mountpoint]).status == 0)
        let job = try #require(try jobsJSON(pool, id: jobID).first)
        let order = try #require(job["arrivalOrder"] as? [Int])
        #expect(Set(order) == Set(0..<extents))
        let positions = hot.map { order.firstIndex(of: $0) ?? Int.max }
        // Arrival is completion: with several copy workers per move, a worker the scheduler
        // starves can finish its (hot) extent after others finished cold ones, so the last few
        // hot extents may trail (under the full suite's load one trailed to 90 once); nine in
        // ten must still come first, and all within the first half. Without priority the 40 hot
        // extents would spread over all 400: all of them in the first half by chance is 2^-40.
        let sorted = positions.sorted()
        let message = "hot extents arrived at positions \(sorted.suffix(6)) of \(order.count); first arrivals \(order.prefix(60))"
        #expect(sorted[hot.count * 9 / 10 - 1] < hot.count + 4, "\(message)")
        #expect(sorted.last! < extents / 2, "\(message)")
    }

    @Test(arguments: TestEngine.allCases) func cancelledMoveLeavesTheFileWhereItWas(engine: TestEngine) throws {
        let pool = try makePool(bandwidth: "2MiB", engine: engine)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let bytes = pattern(8 << 20, seed: 3)
        try Data(bytes).write(to: URL(fileURLWithPath: pool.path("slow.bin")))
        let move = try pool.estuary(["move", pool.path("slow.bin"), "--to", "bulk", "--json"])
        let id = try #require(((try JSONSerialization.jsonObject(with: Data(move.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? Int))
        usleep(500_000)
        let cancel = try pool.estuary(["jobs", "cancel", pool.mountpoint, String(id)])
        #expect(cancel.status == 0, "\(cancel.output)")
        for _ in 0..<50 where (try jobsJSON(pool, id: Int64(id)).first?["state"] as? String) != "cancelled" { usleep(100_000) }
        #expect(try jobsJSON(pool, id: Int64(id)).first?["state"] as? String == "cancelled")
        #expect(siloFiles(pool, "slow.bin") == ["fast0"])
        #expect(try readAll(pool.path("slow.bin")) == bytes)
        #expect(stagingLeftovers(pool).isEmpty)
    }

    /// kill -9 at random points of moves, remount, let jobs resume: every byte is there and
    /// each file is whole on exactly one silo. ESTUARY_CRASH_ITERATIONS sets the count.
    @Test(arguments: TestEngine.allCases) func killDuringMovesLosesNothing(engine: TestEngine) throws {
        let iterations = Int(ProcessInfo.processInfo.environment["ESTUARY_CRASH_ITERATIONS"] ?? "") ?? 4
        let pool = try makePool(bandwidth: "16MiB", engine: engine)
        var rng = SystemRandomNumberGenerator()
        var model: [String: [UInt8]] = [:]
        try pool.mount()
        for i in 0..<6 {
            let name = "c\(i)"
            model[name] = pattern(Int.random(in: 1...(3 << 20), using: &rng), seed: UInt8(i))
            try Data(model[name]!).write(to: URL(fileURLWithPath: pool.path(name)))
        }
        for iteration in 0..<iterations {
            let target = iteration % 2 == 0 ? "bulk" : "fast"
            _ = try pool.estuary(["move"] + model.keys.sorted().map { pool.path($0) } + ["--to", target])
            usleep(UInt32.random(in: 20_000...400_000, using: &rng))
            kill(try #require(pool.daemonPid), SIGKILL)
            pool.forgetKilledDaemon()
            try pool.mount()
            for (name, bytes) in model { #expect(try readAll(pool.path(name)) == bytes, "\(name) after kill \(iteration)") }
        }
        #expect(try pool.estuary(["jobs", "watch", pool.mountpoint]).status == 0)
        for (name, bytes) in model {
            #expect(try readAll(pool.path(name)) == bytes)
            #expect(siloFiles(pool, name).count == 1, "\(name) is on \(siloFiles(pool, name))")
        }
        #expect(stagingLeftovers(pool).isEmpty)
        try pool.unmount()
    }
}

/// Integrity checks and draining a silo.
@Suite(.serialized)
struct VerifyAndDrainTests {
    @Test func verifyFindsADamagedExtent() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: "extent_size = \"64KiB\"")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let bytes = (0..<(300 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try Data(bytes).write(to: URL(fileURLWithPath: pool.path("data.bin")))
        #expect(try pool.estuary(["move", pool.path("data.bin"), "--to", "bulk", "--wait"]).status == 0)
        let ok = try pool.estuary(["verify", pool.path("data.bin")])
        #expect(ok.status == 0 && ok.stdout.contains("OK"), "\(ok.output)")
        // Damage one byte in the silo behind the daemon's back, keeping size and mtime.
        let backing = pool.siloPath("bulk0") + "/data.bin"
        var before = stat()
        stat(backing, &before)
        let fd = try Sys.open(backing, flags: O_WRONLY)
        _ = try [UInt8(0xff)].withUnsafeBytes { try Sys.pwrite(fd, $0.baseAddress!, 1, 200_000) }
        close(fd)
        var times = [before.st_atim, before.st_mtim]
        utimensat(AT_FDCWD, backing, &times, 0)
        let bad = try pool.estuary(["verify", pool.path("data.bin")])
        #expect(bad.status == 1, "\(bad.output)")
        #expect(bad.stdout.contains("MISMATCH") && bad.stdout.contains("1 extent(s) differ"), "\(bad.stdout)")
    }

    @Test func drainMovesEverythingOffAndTakesNoNewFiles() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("fast1", "fast"), ("bulk0", "bulk")])
        try pool.mount()
        defer { _ = try? pool.unmount() }
        for i in 0..<5 { try Fixtures.write(pool.siloPath("fast0") + "/d/f\(i)", String(repeating: "x", count: 1000 * i)) }
        _ = try pool.estuary(["scan", pool.mountpoint])
        let drain = try pool.estuary(["silo", "drain", pool.mountpoint, "fast0", "--wait"])
        #expect(drain.status == 0, "\(drain.output)")
        for i in 0..<5 {
            #expect(!FileManager.default.fileExists(atPath: pool.siloPath("fast0") + "/d/f\(i)"))
            #expect(FileManager.default.fileExists(atPath: pool.siloPath("fast1") + "/d/f\(i)"))
            #expect(try String(contentsOfFile: pool.path("d/f\(i)"), encoding: .utf8) == String(repeating: "x", count: 1000 * i))
        }
        try "new".write(toFile: pool.path("new.txt"), atomically: false, encoding: .utf8)
        #expect(!FileManager.default.fileExists(atPath: pool.siloPath("fast0") + "/new.txt"))
        #expect(try pool.estuary(["silo", "undrain", pool.mountpoint, "fast0"]).status == 0)
    }
}

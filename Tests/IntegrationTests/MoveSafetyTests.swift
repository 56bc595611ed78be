import Foundation
import Synchronization
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A move keeps everything about a file, not only its data: a destination that cannot take
/// the file's attributes fails the move, and the file stays whole where it was.
@Suite(.serialized)
struct MoveSafetyTests {
    private func jobs(_ pool: TestPool) throws -> [[String: Any]] {
        let out = try pool.estuary(["jobs", "list", pool.mountpoint, "--all", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    /// bulk0 is an ext4 with 1 KiB blocks, where a 3,000-byte tag does not fit (fast0, with
    /// 4 KiB blocks, holds it).
    @Test func aTagTheDestinationCannotHoldFailsTheMove() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        let image = pool.root + "/bulk.img"
        #expect(try Shell.run("/usr/bin/truncate", ["-s", "32M", image]).status == 0)
        let mkfs = try Shell.run("/usr/sbin/mkfs.ext4", ["-q", "-F", "-b", "1024", "-O", "^ea_inode", image])
        #expect(mkfs.status == 0, "\(mkfs.output)")
        let mounted = try Shell.run("/bin/mount", ["-o", "loop", image, pool.siloPath("bulk0")])
        try #require(mounted.status == 0, "\(mounted.output)")
        defer { _ = try? Shell.run("/bin/umount", ["-l", pool.siloPath("bulk0")]) }
        try pool.mount()
        defer { _ = try? pool.unmount() }

        let path = pool.path("tagged.bin")
        let data = Array((0..<100_000).map { UInt8(truncatingIfNeeded: $0) })
        try Data(data).write(to: URL(fileURLWithPath: path))
        let tag = [UInt8](repeating: UInt8(ascii: "t"), count: 3000)
        try Sys.setXattr(path: path, name: "user.notes", value: tag)
        let backing = pool.siloPath("fast0") + "/tagged.bin"
        #expect((backing.withCString { try? Sys.getXattr(AT_FDCWD, $0, "user.notes") }) == tag, "the source silo holds the tag")

        let move = try pool.estuary(["move", path, "--to", "bulk", "--wait"])
        #expect(move.status != 0, "the move must fail: \(move.output)")
        let job = try #require(try jobs(pool).first)
        #expect(job["state"] as? String == "failed", "\(job)")
        #expect((job["error"] as? String ?? "").contains("user.notes"), "\(job)")
        #expect(FileManager.default.fileExists(atPath: backing), "the file stays on fast0")
        #expect(!FileManager.default.fileExists(atPath: pool.siloPath("bulk0") + "/tagged.bin"))
        #expect((backing.withCString { try? Sys.getXattr(AT_FDCWD, $0, "user.notes") }) == tag)
        #expect(try Sys.readAll(try Sys.open(path, flags: O_RDONLY), limit: 1 << 20) == data)
    }

    /// The daemon's descriptors on files in the silos: the index's reader connections (and
    /// their files) come and go with load, and are not what a switch could leak.
    private func openDescriptors(_ pid: Int32, in silos: String) -> Int {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return -1 }
        return fds.filter { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)") else { return false }
            return target.hasPrefix(silos + "/") && !target.contains("/.estuary/")
        }.count
    }

    /// Other programs open and close the file by the hundred while it moves back and forth;
    /// a long-lived handle writes after each move. Each close is a RELEASE that may come while
    /// the move switches the handles to the new copy: the switch must neither touch a number
    /// that release closed (and the daemon reused) nor leave the writer on the deleted copy.
    @Test func handlesClosingDuringTheSwitchLoseNoWrites() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: "extent_size = \"1MiB\"")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let path = pool.path("busy.bin")
        var model = [UInt8](repeating: 0, count: 4 << 20)
        try Data(model).write(to: URL(fileURLWithPath: path))
        let writer = try Sys.open(path, flags: O_RDWR)
        defer { close(writer) }
        let daemon = try #require(pool.daemonPid)
        // A first move opens what the daemon keeps open for moves (the staging directories...).
        for tier in ["bulk", "fast"] { #expect(try pool.estuary(["move", path, "--to", tier, "--wait"]).status == 0) }
        let before = openDescriptors(daemon, in: pool.root + "/silos")
        #expect(before >= 1, "the writer's handle holds a descriptor on the file in a silo")

        let churn = HandleChurn(path)
        for round in 0..<12 {
            let move = try pool.estuary(["move", path, "--to", round % 2 == 0 ? "bulk" : "fast", "--wait"])
            #expect(move.status == 0, "move \(round): \(move.output)")
            let patch = [UInt8](repeating: UInt8(round + 1), count: 4096)
            let at = round * 300_000
            _ = try patch.withUnsafeBytes { try Sys.pwrite(writer, $0.baseAddress!, $0.count, Int64(at)) }
            model.replaceSubrange(at..<(at + 4096), with: patch)
            let fresh = try Sys.open(path, flags: O_RDONLY)
            let seen = try Sys.readAll(fresh, limit: 1 << 23)
            close(fresh)
            #expect(seen == model, "after move \(round), a fresh open must see the write made through the open handle")
        }
        churn.stop()
        let silo = pool.siloPath("fast0") + "/busy.bin"   // twelve moves: back on fast0
        #expect(try Sys.readAll(try Sys.open(silo, flags: O_RDONLY), limit: 1 << 23) == model)
        // Every handle but the writer's is closed: the daemon holds no descriptor a switch
        // made on a number that release had closed. The churn's last 1,500 closes reach the
        // daemon as RELEASEs through the kernel's background queue (20-30 ms for all here).
        // Twice in CI, 1,489 and then 833 stayed open: the PostgreSQL server, started by a
        // test running beside this one, had inherited the churn's descriptors and held them
        // (see PostgresPoolTests.theServerInheritsNoDescriptorOfTheTests).
        for _ in 0..<300 where openDescriptors(daemon, in: pool.root + "/silos") > before { usleep(100_000) }
        #expect(openDescriptors(daemon, in: pool.root + "/silos") <= before, "the daemon had \(before) descriptors, now \(openDescriptors(daemon, in: pool.root + "/silos"))")
    }

    /// git commits by writing `index.lock` and renaming it over `index`, while objectives move
    /// `index` between tiers. A rename over the file being moved that lands between the
    /// mover's last look at it and its switch must win: the mover may not put the replaced
    /// copy back under the name on the other silo (git then read an index from an older
    /// commit: "pathspec 'file2.txt' did not match any files").
    @Test func aNameReplacedDuringAMoveStaysReplaced() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let path = pool.path("index")
        let content: @Sendable (Int) -> Data = { generation in Data(String(repeating: "generation \(generation)\n", count: 4000).utf8) }
        try content(0).write(to: URL(fileURLWithPath: path))
        let stop = Atomic<Bool>(false), last = Atomic<Int>(0)
        let done = DispatchSemaphore(value: 0)
        let lock = pool.path("index.lock")
        Thread.detachNewThread {
            var generation = 0
            while !stop.load(ordering: .relaxed) {
                generation += 1
                guard (try? content(generation).write(to: URL(fileURLWithPath: lock))) != nil, rename(lock, path) == 0 else { break }
                last.store(generation, ordering: .relaxed)
                usleep(useconds_t.random(in: 0...8_000))
            }
            done.signal()
        }
        let until = Date().addingTimeInterval(6)
        var round = 0
        while Date() < until {
            _ = try pool.estuary(["move", path, "--to", round % 2 == 0 ? "bulk" : "fast", "--wait"])
            round += 1
        }
        stop.store(true, ordering: .relaxed)
        done.wait()
        let expected = content(last.load(ordering: .relaxed))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == expected, "after \(round) moves")
        // A stale copy left on the other silo would come back as the file at the next scan.
        let copies = ["fast0", "bulk0"].map { pool.siloPath($0) + "/index" }.filter { FileManager.default.fileExists(atPath: $0) }
        #expect(copies.count == 1, "copies of the name on the silos: \(copies.map { ($0, (try? String(contentsOfFile: $0, encoding: .utf8))?.prefix(16) ?? "") })")
        #expect(try pool.estuary(["scan", pool.mountpoint]).status == 0)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == expected, "after a scan")
    }
}

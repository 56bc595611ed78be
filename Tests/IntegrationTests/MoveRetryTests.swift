import Config
import Foundation
import Index
import Pool
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Moves that cannot succeed: refused up front when the file says so (hard links), backed off
/// and reported when the silo says so, tried again when something relevant changes; and a
/// finished move leaves the file's state settled.
@Suite(.serialized)
struct MoveRetryTests {
    private func eventually(_ seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if try condition() { return true }; usleep(100_000) }
        return false
    }

    private func json(_ result: Shell.Result) -> Any? { try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) }

    private func jobs(_ pool: TestPool) throws -> [[String: Any]] {
        json(try pool.estuary(["jobs", "list", pool.mountpoint, "--all", "--json"])) as? [[String: Any]] ?? []
    }

    /// After a change through the mount: a pass queues the move again. The change reaches the
    /// index in a group commit a few milliseconds later, so passes are asked for until then; the
    /// loop's own pass (the one due since the mount) may be the one that queues it.
    private func requeued(_ pool: TestPool) throws -> Bool {
        try eventually {
            let apply = try pool.estuary(["objectives", "apply", pool.mountpoint, "--json"])
            if (json(apply) as? [String: Any])?["queued"] as? Int == 1 { return true }
            return try jobs(pool).contains { $0["state"] as? String != "failed" }
        }
    }

    @Test func aHardLinkedFileIsRefusedBeforeQueuingByTheNameGiven() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try FileManager.default.createDirectory(atPath: pool.path("hl"), withIntermediateDirectories: true)
        try Fixtures.write(pool.path("hl/c"), "linked data")
        #expect(link(pool.path("hl/c"), pool.path("hl/a")) == 0)
        let move = try pool.estuary(["move", pool.path("hl/a"), "--to", "bulk", "--wait"])
        #expect(move.status == 1, "\(move.output)")
        #expect(move.stderr.contains(pool.path("hl/a")) && move.stderr.contains("hard link"), "\(move.output)")
        #expect(!move.output.contains("files 1/1") && !move.output.contains("hl/c"), "\(move.output)")
        #expect(try jobs(pool).isEmpty, "a job was queued")
        // In a tree, linked files are skipped with a word, the rest moves.
        try Fixtures.write(pool.path("hl/single"), "alone")
        let tree = try pool.estuary(["move", pool.path("hl"), "--recursive", "--to", "bulk", "--wait"])
        #expect(tree.status == 0 && tree.stdout.contains("queued 1 move(s)"), "\(tree.output)")
        #expect(tree.stderr.contains("skipped") && tree.stderr.contains("hard-linked"), "\(tree.output)")
    }

    @Test func aFailingMoveBacksOffAndIsTriedAgainWhenTheFileChanges() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: """
            reconcile_interval = 3600
            [tiers]
            order = ["fast", "bulk"]
            [[objective]]
            name = "data-to-bulk"
            where = 'name ~ "*.dat"'
            place = "bulk"
            [[objective]]
            name = "links-to-bulk"
            where = 'name ~ "*.lnk"'
            place = "bulk"
            """)
        // d/f.dat lives on fast0; on bulk0, d is a symlink out of the silo, so the copy has no
        // parent directory to go into: every attempt fails the same way.
        try Fixtures.write(pool.siloPath("fast0") + "/d/f.dat", "data")
        try FileManager.default.createDirectory(atPath: pool.root + "/outside", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: pool.siloPath("bulk0") + "/d", withDestinationPath: pool.root + "/outside")
        try Fixtures.write(pool.siloPath("fast0") + "/h/one.lnk", "linked")
        #expect(link(pool.siloPath("fast0") + "/h/one.lnk", pool.siloPath("fast0") + "/h/two.lnk") == 0)
        try pool.mount()
        defer { _ = try? pool.unmount() }

        // The pass at start queues the move; it fails.
        #expect(try eventually { try jobs(pool).contains { $0["state"] as? String == "failed" } })
        #expect(try jobs(pool).count == 1, "only d/f.dat was queued: the hard-linked files are never tried")
        for _ in 0..<3 {
            let apply = try pool.estuary(["objectives", "apply", pool.mountpoint, "--json"])
            let plan = try #require(json(apply) as? [String: Any], "\(apply.output)")
            #expect(plan["queued"] as? Int == 0, "a failed move was queued again: \(apply.stdout)")
            let failures = plan["failures"] as? [[String: Any]] ?? []
            let failed = failures.first { ($0["path"] as? String)?.hasSuffix("/d/f.dat") == true }
            #expect(failed?["attempts"] as? Int == 1 && failed?["retryAt"] != nil, "\(apply.stdout)")
            let linked = failures.first { ($0["path"] as? String)?.hasSuffix(".lnk") == true }
            #expect(linked != nil && linked?["retryAt"] == nil && (linked?["error"] as? String)?.contains("hard-linked") == true, "\(apply.stdout)")
        }
        #expect(try jobs(pool).count == 1)
        let check = try pool.estuary(["objectives", "check", pool.mountpoint])
        #expect(check.stdout.contains("failed move(s)") && check.stdout.contains("d/f.dat"), "\(check.output)")
        let status = try pool.estuary(["status", pool.mountpoint])
        #expect(status.stdout.contains("FAILED"), "\(status.output)")

        // The file changes: the move is tried again at once (and fails again).
        try Fixtures.write(pool.path("d/f.dat"), "new data")
        #expect(try requeued(pool), "the changed file's move was not tried again")
        #expect(try eventually { try jobs(pool).filter { $0["state"] as? String == "failed" }.count == 2 })
    }

    /// Five failures with nothing changed: the move is given up (no retry time) until the file
    /// changes. The failures are written into the jobs table before the mount, as five earlier
    /// passes would have left them.
    @Test(arguments: TestEngine.allCases) func aMoveThatKeepsFailingIsGivenUpUntilTheFileChanges(engine: TestEngine) throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: """
            reconcile_interval = 3600
            [tiers]
            order = ["fast", "bulk"]
            [[objective]]
            name = "data-to-bulk"
            where = 'name ~ "*.dat"'
            place = "bulk"
            """, engine: engine)
        try Fixtures.write(pool.siloPath("fast0") + "/g.dat", "data")
        let scan = try pool.estuary(["scan", pool.configPath])
        #expect(scan.status == 0, "\(scan.output)")
        // Through the Index API, on whichever engine keeps the pool's index.
        let index = try IndexStore(engine: PoolIndex.engine(try PoolConfigLoader.load(source: pool.configPath)))
        let file = try #require(try index.query { tx throws(IndexError) in try tx.entry(parent: 1, name: Array("g.dat".utf8)) })
        let bulk = try #require(try index.query { tx throws(IndexError) in try tx.silos() }.first { $0.name == "bulk0" }).id
        try index.write { tx throws(IndexError) in
            let now = Int64(Date().timeIntervalSince1970)
            for _ in 0..<5 {
                var job = JobRow(ino: file.ino, source: file.silo, destination: bulk, state: .failed, extentSize: 4 << 20,
                                 size: file.size, sourceMtime: file.mtimeNs, created: now)
                job.id = try tx.insertJob(job)
                job.error = "synthetic failure"
                try tx.updateJob(job)
            }
        }
        try pool.mount()
        defer { _ = try? pool.unmount() }

        let apply = try pool.estuary(["objectives", "apply", pool.mountpoint, "--json"])
        let plan = try #require(json(apply) as? [String: Any], "\(apply.output)")
        #expect(plan["queued"] as? Int == 0, "\(apply.stdout)")
        let failed = (plan["failures"] as? [[String: Any]])?.first
        #expect(failed?["attempts"] as? Int == 5 && failed?["retryAt"] == nil && failed?["error"] as? String == "synthetic failure",
                "\(apply.stdout)")
        #expect(try jobs(pool).allSatisfy { $0["state"] as? String == "failed" })
        let check = try pool.estuary(["objectives", "check", pool.mountpoint])
        let words = check.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        #expect(words.contains("5 attempt(s), given up until something changes: synthetic failure"), "\(check.output)")

        try Fixtures.write(pool.path("g.dat"), "changed data")
        let tried = try requeued(pool)
        let seen = "\(try jobs(pool)) \(try pool.estuary(["objectives", "check", pool.mountpoint, "--json"]).stdout)"
        #expect(tried, "the changed file's move was not tried again: \(seen)")
        #expect(eventually {
            (try? Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.tier", pool.path("g.dat")]))?.stdout == "bulk"
        })
    }

    @Test func theStateIsSettledWhenMoveWaitReturns() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        let fd = open(pool.siloPath("fast0") + "/big", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let chunk = [UInt8](repeating: 0x5a, count: 1 << 20)
        for _ in 0..<48 { _ = chunk.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } }
        close(fd)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        for (round, tier) in ["bulk", "fast", "bulk", "fast", "bulk", "fast"].enumerated() {
            let move = try pool.estuary(["move", pool.path("big"), "--to", tier, "--wait"])
            #expect(move.status == 0, "\(move.output)")
            let state = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.state", pool.path("big")])
            #expect(state.stdout == "resident", "round \(round): \(state.stdout)")
        }
    }
}

import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Conflicting changes made through two nodes at the same instant end in a state one POSIX
/// file system could reach by running them in some order (issue 16 part 3). The shared silo
/// decides: its rename and rmdir are atomic, and a node never makes again a directory the
/// index places on the silo (another node removed or moved it).
@Suite(.serialized)
struct TwoNodeRaceTests {
    private func names(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }
    private func exists(_ path: String) -> Bool { var s = stat(); return lstat(path, &s) == 0 }

    /// Runs `a` and `b` on two threads released together; their errnos (0: success).
    private func together(_ a: @escaping @Sendable () -> Int32, _ b: @escaping @Sendable () -> Int32) -> (Int32, Int32) {
        let results = NSLockedValue<[Int: Int32]>([:])
        let ready = DispatchSemaphore(value: 0), go = DispatchSemaphore(value: 0)
        let group = DispatchGroup()
        for (i, body) in [a, b].enumerated() {
            DispatchQueue.global().async(group: group) {
                ready.signal()
                go.wait()
                let r = body()
                results.withLock { $0[i] = r }
            }
        }
        ready.wait(); ready.wait()
        go.signal(); go.signal()
        group.wait()
        return results.withLock { ($0[0] ?? -1, $0[1] ?? -1) }
    }

    /// Waits until both mounts list the same names in `relative` (the other node heard of
    /// the last commits); the listing.
    private func settled(_ a: PoolNode, _ b: PoolNode, _ relative: String) -> ([String], [String]) {
        var la: [String] = [], lb: [String] = []
        for _ in 0..<300 {
            la = names(a.path(relative)); lb = names(b.path(relative))
            if la == lb { break }
            usleep(20_000)
        }
        return (la, lb)
    }

    @Test func conflictingChangesOnTwoNodesEndInAReachableState() throws {
        let pool = try TestPool(silos: [("fast0", "fast")], watch: false, engine: .postgresql)
        let a = PoolNode.first(of: pool), b = try PoolNode.another(of: pool)
        try a.start()
        try b.start()
        let am = a.mountpoint, bm = b.mountpoint
        let pa: @Sendable (String) -> String = { am + "/" + $0 }, pb: @Sendable (String) -> String = { bm + "/" + $0 }
        let rounds = 15
        for round in 0..<rounds {
            let base = "r\(round)"
            #expect(mkdir(pa(base), 0o755) == 0)
            for _ in 0..<300 where !exists(pb(base)) { usleep(10_000) }

            // The same new name on both nodes: one file, one EEXIST.
            let (ca, cb) = together({ let fd = open(pa(base + "/same"), O_CREAT | O_EXCL | O_WRONLY, 0o644); let e = errno; if fd >= 0 { close(fd); return 0 }; return e },
                                    { let fd = open(pb(base + "/same"), O_CREAT | O_EXCL | O_WRONLY, 0o644); let e = errno; if fd >= 0 { close(fd); return 0 }; return e })
            #expect([ca, cb].sorted() == [0, EEXIST], "round \(round): same-name creates gave \(ca), \(cb)")

            // Crossing directory renames: d1 into d2 on A, d2 into d1 on B. One succeeds, the
            // other fails (EINVAL: into its own subtree; ENOENT: its source moved away); never
            // a loop cut off from the root.
            #expect(mkdir(pa(base + "/d1"), 0o755) == 0 && mkdir(pa(base + "/d2"), 0o755) == 0)
            for _ in 0..<300 where !exists(pb(base + "/d2")) { usleep(10_000) }
            let (ra, rb) = together({ rename(pa(base + "/d1"), pa(base + "/d2/in")) == 0 ? 0 : errno },
                                    { rename(pb(base + "/d2"), pb(base + "/d1/in")) == 0 ? 0 : errno })
            let (la, lb) = settled(a, b, base)
            #expect(la == lb, "round \(round): the nodes disagree: \(la) vs \(lb)")
            let okA = ra == 0, okB = rb == 0
            #expect(okA != okB, "round \(round): crossing renames gave \(ra), \(rb)")
            if okA { #expect(la == ["d2", "same"] && names(pa(base + "/d2")) == ["in"], "round \(round): \(la)") }
            if okB { #expect(la == ["d1", "same"] && names(pa(base + "/d1")) == ["in"], "round \(round): \(la)") }

            // rmdir against a create inside: either the directory went first (the create
            // fails ENOENT) or the file went first (rmdir fails ENOTEMPTY); never both.
            #expect(mkdir(pa(base + "/gone"), 0o755) == 0)
            for _ in 0..<300 where !exists(pb(base + "/gone")) { usleep(10_000) }
            let (da, db) = together({ rmdir(pa(base + "/gone")) == 0 ? 0 : errno },
                                    { let fd = open(pb(base + "/gone/f"), O_CREAT | O_EXCL | O_WRONLY, 0o644); let e = errno; if fd >= 0 { close(fd); return 0 }; return e })
            #expect((da == 0 && db == ENOENT) || (da == ENOTEMPTY && db == 0) || (da == EEXIST && db == 0),
                    "round \(round): rmdir gave \(da), the create inside gave \(db)")
            let (ga, gb) = settled(a, b, base)
            #expect(ga == gb)
            #expect(ga.contains("gone") == (db == 0), "round \(round): \(ga) after rmdir \(da), create \(db)")
        }
        // Nothing cut off: every row of the index reaches the root.
        let server = try PostgresServer.get(), database = try #require(pool.database)
        let orphans = try server.sql("""
            WITH RECURSIVE reach(ino) AS (SELECT 1::bigint UNION SELECT e.ino FROM entries e JOIN reach r ON e.parent = r.ino AND e.ino <> 1)
            SELECT count(*) FROM entries WHERE ino NOT IN (SELECT ino FROM reach)
            """, database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(orphans == "0", "index rows cut off from the root: \(orphans)")
        a.stop(); b.stop()
    }
    /// link against unlink of its source, and rmdir against a mkdir inside, through two
    /// nodes at once: link then unlink leaves the new name with one link and the bytes;
    /// unlink then link leaves neither (ENOENT). The directory either goes first (mkdir
    /// ENOENT) or holds the new one (rmdir ENOTEMPTY). The index agrees with the silo after.
    @Test func linkAgainstUnlinkAndRmdirAgainstMkdirEndInAReachableState() throws {
        let pool = try TestPool(silos: [("fast0", "fast")], watch: false, engine: .postgresql)
        let a = PoolNode.first(of: pool), b = try PoolNode.another(of: pool)
        try a.start()
        try b.start()
        let am = a.mountpoint, bm = b.mountpoint
        let pa: @Sendable (String) -> String = { am + "/" + $0 }, pb: @Sendable (String) -> String = { bm + "/" + $0 }
        let rounds = 15
        var outcomes: [String: Int] = [:]
        for round in 0..<rounds {
            let base = "l\(round)"
            #expect(mkdir(pa(base), 0o755) == 0)
            try Fixtures.write(pa(base + "/f"), "round \(round)")
            for _ in 0..<300 where !exists(pb(base + "/f")) { usleep(10_000) }

            // link(f, g) on A against unlink(f) on B.
            let (la, ub) = together({ link(pa(base + "/f"), pa(base + "/g")) == 0 ? 0 : errno },
                                    { unlink(pb(base + "/f")) == 0 ? 0 : errno })
            outcomes["link \(la) unlink \(ub)", default: 0] += 1
            #expect(ub == 0, "round \(round): unlink gave \(ub)")
            #expect(la == 0 || la == ENOENT, "round \(round): link gave \(la)")
            let (na, nb) = settled(a, b, base)
            #expect(na == nb, "round \(round): the nodes disagree: \(na) vs \(nb)")
            #expect(na == (la == 0 ? ["g"] : []), "round \(round): link \(la), unlink \(ub) left \(na)")
            if la == 0 {
                for (node, path) in [("A", pa(base + "/g")), ("B", pb(base + "/g"))] {
                    var s = stat()
                    // The other node hears of the link count once the unlink's batch committed.
                    for _ in 0..<300 where lstat(path, &s) == 0 && s.st_nlink != 1 { usleep(10_000) }
                    #expect(lstat(path, &s) == 0 && s.st_nlink == 1, "round \(round): \(node) shows g with \(s.st_nlink) links")
                    #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "round \(round)", "round \(round): g's bytes through \(node)")
                }
                var s = stat()
                #expect(lstat(pool.siloPath("fast0") + "/" + base + "/g", &s) == 0 && s.st_nlink == 1, "round \(round): g in the silo")
            }

            // rmdir on A against mkdir inside on B.
            #expect(mkdir(pa(base + "/gone"), 0o755) == 0)
            for _ in 0..<300 where !exists(pb(base + "/gone")) { usleep(10_000) }
            let (ra, mb) = together({ rmdir(pa(base + "/gone")) == 0 ? 0 : errno },
                                    { mkdir(pb(base + "/gone/in"), 0o755) == 0 ? 0 : errno })
            outcomes["rmdir \(ra) mkdir \(mb)", default: 0] += 1
            #expect((ra == 0 && mb == ENOENT) || (ra == ENOTEMPTY && mb == 0) || (ra == EEXIST && mb == 0),
                    "round \(round): rmdir gave \(ra), the mkdir inside gave \(mb)")
            let (ga, gb) = settled(a, b, base)
            #expect(ga == gb)
            #expect(ga.contains("gone") == (mb == 0), "round \(round): \(ga) after rmdir \(ra), mkdir \(mb)")
            if mb == 0 {
                let (ia, ib) = settled(a, b, base + "/gone")
                #expect(ia == ["in"] && ib == ["in"], "round \(round): inside: \(ia) vs \(ib)")
                var s = stat()
                #expect(lstat(pa(base + "/gone"), &s) == 0 && s.st_nlink == 3, "round \(round): gone has \(s.st_nlink) links through A")
            }
        }
        print("link/unlink and rmdir/mkdir races over \(rounds) rounds: \(outcomes.sorted { $0.key < $1.key })")
        a.stop(); b.stop()
        // The index names what the silo holds: nothing for a rescan to add or remove.
        let fsck = try pool.estuary(["fsck", pool.configPath, "--json"])
        let report = fsck.output.data(using: .utf8).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        #expect(report?["added"] as? Int == 0 && report?["removed"] as? Int == 0, "fsck: \(fsck.output)")
        // And the link counts the index keeps are the silo's.
        let server = try PostgresServer.get(), database = try #require(pool.database)
        let wrong = try server.sql("""
            SELECT count(*) FROM entries e WHERE e.kind = 2 AND e.nlink <> 2 + (SELECT count(*) FROM entries c WHERE c.parent = e.ino AND c.kind = 2)
            """, database: database).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(wrong == "0", "directories whose link count is not 2 + their subdirectories: \(wrong)")
    }
}

import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A first scan killed with SIGKILL wherever it is (merging listings, building the name-search
/// indexes, recording counts) leaves an index the next scan completes: nothing is lost, the
/// name searches answer, fsck finds nothing to repair.
@Suite(.serialized)
struct ScanCrashTests {
    /// Directories merged from three silos, a file in two of them, tags: the fresh-directory
    /// path, the merge path and the shadows all have work when the kill lands.
    private func populate(_ pool: TestPool) throws {
        for (k, silo) in pool.silos.enumerated() {
            for d in 0..<12 {
                for f in 0..<150 { try Fixtures.write(pool.siloPath(silo.name) + "/d\(d)/s\(k)-f\(f)", "\(d)/\(f)") }
            }
        }
        try Fixtures.write(pool.siloPath("fast0") + "/d0/both", "newer", mtime: 2_000_000_000)
        try Fixtures.write(pool.siloPath("bulk0") + "/d0/both", "older", mtime: 1_000_000_000)
        try Fixtures.setXattr(pool.siloPath("bulk1") + "/d3/s2-f7", "user.project", "apollo")
    }

    @Test func aFirstScanKilledAnywhereLosesNothing() throws {
        let pool = try TestPool(watch: false)
        try populate(pool)
        let want = TreeSnapshot.expectedMerge(try pool.silos.map { try TreeSnapshot.take(pool.siloPath($0.name), skipReserved: true) })
        // Kill points spread over the first half of the time a whole first scan (with the
        // process start) takes here; where each one lands (opening, merging, building the
        // name-search indexes, after the end) changes nothing of what must hold.
        let started = Date()
        #expect(try pool.estuary(["scan", pool.configPath]).status == 0)
        let whole = Date().timeIntervalSince(started)
        for delay in (0..<8).map({ useconds_t(whole * 1e6 * Double($0) / 14) }) {
            try? FileManager.default.removeItem(atPath: pool.root + "/state")
            let scan = Process()
            scan.executableURL = URL(fileURLWithPath: Shell.estuary)
            scan.arguments = ["scan", pool.configPath]
            scan.standardOutput = FileHandle.nullDevice
            scan.standardError = FileHandle.nullDevice
            try scan.run()
            usleep(delay)
            kill(scan.processIdentifier, SIGKILL)
            scan.waitUntilExit()

            let again = try pool.estuary(["scan", pool.configPath])
            #expect(again.status == 0, "after a kill at \(delay) µs: \(again.output)")
            #expect(try pool.estuary(["fsck", pool.configPath]).status == 0, "after a kill at \(delay) µs")
            let named = try pool.estuary(["find", pool.configPath, "--root", "/", "--where", "name ~ \"s1-f14\""])
            #expect(named.stdout.split(separator: "\n").count == 12, "after a kill at \(delay) µs: \(named.output)")
            let tagged = try pool.estuary(["find", pool.configPath, "--root", "/", "--tag", "project=apollo"])
            #expect(tagged.stdout.contains("d3/s2-f7"), "after a kill at \(delay) µs: \(tagged.output)")

            try pool.mount()
            let seen = try TreeSnapshot.take(pool.mountpoint)
            #expect(Set(seen.keys) == Set(want.keys), "after a kill at \(delay) µs")
            for (path, entry) in want { #expect(seen[path]?.matches(entry) == true, "after a kill at \(delay) µs: \(displayName(path))") }
            #expect(try String(contentsOfFile: pool.path("d0/both"), encoding: .utf8) == "newer")
            #expect(try pool.unmount() == 0)
        }
    }
}

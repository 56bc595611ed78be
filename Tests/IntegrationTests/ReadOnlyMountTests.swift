import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `-o ro`: the pool reads as usual and nothing writes to any silo, neither the kernel (writes
/// through the mount) nor the daemon (moves, markers, the reconcile loop).
@Suite(.serialized)
struct ReadOnlyMountTests {
    /// An objective that a read-write mount would act on at once: old logs belong on bulk.
    private let rules = """
    [tiers]
    order = ["fast", "bulk"]

    [[objective]]
    name = "cold"
    where = "mtime > 30d"
    place = "bulk"
    """

    private func snapshot(_ pool: TestPool) throws -> [String: [[UInt8]: SeenEntry]] {
        var result: [String: [[UInt8]: SeenEntry]] = [:]
        for silo in pool.silos { result[silo.name] = try TreeSnapshot.take(pool.siloPath(silo.name)) }
        return result
    }

    private func differences(_ a: [String: [[UInt8]: SeenEntry]], _ b: [String: [[UInt8]: SeenEntry]]) -> [String] {
        var out: [String] = []
        for (silo, before) in a {
            let after = b[silo] ?? [:]
            for path in Set(before.keys).union(after.keys) where before[path] != after[path] {
                out.append("\(silo)/\(displayName(path)): \(before[path].map(\.description) ?? "absent") -> \(after[path].map(\.description) ?? "absent")")
            }
        }
        return out.sorted()
    }

    @Test(arguments: [false, true])
    func readOnlyMountLeavesEverySiloAsItWas(mountedBefore: Bool) throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: rules)
        try Fixtures.write(pool.siloPath("bulk0") + "/data/a.bin", "aaaa")
        if mountedBefore {
            // A pool known to its index, with markers, which the read-only mount still checks.
            try pool.mount()
            #expect(try pool.unmount() == 0)
        }
        // Added behind the pool's back, so a read-write mount's objective would move it.
        try Fixtures.write(pool.siloPath("fast0") + "/logs/old.log", "old", mtime: Int(time(nil)) - 60 * 86_400)
        let before = try snapshot(pool)

        try pool.mount(options: ["-o", "ro"])
        if mountedBefore {
            // A scan reads the silos and writes the index only.
            let scan = try pool.estuary(["scan", pool.mountpoint])
            #expect(scan.status == 0, "\(scan.output)")
        }
        #expect(try String(contentsOfFile: pool.path("logs/old.log"), encoding: .utf8) == "old")
        #expect(try String(contentsOfFile: pool.path("data/a.bin"), encoding: .utf8) == "aaaa")

        let move = try pool.estuary(["move", pool.path("data/a.bin"), "--to", "fast"])
        #expect(move.status != 0)
        #expect(move.output.contains("pool 'test' is mounted read-only (-o ro)"), "\(move.output)")
        let drain = try pool.estuary(["silo", "drain", pool.mountpoint, "bulk0"])
        #expect(drain.status != 0)
        #expect(drain.output.contains("mounted read-only"), "\(drain.output)")
        let pin = try Shell.run("/usr/bin/setfattr", ["-n", "user.estuary.pin", "-v", "fast", pool.path("data/a.bin")])
        #expect(pin.status != 0 && pin.stderr.contains("Read-only file system"), "\(pin.output)")
        #expect(open(pool.path("new.txt"), O_CREAT | O_WRONLY, 0o644) == -1 && errno == EROFS)
        // The plan is still there to read; nothing acts on it.
        let check = try pool.estuary(["objectives", "check", pool.mountpoint])
        #expect(check.status == 0 || check.status == 1, "\(check.output)")
        let jobs = try pool.estuary(["jobs", "list", pool.mountpoint, "--all", "--json"])
        #expect(jobs.status == 0 && !jobs.stdout.contains("\"queued\"") && !jobs.stdout.contains("\"running\""), "\(jobs.output)")
        #expect(try pool.unmount() == 0)

        let after = try snapshot(pool)
        let changed = differences(before, after)
        #expect(changed.isEmpty, "\(changed.prefix(10))")
    }
}

import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Objectives through the real mount: files converge to the tiers their rules name, pins win,
/// directory objectives place new files, watermarks hold, nothing ping-pongs, reload is safe.
@Suite(.serialized)
struct ObjectiveTests {
    private func tier(_ path: String) -> String {
        (try? Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.tier", path]))?.stdout ?? "?"
    }

    private func eventually(_ seconds: Double = 20, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if condition() { return true }; usleep(200_000) }
        return false
    }

    private let rules = """
    hold_down = 3600
    reconcile_interval = 2

    [tiers]
    order = ["fast", "bulk"]

    [[objective]]
    name = "apollo"
    where = 'tag.project == "apollo"'
    place = "fast"

    [[objective]]
    name = "cold"
    where = "mtime > 30d"
    place = "bulk"
    """

    @Test func filesConvergeAndPinsWin() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: rules)
        try Fixtures.write(pool.siloPath("bulk0") + "/p/a.dat", "apollo data")
        try Sys.setXattr(path: pool.siloPath("bulk0") + "/p/a.dat", name: "user.project", value: Array("apollo".utf8))
        try Fixtures.write(pool.siloPath("fast0") + "/old.log", "old", mtime: Int(time(nil)) - 60 * 86_400)
        try Fixtures.write(pool.siloPath("fast0") + "/older.log", "older", mtime: Int(time(nil)) - 90 * 86_400)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(eventually { tier(pool.path("p/a.dat")) == "fast" && tier(pool.path("old.log")) == "bulk" })
        #expect(try String(contentsOfFile: pool.path("p/a.dat"), encoding: .utf8) == "apollo data")
        let check = try pool.estuary(["objectives", "check", pool.mountpoint, "--json"])
        #expect(check.stdout.contains("\"rule\" : \"apollo\""), "\(check.stdout)")
        // A pin outranks the objectives.
        #expect(try pool.estuary(["pin", pool.path("older.log"), "--tier", "fast"]).status == 0)
        usleep(6_000_000)
        #expect(tier(pool.path("older.log")) == "fast")
        let explain = try pool.estuary(["objectives", "explain", pool.path("older.log")])
        #expect(explain.stdout.contains("decided by pin"), "\(explain.stdout)")
        let status = try pool.estuary(["status", pool.mountpoint])
        #expect(status.stdout.contains("OBJECTIVE"), "\(status.stdout)")
    }

    @Test func directoryObjectivesPlaceNewFilesAndBadOnesAreRefused() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: rules)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try FileManager.default.createDirectory(atPath: pool.path("logs"), withIntermediateDirectories: true)
        let set = try Shell.run("/usr/bin/setfattr", ["-n", "user.estuary.objective", "-v", "place bulk where name ~ \"*.log\"", pool.path("logs")])
        #expect(set.status == 0, "\(set.output)")
        try "line".write(toFile: pool.path("logs/today.log"), atomically: false, encoding: .utf8)
        try "other".write(toFile: pool.path("logs/readme.txt"), atomically: false, encoding: .utf8)
        #expect(tier(pool.path("logs/today.log")) == "bulk", "created where the directory objective says")
        #expect(tier(pool.path("logs/readme.txt")) == "fast")
        let bad = try Shell.run("/usr/bin/setfattr", ["-n", "user.estuary.objective", "-v", "place bulk where size >", pool.path("logs")])
        #expect(bad.status != 0)
        let value = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.objective", pool.path("logs")])
        #expect(value.stdout == "place bulk where name ~ \"*.log\"")
    }

    @Test func watermarksPushColdDataDownAndKeepNewDataOut() throws {
        // The silos share one disk far above 1% used, so fast is always over its high mark.
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")],
                                extraConfig: "reconcile_interval = 2\n[tiers]\norder = [\"fast\", \"bulk\"]\n[tiers.fast]\nhigh = 2\nlow = 1")
        try Fixtures.write(pool.siloPath("fast0") + "/cold.bin", "cold")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(eventually { tier(pool.path("cold.bin")) == "bulk" })
        try "new".write(toFile: pool.path("new.bin"), atomically: false, encoding: .utf8)
        #expect(tier(pool.path("new.bin")) == "bulk", "a tier over its high mark takes no new data")
    }

    @Test func noPingPongUnderAlternatingHeat() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: """
            heat_half_life = 1
            hold_down = 3600
            reconcile_interval = 1
            [tiers]
            order = ["fast", "bulk"]
            [[objective]]
            name = "hot"
            where = "heat > 20"
            place = "fast"
            [[objective]]
            name = "rest"
            where = "true"
            place = "bulk"
            """)
        try Fixtures.write(pool.siloPath("bulk0") + "/f.bin", String(repeating: "x", count: 100_000))
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let fd = try Sys.open(pool.path("f.bin"), flags: O_RDONLY | 0o40000)   // O_DIRECT: every read reaches the daemon
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<200 { _ = try? buffer.withUnsafeMutableBytes { try Sys.pread(fd, $0.baseAddress!, 4096, 0) } }
        close(fd)
        #expect(eventually { tier(pool.path("f.bin")) == "fast" })
        usleep(5_000_000)   // heat decays to nothing; the rules now say bulk
        #expect(tier(pool.path("f.bin")) == "fast", "moved back within the hold-down")
        let check = try pool.estuary(["objectives", "check", pool.mountpoint, "--json"])
        #expect(check.stdout.contains("\"heldDown\" : 1"), "\(check.stdout)")
    }

    @Test func reloadKeepsTheRunningConfigWhenTheNewOneIsBad() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: rules)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let good = try String(contentsOfFile: pool.configPath, encoding: .utf8)
        try (good + "\n[[objective]]\nname = \"broken\"\nwhere = \"size > \"\nplace = \"bulk\"\n").write(toFile: pool.configPath, atomically: true, encoding: .utf8)
        let refused = try pool.estuary(["reload", pool.mountpoint])
        #expect(refused.status == 1 && refused.stderr.contains("objective 'broken'"), "\(refused.output)")
        try (good + "\n[[objective]]\nname = \"big\"\nwhere = \"size > 1M\"\nplace = \"bulk\"\n").write(toFile: pool.configPath, atomically: true, encoding: .utf8)
        #expect(try pool.estuary(["reload", pool.mountpoint]).status == 0)
        kill(try #require(pool.daemonPid), SIGHUP)
        usleep(300_000)
        #expect(pool.isMounted, "SIGHUP reloads, it does not stop the daemon")
        let check = try pool.estuary(["objectives", "check", pool.mountpoint])
        #expect(check.status == 0)
    }
}

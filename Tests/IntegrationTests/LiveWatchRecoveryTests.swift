import Foundation
import Synchronization
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Live assimilation when events are lost or cannot be had (issue 18): a queue overflow, a
/// daemon killed or stopped with changes behind the mount, a silo remounted, and silos
/// fanotify cannot follow (periodic sweeps). Each ends with the namespace equal to the silos.
extension LiveWatchTests {
@Suite
struct Recovery: LiveWatchChecks {
    /// A queue far smaller than the changes made: the overflow is noticed, the silos are
    /// rescanned whole, and the namespace ends equal to the silos. The daemon asks for an
    /// unlimited queue; `ESTUARY_FANOTIFY_BOUNDED` makes it take the kernel's bounded one, as
    /// it does where the kernel refuses the unlimited one.
    @Test func aQueueOverflowEndsInACorrectNamespace() throws {
        let sysctl = "/proc/sys/fs/fanotify/max_queued_events"
        let saved = try String(contentsOfFile: sysctl, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let pool = try TestPool()
        // The queue size is taken when the daemon creates its group, at mount.
        try "16\n".write(toFile: sysctl, atomically: false, encoding: .utf8)
        do { try pool.mount(environment: ["ESTUARY_FANOTIFY_BOUNDED": "1"]) }
        catch { try? (saved + "\n").write(toFile: sysctl, atomically: false, encoding: .utf8); throw error }
        try (saved + "\n").write(toFile: sysctl, atomically: false, encoding: .utf8)
        defer { _ = try? pool.unmount() }
        try makeChangesAndExpectALossRecovered(pool, "through an overflowing queue")
    }

    /// With the unlimited queue the reader's own bound on changes waiting is what can be
    /// exceeded (here lowered to 16 by a test knob): the waiting changes are dropped for a
    /// full rescan, as after a kernel overflow, and the namespace ends equal to the silos.
    @Test func tooManyChangesWaitingEndInACorrectNamespace() throws {
        let pool = try TestPool()
        try pool.mount(environment: ["ESTUARY_WATCH_PENDING_LIMIT": "16"])
        defer { _ = try? pool.unmount() }
        try makeChangesAndExpectALossRecovered(pool, "past the limit of changes waiting")
    }

    private func makeChangesAndExpectALossRecovered(_ pool: TestPool, _ how: String) throws {
        let silo = pool.siloPath("bulk1")
        // Plain syscalls, as fast as they go: the watcher cannot drain 16 slots between them.
        for d in 0..<20 {
            #expect(mkdir(silo + "/o\(d)", 0o755) == 0)
            for f in 0..<200 { let fd = open(silo + "/o\(d)/f\(f)", O_WRONLY | O_CREAT, 0o644); close(fd) }
        }
        for f in 0..<50 { #expect(unlink(silo + "/o0/f\(f)") == 0) }
        waitFor("4,000 creates and 50 deletes \(how)", patience: 30) { namespaceMatches(pool) }
        #expect(namespaceMatches(pool), "\(differences(pool))")
        let status = try pool.estuary(["status", pool.mountpoint])
        #expect(status.stdout.contains("full rescans after lost events"), "\(status.output)")
    }

    /// Killed with changes behind the mount not yet applied, then mounted again: the remount's
    /// rescan finds them, and the namespace equals the silos.
    @Test func aKilledDaemonRemountedShowsTheSilos() throws {
        let pool = try TestPool()
        try pool.mount()
        let silo = pool.siloPath("fast0")
        try FileManager.default.createDirectory(atPath: silo + "/k", withIntermediateDirectories: true)
        for i in 0..<300 { try Fixtures.write(silo + "/k/f\(i)", "\(i)") }
        kill(try #require(pool.daemonPid), SIGKILL)
        pool.forgetKilledDaemon()
        // More changes while no daemon runs.
        for i in 0..<100 { #expect(unlink(silo + "/k/f\(i)") == 0) }
        try Fixtures.write(silo + "/k/late", "late")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(namespaceMatches(pool), "\(differences(pool))")
    }

    /// Changes made while the pool was cleanly unmounted: the mount's catch-up sweep finds
    /// the directories whose times differ from the index and lists them again, no scan needed.
    @Test func changesWhileUnmountedShowAfterTheNextMount() throws {
        let pool = try TestPool()
        try FileManager.default.createDirectory(atPath: pool.siloPath("bulk0") + "/d/e", withIntermediateDirectories: true)
        try Fixtures.write(pool.siloPath("bulk0") + "/d/e/old", "old")
        try Fixtures.write(pool.siloPath("fast0") + "/keep", "keep")
        try pool.mount()
        #expect(read(pool, "d/e/old") == "old")
        try pool.unmount()
        #expect(unlink(pool.siloPath("bulk0") + "/d/e/old") == 0)
        try Fixtures.write(pool.siloPath("bulk0") + "/d/e/new", "new")
        try FileManager.default.createDirectory(atPath: pool.siloPath("bulk1") + "/fresh/tree", withIntermediateDirectories: true)
        try Fixtures.write(pool.siloPath("bulk1") + "/fresh/tree/leaf", "leaf")
        #expect(rename(pool.siloPath("fast0") + "/keep", pool.siloPath("fast0") + "/kept") == 0)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        waitFor("changes made while unmounted") { namespaceMatches(pool) }
        #expect(namespaceMatches(pool), "\(differences(pool))")
    }

    /// A directory in several silos takes its attributes from the first in the configuration
    /// holding it; the catch-up sweep after a mount relists the copies in the other silos (the
    /// index row is not theirs), and must leave the attributes to the first.
    @Test func theCatchUpSweepKeepsMergedDirectoriesAttributes() throws {
        let pool = try TestPool()
        let layout: [(silo: String, dir: String, mode: Int)] = [
            ("fast0", "a", 0o750), ("bulk0", "a", 0o705), ("bulk1", "a", 0o700),
            ("fast0", "a/b", 0o751), ("bulk1", "a/b", 0o701),
            ("bulk0", "c", 0o752), ("bulk1", "c", 0o702),
            ("bulk0", "c/d", 0o753), ("bulk1", "c/d", 0o703),
            ("fast0", "", 0o754), ("bulk0", "", 0o704), ("bulk1", "", 0o774),
        ]
        for (n, entry) in layout.enumerated() {
            let dir = entry.dir.isEmpty ? pool.siloPath(entry.silo) : pool.siloPath(entry.silo) + "/" + entry.dir
            if !entry.dir.isEmpty { #expect(mkdir(dir, 0o755) == 0) }
            try Fixtures.write(dir + "/in-" + entry.silo, entry.silo)
            #expect(chmod(dir, mode_t(entry.mode)) == 0)
            var times = [timespec(tv_sec: 1_000_000 + n, tv_nsec: 0), timespec(tv_sec: 1_000_000 + n, tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, dir, &times, 0) == 0)
        }
        try pool.mount()
        #expect(namespaceMatches(pool), "\(differences(pool))")
        try pool.unmount()
        // Changes in the later silos' copies while unmounted: the sweep relists them.
        for (silo, dir) in [("bulk0", "a"), ("bulk1", "a"), ("bulk1", "a/b"), ("bulk1", "c"), ("bulk1", "c/d"), ("bulk1", "")] {
            try Fixtures.write(pool.siloPath(silo) + "/" + dir + "/late-" + silo, "late")
        }
        try pool.mount()
        defer { _ = try? pool.unmount() }
        waitFor("files added while unmounted") { read(pool, "c/d/late-bulk1") == "late" && read(pool, "a/late-bulk0") == "late" }
        #expect(namespaceMatches(pool), "\(differences(pool))")
        // The root's times change when the pool makes its `.estuary` folders: its mode is checked.
        var root = stat()
        #expect(stat(pool.mountpoint, &root) == 0)
        #expect(root.st_mode & 0o7777 == 0o754, "the root's mode \(String(root.st_mode & 0o7777, radix: 8))")
    }

    /// A silo on a file system fanotify cannot follow (here FUSE: another Estuary pool's
    /// mount) falls back to periodic sweeps at `[pool] rescan_interval`.
    @Test func aSiloFanotifyCannotFollowIsRescannedPeriodically() throws {
        let lower = try TestPool(silos: [("disk", "bulk")])
        try lower.mount()
        defer { _ = try? lower.unmount() }
        let siloDir = lower.path("upper-silo")
        #expect(mkdir(siloDir, 0o755) == 0)
        let upper = try TestPool(silos: [("onfuse", "bulk")], extraConfig: "rescan_interval = 1")
        let toml = try String(contentsOfFile: upper.configPath, encoding: .utf8)
        try toml.replacingOccurrences(of: upper.siloPath("onfuse"), with: siloDir).write(toFile: upper.configPath, atomically: true, encoding: .utf8)
        try upper.mount()
        defer { _ = try? upper.unmount() }
        let status = try upper.estuary(["status", upper.mountpoint])
        #expect(status.stdout.contains("onfuse: rescanned every 1 s"), "\(status.output)")
        #expect(status.stdout.contains("behind by up to"), "\(status.output)")
        let onfuse = try #require(try watchStatus(upper)["onfuse"])
        #expect(onfuse["watchBehind"] is NSNumber && onfuse["watchWaiting"] == nil, "a swept silo is behind since its last sweep: \(onfuse)")
        try Fixtures.write(siloDir + "/p", "periodic")
        waitFor("a create found by a periodic sweep", patience: 10) { read(upper, "p") == "periodic" }
        try FileManager.default.createDirectory(atPath: siloDir + "/x/y", withIntermediateDirectories: true)
        try Fixtures.write(siloDir + "/x/y/z", "deep")
        waitFor("a new tree found by a periodic sweep", patience: 10) { read(upper, "x/y/z") == "deep" }
        #expect(unlink(siloDir + "/p") == 0)
        waitFor("a delete found by a periodic sweep", patience: 10) { statMount(upper, "p") == nil }
    }

    /// A silo whose file system is unmounted and mounted again (a new superblock, without the
    /// old one's fanotify mark): the health check takes it offline and back, and it is marked
    /// again, so changes on the new mount show without a scan.
    @Test func aRemountedSiloIsFollowedAgain() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        let silo = pool.siloPath("bulk0")
        try Shell.run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", silo])
        defer { _ = try? Shell.run("/bin/umount", ["-l", silo]) }
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try Fixtures.write(silo + "/before", "before")
        waitFor("a create on the first mount") { read(pool, "before") == "before" }
        let marker = try String(contentsOfFile: silo + "/.estuary/silo", encoding: .utf8)
        try Shell.run("/bin/umount", ["-l", silo])
        try Shell.run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", silo])
        try FileManager.default.createDirectory(atPath: silo + "/.estuary", withIntermediateDirectories: true)
        try marker.write(toFile: silo + "/.estuary/silo", atomically: false, encoding: .utf8)
        // The rescan of the returning silo finds the new mount empty.
        waitFor("the remounted silo rescanned", patience: 15) { statMount(pool, "before") == nil }
        try Fixtures.write(silo + "/after", "after")
        waitFor("a create on the new mount") { read(pool, "after") == "after" }
    }
}
}

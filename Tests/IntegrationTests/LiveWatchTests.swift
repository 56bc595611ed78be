import Foundation
import Synchronization
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Live assimilation (issue 18): changes made directly in a silo directory, behind the mount,
/// show through the mount without `estuary scan` (see `LiveWatchChecks` for how they are
/// waited for). Lost events, restarts and silos fanotify cannot follow: `Recovery`.
/// One serialized suite around both: the overflow test shrinks the kernel's fanotify queue
/// for the whole machine while it mounts, which no other daemon may start under.
@Suite(.serialized)
struct LiveWatchTests {}

extension LiveWatchTests {
@Suite
struct Changes: LiveWatchChecks {
    private final class ClientState: Sendable {
        let stop = Atomic<Bool>(false)
        let errors = Atomic<Int>(0)
    }

    @Test func changesInASiloShowThroughTheMountWithoutAScan() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let silo = pool.siloPath("bulk0")
        // Looked up (and absent) first: the kernel now caches a negative entry it must drop.
        #expect(statMount(pool, "a.txt") == nil)

        try Fixtures.write(silo + "/a.txt", "hello")
        waitFor("a created file") { read(pool, "a.txt") == "hello" }

        let fd = open(silo + "/a.txt", O_WRONLY | O_APPEND)
        _ = write(fd, ", world", 7)
        close(fd)
        waitFor("an appended write") { read(pool, "a.txt") == "hello, world" }

        #expect(truncate(silo + "/a.txt", 4) == 0)
        waitFor("a truncate") { statMount(pool, "a.txt")?.st_size == 4 && read(pool, "a.txt") == "hell" }

        #expect(chmod(silo + "/a.txt", 0o600) == 0)
        waitFor("a chmod") { (statMount(pool, "a.txt")?.st_mode ?? 0) & 0o7777 == 0o600 }

        #expect(chown(silo + "/a.txt", 1234, 5678) == 0)
        waitFor("a chown") { statMount(pool, "a.txt").map { $0.st_uid == 1234 && $0.st_gid == 5678 } ?? false }

        try Fixtures.setXattr(silo + "/a.txt", "user.colour", "blue")
        waitFor("a setfattr") { xattr(pool, "a.txt", "user.colour") == "blue" }

        #expect(rename(silo + "/a.txt", silo + "/b.txt") == 0)
        waitFor("a rename inside a directory") { statMount(pool, "a.txt") == nil && read(pool, "b.txt") == "hell" }

        #expect(mkdir(silo + "/sub", 0o755) == 0)
        waitFor("a mkdir") { statMount(pool, "sub").map { $0.st_mode & S_IFMT == S_IFDIR } ?? false }
        #expect(rename(silo + "/b.txt", silo + "/sub/c.txt") == 0)
        waitFor("a rename across directories") { statMount(pool, "b.txt") == nil && read(pool, "sub/c.txt") == "hell" }
        #expect(xattr(pool, "sub/c.txt", "user.colour") == "blue", "tags move with the file")

        #expect(unlink(silo + "/sub/c.txt") == 0)
        waitFor("a delete") { statMount(pool, "sub/c.txt") == nil }

        // A tree made at once (mkdir -p, then files at every level), then removed at once.
        try FileManager.default.createDirectory(atPath: silo + "/tree/x/y/z", withIntermediateDirectories: true)
        for path in ["tree/1", "tree/x/2", "tree/x/y/3", "tree/x/y/z/4"] { try Fixtures.write(silo + "/" + path, path) }
        waitFor("a tree of directories and files") { read(pool, "tree/x/y/z/4") == "tree/x/y/z/4" && namespaceMatches(pool) }
        try Shell.run("/bin/rm", ["-rf", silo + "/tree"])
        waitFor("a removed tree") { statMount(pool, "tree") == nil && namespaceMatches(pool) }
        #expect(namespaceMatches(pool), "\(differences(pool))")

        // Everything seen is applied: status says so, and when the last batch was. (Other
        // programs writing on the silos' file system can have a batch waiting for a moment,
        // until their directories are known to be outside every silo: polled for.)
        waitFor("status up to date", quiet: true) {
            (try? pool.estuary(["status", pool.mountpoint]))?.stdout.contains("bulk0: watched (fanotify); up to date; last applied") ?? false
        }
        var bulk0: [String: Any] = [:]
        waitFor("status --json up to date", quiet: true) {
            bulk0 = (try? watchStatus(pool))?["bulk0"] ?? [:]
            return (bulk0["watchWaiting"] as? NSNumber)?.intValue == 0
        }
        #expect(bulk0["watch"] as? String == "watched (fanotify)")
        #expect((bulk0["watchBehind"] as? NSNumber)?.doubleValue == 0, "nothing waits, so nothing is behind: \(bulk0)")
        #expect(bulk0["watchLag"] is NSNumber && bulk0["watchApplied"] is NSNumber, "\(bulk0)")
    }

    /// A directory outside every silo but on the same file system is busy first (its events
    /// are dropped once it is known to be outside), then moved into a silo: it shows with its
    /// files, and what is written in it afterwards shows too.
    @Test func aDirectoryMovedInFromOutsideIsFollowed() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let outside = pool.root + "/outside"
        #expect(mkdir(outside, 0o755) == 0)
        try Fixtures.write(pool.siloPath("bulk0") + "/marker", "m")
        for i in 0..<20 { try Fixtures.write(outside + "/o\(i)", "\(i)") }
        waitFor("a create in the silo beside them") { statMount(pool, "marker") != nil }
        for i in 20..<40 { try Fixtures.write(outside + "/o\(i)", "\(i)") }
        #expect(rename(outside, pool.siloPath("bulk0") + "/came-in") == 0)
        waitFor("a directory moved in") { read(pool, "came-in/o39") == "39" }
        try Fixtures.write(pool.siloPath("bulk0") + "/came-in/after", "after")
        waitFor("a create in the moved directory") { read(pool, "came-in/after") == "after" }
        #expect(namespaceMatches(pool), "\(differences(pool))")
    }

    /// A file another silo also holds: the newer copy shows, whichever silo it is in.
    @Test func aNewerCopyInAnotherSiloTakesTheVisiblePlace() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("bulk0") + "/f", "old", mtime: 1_000_000)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(read(pool, "f") == "old")
        try Fixtures.write(pool.siloPath("bulk1") + "/f", "new")
        waitFor("a newer copy in another silo") { read(pool, "f") == "new" }
        #expect(unlink(pool.siloPath("bulk1") + "/f") == 0)
        waitFor("the older copy back once the newer one is deleted") { read(pool, "f") == "old" }
    }

    /// `mv` from one silo to another at the same path (both on one file system here): the
    /// file keeps its inode number through the mount, as a full scan would keep it.
    @Test func aFileMovedBetweenSilosKeepsItsInodeNumber() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("bulk0") + "/moving", "moving")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let before = try #require(statMount(pool, "moving"))
        #expect(xattr(pool, "moving", "user.estuary.silo") == "bulk0")
        #expect(rename(pool.siloPath("bulk0") + "/moving", pool.siloPath("bulk1") + "/moving") == 0)
        waitFor("a move to another silo") { xattr(pool, "moving", "user.estuary.silo") == "bulk1" }
        #expect(statMount(pool, "moving")?.st_ino == before.st_ino)
        #expect(read(pool, "moving") == "moving")
    }

    @Test func tagsSetBehindTheMountReachFind() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let backing = pool.siloPath("fast0") + "/tagged.bin"
        try Fixtures.write(backing, "x")
        waitFor("the file to tag") { statMount(pool, "tagged.bin") != nil }
        try Fixtures.setXattr(backing, "user.project", "apollo")
        waitFor("a tag in estuary find") {
            let result = try? pool.estuary(["find", pool.mountpoint, "--tag", "project=apollo"])
            return result?.stdout.contains("tagged.bin") ?? false
        }
    }

    /// Changes the daemon makes through the mount are not applied a second time: a file written
    /// and renamed through the mount keeps its inode number and content.
    @Test func changesThroughTheMountAreNotAppliedTwice() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try Fixtures.write(pool.path("m.txt"), "through the mount")
        let before = try #require(statMount(pool, "m.txt"))
        #expect(rename(pool.path("m.txt"), pool.path("n.txt")) == 0)
        usleep(500_000)   // several batches' worth: any echo of the daemon's own changes has been applied by now
        let after = try #require(statMount(pool, "n.txt"))
        #expect(after.st_ino == before.st_ino)
        #expect(read(pool, "n.txt") == "through the mount")
        #expect(statMount(pool, "m.txt") == nil)
        #expect(namespaceMatches(pool), "\(differences(pool))")
    }

    /// Many files written behind the mount while clients list and stat through it: every
    /// name shows, with its size and content. The count comes from ESTUARY_WATCH_COUNT (10,000
    /// by default; `make soak` asks for 100,000). The time from the last write to all of it
    /// showing is printed, not asserted.
    @Test func manyCreatesWhileClientsUseTheMount() throws {
        let count = Int(ProcessInfo.processInfo.environment["ESTUARY_WATCH_COUNT"] ?? "") ?? 10_000
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let silo = pool.siloPath("bulk0")
        let directories = max(1, count / 1000)
        let clientState = ClientState()
        let mountpoint = pool.mountpoint
        // Clients walk the directories being filled, so the kernel holds many of their inodes.
        let clients = (0..<2).map { client in
            Thread {
                var round = client
                while !clientState.stop.load(ordering: .relaxed) {
                    round += 1
                    let dir = round % 2 == 0 ? mountpoint : mountpoint + "/many\(round % directories)"
                    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { continue }
                    for name in names.prefix(200) {
                        var s = stat()
                        if lstat(dir + "/" + name, &s) != 0 && errno != ENOENT { clientState.errors.add(1, ordering: .relaxed) }
                    }
                }
            }
        }
        clients.forEach { $0.start() }
        let started = monotonicSeconds()
        for i in 0..<count {
            let dir = silo + "/many\(i % directories)"
            if i < directories { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            let fd = open(dir + "/f\(i)", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            #expect(fd >= 0)
            let content = Array("file \(i)\n".utf8)
            #expect(write(fd, content, content.count) == content.count)
            close(fd)
        }
        let made = monotonicSeconds() - started
        func visible() -> Int {
            (0..<directories).reduce(0) { $0 + ((try? FileManager.default.contentsOfDirectory(atPath: pool.path("many\($1)")).count) ?? 0) }
        }
        waitFor("\(count) files written (in \(String(format: "%.1f", made)) s)", patience: 300) { visible() == count }
        clientState.stop.store(true, ordering: .relaxed)
        usleep(100_000)   // the clients finish the round they are in
        #expect(clientState.errors.load(ordering: .relaxed) == 0)
        // Every name, with its size and content, through the mount (sizes come from the index).
        // Each name's write may come a batch after its create: checked until it holds.
        waitFor("sizes and contents of \(count) files", patience: 300, quiet: true) {
            (0..<count).allSatisfy { i in
                let path = "many\(i % directories)/f\(i)"
                let want = "file \(i)\n"
                return statMount(pool, path)?.st_size == want.utf8.count && read(pool, path) == want
            }
        }
        #expect(namespaceMatches(pool), "\(differences(pool))")
    }

    /// `watch = false`: the silo is followed by `estuary scan` only, and status says so.
    @Test func watchingCanBeTurnedOffPerSilo() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        var toml = try String(contentsOfFile: pool.configPath, encoding: .utf8)
        toml = toml.replacingOccurrences(of: "tier = \"bulk\"\n", with: "tier = \"bulk\"\nwatch = false\n")
        try toml.write(toFile: pool.configPath, atomically: true, encoding: .utf8)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let status = try pool.estuary(["status", pool.mountpoint])
        #expect(status.stdout.contains("bulk0: off"), "\(status.output)")
        #expect(status.stdout.contains("fast0: watched (fanotify)"), "\(status.output)")
        let silos = try watchStatus(pool)
        #expect(silos["bulk0"]?["watchBehind"] == nil && silos["bulk0"]?["watchWaiting"] == nil, "an unfollowed silo is not said to be behind")
        try Fixtures.write(pool.siloPath("fast0") + "/watched", "w")
        waitFor("a create in the watched silo") { statMount(pool, "watched") != nil }
        try Fixtures.write(pool.siloPath("bulk0") + "/unwatched", "u")
        try Fixtures.write(pool.siloPath("fast0") + "/watched2", "w")
        waitFor("a later create in the watched silo") { statMount(pool, "watched2") != nil }
        #expect(statMount(pool, "unwatched") == nil, "a silo with watch = false waits for a scan")
        #expect(try pool.estuary(["scan", pool.mountpoint]).status == 0)
        #expect(statMount(pool, "unwatched") != nil)
    }

}
}

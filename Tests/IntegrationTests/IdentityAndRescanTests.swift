import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Inode numbers survive remounts and rescans; changes made behind the daemon's back appear
/// after a rescan.
@Suite(.serialized)
struct IdentityAndRescanTests {
    private func inodes(_ pool: TestPool) throws -> [[UInt8]: UInt64] {
        try TreeSnapshot.take(pool.mountpoint).mapValues(\.inode)
    }

    @Test func inodeNumbersAreStableAcrossUnmountRescanAndRemount() throws {
        let pool = try TestPool()
        try Fixtures.populate(pool)
        try pool.mount()
        let before = try inodes(pool)
        #expect(Set(before.values).count == before.count, "inode numbers must be unique")
        #expect(try pool.unmount() == 0)

        let scan = try pool.estuary(["scan", pool.configPath, "--json"])
        #expect(scan.status == 0, "\(scan.output)")
        #expect(scan.stdout.contains("\"added\":0") && scan.stdout.contains("\"removed\":0"), "\(scan.stdout)")

        try pool.mount()
        let after = try inodes(pool)
        #expect(after == before)
        // A rescan through the running daemon keeps them too.
        #expect(try pool.estuary(["scan", pool.mountpoint]).status == 0)
        #expect(try inodes(pool) == before)
        try pool.unmount()
    }

    @Test func outOfBandChangesAppearAfterRescan() throws {
        let pool = try TestPool()
        try Fixtures.populate(pool)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let fast = pool.siloPath("fast0"), bulk = pool.siloPath("bulk0"), bulk1 = pool.siloPath("bulk1")
        let planInode = try Sys.statPath(pool.path("projects/apollo/plan.txt")).inode
        let reportInode = try Sys.statPath(pool.path("shared/report.txt")).inode

        try Fixtures.write(bulk1 + "/projects/apollo/new.txt", "appeared")              // new file in a merged dir
        try Fixtures.write(fast + "/projects/apollo/plan.txt", "a longer launch plan\n") // changed in place
        try FileManager.default.removeItem(atPath: bulk + "/projects/gemini")            // whole directory gone
        try FileManager.default.removeItem(atPath: fast + "/shared/report.txt")          // the shadow takes over
        try FileManager.default.createDirectory(atPath: bulk1 + "/media/extra", withIntermediateDirectories: true)
        try FileManager.default.removeItem(atPath: bulk1 + "/deep")

        let scan = try pool.estuary(["scan", pool.configPath, "--json"])
        #expect(scan.status == 0, "\(scan.output)")

        let seen = try TreeSnapshot.take(pool.mountpoint)
        let want = TreeSnapshot.expectedMerge(try pool.silos.map { try TreeSnapshot.take(pool.siloPath($0.name), skipReserved: true) })
        #expect(Set(seen.keys) == Set(want.keys))
        for (path, entry) in want { #expect(seen[path]?.matches(entry) == true, "\(displayName(path))") }
        #expect(try String(contentsOfFile: pool.path("projects/apollo/new.txt"), encoding: .utf8) == "appeared")
        #expect(try String(contentsOfFile: pool.path("projects/apollo/plan.txt"), encoding: .utf8) == "a longer launch plan\n")
        #expect(try Sys.statPath(pool.path("projects/apollo/plan.txt")).inode == planInode)
        #expect(!FileManager.default.fileExists(atPath: pool.path("projects/gemini")))
        #expect(!FileManager.default.fileExists(atPath: pool.path("deep")))
        #expect(try String(contentsOfFile: pool.path("shared/report.txt"), encoding: .utf8) == "older report, a shadowed duplicate\n")
        #expect(try Sys.statPath(pool.path("shared/report.txt")).inode == reportInode)
        let status = try pool.estuary(["status", pool.configPath, "--json"])
        #expect(status.stdout.contains("\"shadowCount\" : 1"), "only tie.txt is still shadowed: \(status.stdout)")
    }

    /// A rename the index did not take (an `mv` inside a silo while unmounted; also what a
    /// crash leaves when it comes before the index took a rename the mount answered) keeps the
    /// file's inode number and tags: the row moves to the new name. A copy of the file that
    /// carries its hint gets a number of its own.
    @Test func filesRenamedInsideASiloWhileUnmountedKeepTheirInodes() throws {
        let pool = try TestPool()
        try pool.mount()
        for directory in ["a", "b"] { try FileManager.default.createDirectory(atPath: pool.path(directory), withIntermediateDirectories: true) }
        for name in ["a/one.txt", "a/two.txt", "b/three.txt"] { try Fixtures.write(pool.path(name), name) }
        try Fixtures.setXattr(pool.path("a/one.txt"), "user.color", "blue")
        let before = try TreeSnapshot.take(pool.mountpoint).mapValues(\.inode)
        try pool.unmount()

        let silo = try #require(pool.silos.map { pool.siloPath($0.name) }.first { FileManager.default.fileExists(atPath: $0 + "/a/one.txt") })
        for (old, new) in [("a/one.txt", "a/uno.txt"), ("a/two.txt", "b/dos.txt"), ("b/three.txt", "a/tres.txt")] {
            #expect(rename(silo + "/" + old, silo + "/" + new) == 0)
        }
        let copied = try Shell.run("/bin/cp", ["--preserve=xattr", silo + "/b/dos.txt", silo + "/b/copy.txt"])
        #expect(copied.status == 0, "\(copied.output)")
        let scan = try pool.estuary(["scan", pool.configPath, "--json"])
        #expect(scan.status == 0, "\(scan.output)")

        try pool.mount()
        defer { _ = try? pool.unmount() }
        let after = try TreeSnapshot.take(pool.mountpoint).mapValues(\.inode)
        for (old, new) in [("a/one.txt", "a/uno.txt"), ("a/two.txt", "b/dos.txt"), ("b/three.txt", "a/tres.txt")] {
            #expect(after[Array(new.utf8)] == before[Array(old.utf8)], "\(new) keeps the inode of \(old)")
            #expect(after[Array(old.utf8)] == nil)
            #expect(try String(contentsOfFile: pool.path(new), encoding: .utf8) == old)
        }
        let copy = try #require(after[Array("b/copy.txt".utf8)])
        #expect(!before.values.contains(copy), "the copy gets an inode number of its own")
        var value = [UInt8](repeating: 0, count: 16)
        let n = value.withUnsafeMutableBytes { LibcExtras.lgetxattr(pool.path("a/uno.txt"), "user.color", $0.baseAddress, $0.count) }
        #expect(n == 4 && String(decoding: value.prefix(4), as: UTF8.self) == "blue")
    }

    @Test func openSeesAChangedSizeBeforeAnyRescan() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("bulk0") + "/log.txt", "short")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(try String(contentsOfFile: pool.path("log.txt"), encoding: .utf8) == "short")
        try Fixtures.write(pool.siloPath("bulk0") + "/log.txt", "short, then appended behind the daemon's back")
        // open() refreshes attributes from the backing file, so the read is not cut at the old size.
        #expect(try String(contentsOfFile: pool.path("log.txt"), encoding: .utf8) == "short, then appended behind the daemon's back")
    }
}

/// What the mount writes survives rescans: hard links stay one inode, renamed entries keep
/// their numbers, nothing created meanwhile is dropped.
@Suite(.serialized)
struct WritesAndRescanTests {
    @Test func hardLinksAndRenamesSurviveARescan() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try "data".write(toFile: pool.path("a.txt"), atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: pool.path("d/e"), withIntermediateDirectories: true)
        #expect(link(pool.path("a.txt"), pool.path("d/e/b.txt")) == 0)
        #expect(rename(pool.path("d"), pool.path("renamed")) == 0)
        let before = try TreeSnapshot.take(pool.mountpoint).mapValues(\.inode)
        let scan = try pool.estuary(["scan", pool.mountpoint, "--json"])
        #expect(scan.status == 0, "\(scan.output)")
        #expect(scan.stdout.contains("\"added\":0") && scan.stdout.contains("\"removed\":0"), "\(scan.stdout)")
        let after = try TreeSnapshot.take(pool.mountpoint)
        #expect(after.mapValues(\.inode) == before)
        #expect(after[Array("a.txt".utf8)]?.nlink == 2)
        #expect(after[Array("renamed/e/b.txt".utf8)]?.inode == after[Array("a.txt".utf8)]?.inode)
        try pool.unmount()
        try pool.mount()
        #expect(try TreeSnapshot.take(pool.mountpoint).mapValues(\.inode) == before)
    }

    /// The first name of a hard-linked file removed behind the mount (or by another node of a
    /// shared index, whose unlink a node's watcher sees in the silo before the index has it):
    /// the file lives on under its other names. A scan that took the missing first name for
    /// the whole file lost the rest from the index until a later scan found them as new
    /// files (TwoNodeRandomOpsTests: "x: A: ENOENT, B: ENOENT", fsck "added 1").
    @Test func aFirstNameRemovedBehindTheMountLeavesTheOtherNames() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try "data".write(toFile: pool.path("a.txt"), atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: pool.path("d"), withIntermediateDirectories: true)
        #expect(link(pool.path("a.txt"), pool.path("d/b.txt")) == 0)
        #expect(link(pool.path("a.txt"), pool.path("c.txt")) == 0)
        var s = stat()
        #expect(lstat(pool.path("d/b.txt"), &s) == 0)
        let inode = s.st_ino
        let silo = try #require(pool.silos.map { pool.siloPath($0.name) }.first { FileManager.default.fileExists(atPath: $0 + "/a.txt") })
        #expect(unlink(silo + "/a.txt") == 0)
        let scan = try pool.estuary(["scan", pool.mountpoint, "--json"])
        #expect(scan.status == 0, "\(scan.output)")
        for name in ["d/b.txt", "c.txt"] {
            var after = stat()
            #expect(lstat(pool.path(name), &after) == 0, "\(name) is still there: \(errnoName(errno))")
            #expect(after.st_ino == inode && after.st_nlink == 2, "\(name): inode \(after.st_ino) nlink \(after.st_nlink)")
            #expect((try? String(contentsOfFile: pool.path(name), encoding: .utf8)) == "data")
        }
        #expect(lstat(pool.path("a.txt"), &s) != 0 && errno == ENOENT)
        let again = try pool.estuary(["scan", pool.mountpoint, "--json"])
        #expect(again.stdout.contains("\"added\":0") && again.stdout.contains("\"removed\":0"), "a second scan finds the index level with the silo: \(again.stdout)")
    }
}

import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Write-side behaviour with no native counterpart: names spread over several silos.
@Suite(.serialized, .timeLimit(.minutes(2)))
struct PosixCrossSiloTests {
    private let fm = FileManager.default

    private func exists(_ path: String) -> Bool {
        var s = stat()
        return lstat(path, &s) == 0
    }

    private func content(_ path: String) -> String? {
        guard let data = fm.contents(atPath: path) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private func inode(_ path: String) -> UInt64? { try? Sys.statPath(path, follow: false).inode }

    /// rename(2) through the mount: 0 or the errno (EXDEV must never appear).
    private func rename(_ pool: TestPool, _ from: String, _ to: String, flags: UInt32 = 0) -> String {
        let rc = LibcExtras.renameat2(AT_FDCWD, pool.path(from), AT_FDCWD, pool.path(to), flags)
        return rc == 0 ? "ok" : errnoName(errno)
    }

    /// Where `relative` exists, silo by silo.
    private func holders(_ pool: TestPool, _ relative: String) -> [String] {
        pool.silos.map(\.name).filter { exists(pool.siloPath($0) + "/" + relative) }
    }

    @Test func directoryInSeveralSilosRenamesEverywhere() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("fast0") + "/proj/a.txt", "in fast")
        try Fixtures.write(pool.siloPath("bulk0") + "/proj/b.txt", "in bulk")
        try Fixtures.write(pool.siloPath("bulk1") + "/proj/sub/c.txt", "in bulk1")
        try Fixtures.write(pool.siloPath("bulk1") + "/elsewhere/keep", "target parent only in bulk1")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let before = [inode(pool.path("proj")), inode(pool.path("proj/a.txt")), inode(pool.path("proj/sub/c.txt"))]

        #expect(rename(pool, "proj", "renamed") == "ok")
        #expect(!exists(pool.path("proj")))
        #expect(content(pool.path("renamed/a.txt")) == "in fast")
        #expect(content(pool.path("renamed/b.txt")) == "in bulk")
        #expect(content(pool.path("renamed/sub/c.txt")) == "in bulk1")
        #expect([inode(pool.path("renamed")), inode(pool.path("renamed/a.txt")), inode(pool.path("renamed/sub/c.txt"))] == before)
        // Into a directory that exists only in bulk1: no EXDEV either.
        #expect(rename(pool, "renamed", "elsewhere/renamed") == "ok")
        #expect(content(pool.path("elsewhere/renamed/b.txt")) == "in bulk")
        #expect(try pool.unmount() == 0)

        #expect(holders(pool, "proj").isEmpty, "old name left in \(holders(pool, "proj"))")
        #expect(holders(pool, "renamed").isEmpty)
        #expect(content(pool.siloPath("fast0") + "/elsewhere/renamed/a.txt") == "in fast")
        #expect(content(pool.siloPath("bulk0") + "/elsewhere/renamed/b.txt") == "in bulk")
        #expect(content(pool.siloPath("bulk1") + "/elsewhere/renamed/sub/c.txt") == "in bulk1")
        try pool.mount()
        #expect([inode(pool.path("elsewhere/renamed")), inode(pool.path("elsewhere/renamed/a.txt")),
                 inode(pool.path("elsewhere/renamed/sub/c.txt"))] == before)
    }

    @Test func fileIntoDirectoryOfAnotherSiloCreatesTheParentInItsSilo() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("fast0") + "/file.txt", "moving")
        try Fixtures.write(pool.siloPath("bulk0") + "/only/there/other.txt", "bulk only")
        try fm.setAttributes([.posixPermissions: 0o750], ofItemAtPath: pool.siloPath("bulk0") + "/only/there")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let ino = inode(pool.path("file.txt"))

        #expect(rename(pool, "file.txt", "only/there/file.txt") == "ok")
        #expect(content(pool.path("only/there/file.txt")) == "moving")
        #expect(inode(pool.path("only/there/file.txt")) == ino)
        #expect(try Sys.statPath(pool.path("only/there")).mode & 0o7777 == 0o750)
        // A hard link and a new file into the same foreign directory.
        #expect(link(pool.path("only/there/file.txt"), pool.path("only/linked")) == 0, "link: \(errnoName(errno))")
        #expect(try Sys.statPath(pool.path("only/linked")).nlink == 2)
        #expect(inode(pool.path("only/linked")) == ino)
        #expect(try pool.unmount() == 0)

        #expect(holders(pool, "file.txt").isEmpty)
        #expect(holders(pool, "only/there/file.txt") == ["fast0"], "the data stays in its silo; its parents are made there")
        #expect(content(pool.siloPath("fast0") + "/only/there/file.txt") == "moving")
        #expect(holders(pool, "only/linked") == ["fast0"])
        let made = try Sys.statPath(pool.siloPath("fast0") + "/only/there")
        #expect(made.mode & 0o7777 == 0o750, "a parent made in another silo copies the directory's attributes")
        #expect(content(pool.siloPath("bulk0") + "/only/there/other.txt") == "bulk only")
    }

    /// A directory scanned in bulk0 gets a copy in fast0 when a new file under it is placed
    /// there; rename and rmdir must then act on both copies.
    @Test func directoryCopiesMadeOnDemandFollowRenameAndRmdir() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("bulk0") + "/d1/old.txt", "old")
        try fm.createDirectory(atPath: pool.siloPath("bulk0") + "/d2", withIntermediateDirectories: true)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        for path in ["d1/new.txt", "d2/sub/f"] {
            if path.hasPrefix("d2") { #expect(mkdir(pool.path("d2/sub"), 0o755) == 0) }
            let fd = open(pool.path(path), O_WRONLY | O_CREAT | O_EXCL, 0o644)
            #expect(fd >= 0, "create \(path): \(errnoName(errno))")
            if fd >= 0 { _ = write(fd, "new", 3); close(fd) }
        }
        let placed = holders(pool, "d1/new.txt")
        #expect(rename(pool, "d1", "renamed") == "ok")
        #expect(content(pool.path("renamed/new.txt")) == "new", "new.txt was placed in \(placed)")
        #expect(content(pool.path("renamed/old.txt")) == "old")
        #expect(holders(pool, "d1").isEmpty, "d1 left behind in \(holders(pool, "d1"))")
        #expect(unlink(pool.path("d2/sub/f")) == 0)
        #expect(rmdir(pool.path("d2/sub")) == 0)
        #expect(rmdir(pool.path("d2")) == 0)
        #expect(holders(pool, "d2").isEmpty, "d2 left behind in \(holders(pool, "d2")): a rescan would bring it back")
        #expect(try pool.unmount() == 0)
        #expect(try pool.estuary(["scan", pool.configPath]).status == 0)
        try pool.mount()
        #expect(!exists(pool.path("d2")) && !exists(pool.path("d1")))
        #expect(content(pool.path("renamed/new.txt")) == "new")
    }

    @Test func renameOverAFileInAnotherSiloRemovesTheOldCopy() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("fast0") + "/a", "new content", mtime: 1_600_000_000)
        try Fixtures.write(pool.siloPath("bulk0") + "/b", "old content, newer mtime", mtime: 1_700_000_000)
        try Fixtures.write(pool.siloPath("bulk1") + "/dup", "shadowed", mtime: 1_500_000_000)
        try Fixtures.write(pool.siloPath("fast0") + "/dup", "visible", mtime: 1_600_000_000)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let ino = inode(pool.path("a"))
        #expect(rename(pool, "a", "b") == "ok")
        #expect(content(pool.path("b")) == "new content")
        #expect(inode(pool.path("b")) == ino)
        #expect(unlink(pool.path("dup")) == 0)
        #expect(!exists(pool.path("dup")), "a shadowed duplicate must not surface after unlink")
        #expect(try pool.unmount() == 0)
        #expect(holders(pool, "b") == ["fast0"], "the replaced copy must go, or a rescan brings it back")
        #expect(holders(pool, "dup").isEmpty)
        let scan = try pool.estuary(["scan", pool.configPath, "--json"])
        #expect(scan.status == 0, "\(scan.output)")
        try pool.mount()
        #expect(content(pool.path("b")) == "new content")
        #expect(inode(pool.path("b")) == ino)
        #expect(!exists(pool.path("dup")))
    }

    @Test func inodeNumbersSurviveRenameLinkRemountAndRescan() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("bulk0") + "/dir/old.txt", "old")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        var made: [String: UInt64] = [:]
        let fd = open(pool.path("created.txt"), O_WRONLY | O_CREAT | O_EXCL, 0o644)
        #expect(fd >= 0, "create: \(errnoName(errno))")
        if fd >= 0 { _ = write(fd, "new", 3); close(fd) }
        #expect(mkdir(pool.path("newdir"), 0o755) == 0)
        #expect(symlink("created.txt", pool.path("sym")) == 0)
        for name in ["created.txt", "newdir", "sym", "dir", "dir/old.txt"] { made[name] = inode(pool.path(name)) }
        #expect(Set(made.values.compactMap { $0 }).count == 5, "distinct inode numbers: \(made)")

        #expect(rename(pool, "created.txt", "newdir/created.txt") == "ok")
        #expect(rename(pool, "dir/old.txt", "newdir/old.txt") == "ok")
        #expect(rename(pool, "dir", "newdir/dir") == "ok")
        #expect(link(pool.path("newdir/old.txt"), pool.path("hard")) == 0)
        let moved = ["created.txt": "newdir/created.txt", "newdir": "newdir", "sym": "sym", "dir": "newdir/dir",
                     "dir/old.txt": "newdir/old.txt"]
        func check(_ when: String) {
            for (old, new) in moved { #expect(inode(pool.path(new)) == made[old], "\(new) \(when)") }
            #expect(inode(pool.path("hard")) == made["dir/old.txt"], "hard link \(when)")
            #expect((try? Sys.statPath(pool.path("hard")).nlink) == 2, "nlink \(when)")
        }
        check("after rename")
        #expect(try pool.unmount() == 0)
        try pool.mount()
        check("after remount")
        #expect(try pool.unmount() == 0)
        let scan = try pool.estuary(["scan", pool.configPath, "--json"])
        #expect(scan.status == 0 && scan.stdout.contains("\"removed\":0"), "\(scan.output)")
        try pool.mount()
        check("after rescan")
    }

    @Test func reservedEstuaryAttributesCannotBeSet() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("fast0") + "/f", "x")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        for name in ["user.estuary.foo", "user.estuary.tier", "user.estuary.silo"] {
            let rc = LibcExtras.lsetxattr(pool.path("f"), name, Array("x".utf8), 0)
            let e = errno
            #expect(rc != 0 && (e == EINVAL || e == ENOTSUP), "setxattr \(name): \(rc == 0 ? "ok" : errnoName(e))")
            let removed = LibcExtras.lremovexattr(pool.path("f"), name)
            let re = errno
            #expect(removed != 0 && [EINVAL, ENOTSUP, ENODATA].contains(re), "removexattr \(name): \(removed == 0 ? "ok" : errnoName(re))")
        }
        let tier = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.silo", pool.path("f")])
        #expect(tier.stdout == "fast0")
        let created = open(pool.path("g"), O_WRONLY | O_CREAT, 0o644)
        #expect(created >= 0, "create: \(errnoName(errno))")
        if created >= 0 { close(created) }
        let silo = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.silo", pool.path("g")])
        #expect(pool.silos.map(\.name).contains(silo.stdout), "a new file names its silo: \(silo.output)")
    }
}

import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The kernel keeps names and attributes for 60 s by default; whatever changes without a
/// request through the mount (a scan's findings, a file changed behind the daemon's back and
/// noticed at open) must reach the kernel's caches at once. Each check first makes the kernel
/// cache the old state, so it fails if an invalidation is missing.
@Suite(.serialized)
struct KernelCacheTests {
    private func scan(_ pool: TestPool) throws {
        let result = try pool.estuary(["scan", pool.mountpoint])
        #expect(result.status == 0, "\(result.output)")
    }

    /// A mounted pool whose silo bulk0 held `name` before the mount; the file's backing path.
    /// Watching is off in these tests: they check what a scan and an open tell the kernel.
    private func mounted(withFile name: String, _ content: String) throws -> (TestPool, String) {
        let pool = try TestPool(watch: false)
        let backing = pool.siloPath("bulk0") + "/" + name
        try Fixtures.write(backing, content)
        try pool.mount()
        return (pool, backing)
    }

    private func lstatErrno(_ path: String) -> Int32 {
        var s = stat()
        return lstat(path, &s) == 0 ? 0 : errno
    }

    @Test func aNameAddedBehindTheMountShowsAfterAScanDespiteACachedMiss() throws {
        let pool = try TestPool(watch: false)
        try Fixtures.write(pool.siloPath("bulk0") + "/dir/old.txt", "old")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(lstatErrno(pool.path("dir/new.txt")) == ENOENT)       // cached as absent
        #expect(lstatErrno(pool.path("dir/sub")) == ENOENT)
        try Fixtures.write(pool.siloPath("bulk1") + "/dir/new.txt", "new")
        try Fixtures.write(pool.siloPath("fast0") + "/dir/sub/inner.txt", "inner")
        #expect(lstatErrno(pool.path("dir/new.txt")) == ENOENT, "not indexed yet: the index serves names")
        try scan(pool)
        #expect(try String(contentsOfFile: pool.path("dir/new.txt"), encoding: .utf8) == "new")
        #expect(try String(contentsOfFile: pool.path("dir/sub/inner.txt"), encoding: .utf8) == "inner")
        let names = try FileManager.default.contentsOfDirectory(atPath: pool.path("dir")).sorted()
        #expect(names == ["new.txt", "old.txt", "sub"])
    }

    @Test func aNameRemovedBehindTheMountIsGoneAfterAScanDespiteACachedHit() throws {
        let pool = try TestPool(watch: false)
        try Fixtures.write(pool.siloPath("bulk0") + "/dir/gone.txt", "soon gone")
        try Fixtures.write(pool.siloPath("bulk0") + "/dir/tree/leaf.txt", "leaf")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(lstatErrno(pool.path("dir/gone.txt")) == 0)             // cached as present
        #expect(lstatErrno(pool.path("dir/tree/leaf.txt")) == 0)
        try FileManager.default.removeItem(atPath: pool.siloPath("bulk0") + "/dir/gone.txt")
        try FileManager.default.removeItem(atPath: pool.siloPath("bulk0") + "/dir/tree")
        try scan(pool)
        #expect(lstatErrno(pool.path("dir/gone.txt")) == ENOENT)
        #expect(lstatErrno(pool.path("dir/tree/leaf.txt")) == ENOENT)
        #expect(lstatErrno(pool.path("dir/tree")) == ENOENT)
        #expect(try FileManager.default.contentsOfDirectory(atPath: pool.path("dir")).isEmpty)
    }

    @Test func attributesChangedBehindTheMountShowAfterAScan() throws {
        let (pool, backing) = try mounted(withFile: "f.txt", "short")
        defer { _ = try? pool.unmount() }
        let before = try Sys.statPath(pool.path("f.txt"))
        #expect(before.size == 5)
        try Fixtures.write(backing, "a good deal longer")
        #expect(chmod(backing, 0o600) == 0)
        #expect(try Sys.statPath(pool.path("f.txt")).size == 5, "the index still says 5 before a scan")
        try scan(pool)
        let after = try Sys.statPath(pool.path("f.txt"))
        #expect(after.size == 18)
        #expect(after.mode & 0o777 == 0o600)
        #expect(after.inode == before.inode)
    }

    @Test func openSeesAFileChangedBehindTheMountWithoutAScan() throws {
        let (pool, backing) = try mounted(withFile: "log.txt", "line 1\n")
        defer { _ = try? pool.unmount() }
        #expect(try String(contentsOfFile: pool.path("log.txt"), encoding: .utf8) == "line 1\n")   // pages and size cached
        try Fixtures.write(backing, "line 1\nline 2, added behind the mount\n")
        let fd = open(pool.path("log.txt"), O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        #expect(try Sys.fstat(fd).size == 38)
        var buffer = [UInt8](repeating: 0, count: 100)
        let n = read(fd, &buffer, buffer.count)
        #expect(String(decoding: buffer.prefix(max(0, n)), as: UTF8.self) == "line 1\nline 2, added behind the mount\n")
        #expect(try Sys.statPath(pool.path("log.txt")).size == 38)
    }

    @Test func aFileReplacedByADirectoryBehindTheMountShowsAsTheDirectory() throws {
        let pool = try TestPool(watch: false)
        try Fixtures.write(pool.siloPath("bulk0") + "/thing", "a file")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(try Sys.statPath(pool.path("thing")).fileType == .regular)
        try FileManager.default.removeItem(atPath: pool.siloPath("bulk0") + "/thing")
        try Fixtures.write(pool.siloPath("bulk0") + "/thing/inside.txt", "inside")
        try scan(pool)
        #expect(try Sys.statPath(pool.path("thing")).fileType == .directory)
        #expect(try String(contentsOfFile: pool.path("thing/inside.txt"), encoding: .utf8) == "inside")
    }
}

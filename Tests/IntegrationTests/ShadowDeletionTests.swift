import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Shadowed duplicates (older copies at the same path in other silos) follow their name: rm
/// removes them and mv carries them, so a deleted or renamed name never comes back at the next
/// scan; a copy that cannot be removed or carried fails the call with nothing lost
/// (docs/decisions.md, "Deleting a name deletes its shadowed duplicates").
@Suite(.serialized)
struct ShadowDeletionTests {
    /// `d/f.txt` newer on fast0 (visible) and older on bulk0 (shadowed).
    private func makePool() throws -> TestPool {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        try Fixtures.write(pool.siloPath("fast0") + "/d/f.txt", "newer", mtime: 2_000_000_000)
        try Fixtures.write(pool.siloPath("bulk0") + "/d/f.txt", "older", mtime: 1_000_000_000)
        try pool.mount()
        return pool
    }

    private func onSilo(_ pool: TestPool, _ silo: String, _ path: String) -> Bool {
        FileManager.default.fileExists(atPath: pool.siloPath(silo) + "/" + path)
    }

    private func rescan(_ pool: TestPool) throws {
        let scan = try pool.estuary(["scan", pool.mountpoint])
        #expect(scan.status == 0, "\(scan.output)")
    }

    private func content(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }

    /// chattr +i: not even root may unlink or rename the file; undone when the test ends.
    private func immutable(_ path: String, _ on: Bool) throws {
        let r = try Shell.run("/usr/bin/chattr", [on ? "+i" : "-i", path])
        #expect(r.status == 0, "\(r.output)")
    }

    @Test func rmRemovesEveryCopyAndTheNameStaysGone() throws {
        let pool = try makePool()
        defer { _ = try? pool.unmount() }
        #expect(content(pool.path("d/f.txt")) == "newer")
        #expect(unlink(pool.path("d/f.txt")) == 0)
        #expect(!onSilo(pool, "fast0", "d/f.txt") && !onSilo(pool, "bulk0", "d/f.txt"))
        try rescan(pool)
        #expect(access(pool.path("d/f.txt"), F_OK) != 0 && errno == ENOENT, "the deleted name came back")
    }

    @Test func mvCarriesShadowsAndReplacesTheTargetsCopies() throws {
        let pool = try makePool()
        defer { _ = try? pool.unmount() }
        #expect(rename(pool.path("d/f.txt"), pool.path("d/g.txt")) == 0)
        #expect(!onSilo(pool, "fast0", "d/f.txt") && !onSilo(pool, "bulk0", "d/f.txt"))
        #expect(onSilo(pool, "bulk0", "d/g.txt"), "the shadow travels with its name")
        try "replacement".write(toFile: pool.path("x.txt"), atomically: false, encoding: .utf8)
        #expect(rename(pool.path("x.txt"), pool.path("d/g.txt")) == 0)
        #expect(!onSilo(pool, "bulk0", "d/g.txt"), "the replaced name's shadow goes with it")
        try rescan(pool)
        #expect(access(pool.path("d/f.txt"), F_OK) != 0, "the old name came back")
        #expect(content(pool.path("d/g.txt")) == "replacement")
    }

    @Test func aShadowThatCannotBeRemovedFailsTheUnlink() throws {
        let pool = try makePool()
        defer { _ = try? pool.unmount() }
        let shadow = pool.siloPath("bulk0") + "/d/f.txt"
        try immutable(shadow, true)
        defer { try? immutable(shadow, false) }
        let rc = unlink(pool.path("d/f.txt"))
        let e = errno
        #expect(rc != 0 && e == EPERM, "unlink returned \(rc), errno \(e)")
        #expect(content(pool.path("d/f.txt")) == "newer", "nothing removed")
        try rescan(pool)
        #expect(content(pool.path("d/f.txt")) == "newer")
    }

    @Test func aShadowThatCannotBeCarriedFailsTheRename() throws {
        let pool = try makePool()
        defer { _ = try? pool.unmount() }
        let shadow = pool.siloPath("bulk0") + "/d/f.txt"
        try immutable(shadow, true)
        defer { try? immutable(shadow, false) }
        let rc = rename(pool.path("d/f.txt"), pool.path("d/g.txt"))
        let e = errno
        #expect(rc != 0 && e == EPERM, "rename returned \(rc), errno \(e)")
        #expect(content(pool.path("d/f.txt")) == "newer" && access(pool.path("d/g.txt"), F_OK) != 0)
        #expect(onSilo(pool, "fast0", "d/f.txt") && !onSilo(pool, "fast0", "d/g.txt"), "the visible copy was put back")
        try rescan(pool)
        #expect(content(pool.path("d/f.txt")) == "newer" && access(pool.path("d/g.txt"), F_OK) != 0)
    }

    @Test func aTargetShadowThatCannotBeRemovedFailsTheRename() throws {
        let pool = try makePool()
        defer { _ = try? pool.unmount() }
        let shadow = pool.siloPath("bulk0") + "/d/f.txt"
        try immutable(shadow, true)
        defer { try? immutable(shadow, false) }
        try "replacement".write(toFile: pool.path("x.txt"), atomically: false, encoding: .utf8)
        let rc = rename(pool.path("x.txt"), pool.path("d/f.txt"))
        let e = errno
        #expect(rc != 0 && e == EPERM, "rename returned \(rc), errno \(e)")
        #expect(content(pool.path("d/f.txt")) == "newer" && content(pool.path("x.txt")) == "replacement")
    }
}

/// removexattr changes the silo before the index: a tag the backing file keeps stays a tag.
@Suite(.serialized)
struct TagRemovalTests {
    @Test func aTagTheSiloKeepsIsNotDroppedFromTheIndex() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try "tagged".write(toFile: pool.path("t.txt"), atomically: false, encoding: .utf8)
        try Sys.setXattr(path: pool.path("t.txt"), name: "user.project", value: Array("apollo".utf8))
        let backing = pool.siloPath("fast0") + "/t.txt"
        #expect(try Shell.run("/usr/bin/chattr", ["+i", backing]).status == 0)
        defer { _ = try? Shell.run("/usr/bin/chattr", ["-i", backing]) }
        var failure: Errno?
        do { try Sys.removeXattr(path: pool.path("t.txt"), name: "user.project") } catch { failure = error }
        #expect(failure == .notPermitted, "removexattr failed with \(String(describing: failure))")
        let value = pool.path("t.txt").withCString { p in try? Sys.getXattr(AT_FDCWD, p, "user.project") }
        #expect(value == Array("apollo".utf8), "the index must still hold the tag the silo holds")
    }
}

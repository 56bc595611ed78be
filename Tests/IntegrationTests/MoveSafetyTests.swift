import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A move keeps everything about a file, not only its data: a destination that cannot take
/// the file's attributes fails the move, and the file stays whole where it was.
@Suite(.serialized)
struct MoveSafetyTests {
    private func jobs(_ pool: TestPool) throws -> [[String: Any]] {
        let out = try pool.estuary(["jobs", "list", pool.mountpoint, "--all", "--json"])
        return (try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [[String: Any]]) ?? []
    }

    /// bulk0 is an ext4 with 1 KiB blocks, where a 3,000-byte tag does not fit (fast0, with
    /// 4 KiB blocks, holds it).
    @Test func aTagTheDestinationCannotHoldFailsTheMove() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        let image = pool.root + "/bulk.img"
        #expect(try Shell.run("/usr/bin/truncate", ["-s", "32M", image]).status == 0)
        let mkfs = try Shell.run("/usr/sbin/mkfs.ext4", ["-q", "-F", "-b", "1024", "-O", "^ea_inode", image])
        #expect(mkfs.status == 0, "\(mkfs.output)")
        let mounted = try Shell.run("/bin/mount", ["-o", "loop", image, pool.siloPath("bulk0")])
        try #require(mounted.status == 0, "\(mounted.output)")
        defer { _ = try? Shell.run("/bin/umount", ["-l", pool.siloPath("bulk0")]) }
        try pool.mount()
        defer { _ = try? pool.unmount() }

        let path = pool.path("tagged.bin")
        let data = Array((0..<100_000).map { UInt8(truncatingIfNeeded: $0) })
        try Data(data).write(to: URL(fileURLWithPath: path))
        let tag = [UInt8](repeating: UInt8(ascii: "t"), count: 3000)
        try Sys.setXattr(path: path, name: "user.notes", value: tag)
        let backing = pool.siloPath("fast0") + "/tagged.bin"
        #expect((backing.withCString { try? Sys.getXattr(AT_FDCWD, $0, "user.notes") }) == tag, "the source silo holds the tag")

        let move = try pool.estuary(["move", path, "--to", "bulk", "--wait"])
        #expect(move.status != 0, "the move must fail: \(move.output)")
        let job = try #require(try jobs(pool).first)
        #expect(job["state"] as? String == "failed", "\(job)")
        #expect((job["error"] as? String ?? "").contains("user.notes"), "\(job)")
        #expect(FileManager.default.fileExists(atPath: backing), "the file stays on fast0")
        #expect(!FileManager.default.fileExists(atPath: pool.siloPath("bulk0") + "/tagged.bin"))
        #expect((backing.withCString { try? Sys.getXattr(AT_FDCWD, $0, "user.notes") }) == tag)
        #expect(try Sys.readAll(try Sys.open(path, flags: O_RDONLY), limit: 1 << 20) == data)
    }
}

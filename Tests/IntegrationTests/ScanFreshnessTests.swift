import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A file rewritten behind the mount with its size and mtime kept (`touch -r`, `tar x`,
/// `rsync --inplace -t` all do this) differs from the indexed one only in ctime or in its
/// backing inode. Once a scan has seen the change, every later open through the mount must
/// read the new bytes, although the kernel cached the old pages first.
@Suite(.serialized)
struct ScanFreshnessTests {
    private static let before = "the first version of the file, 48 bytes long...\n"
    private static let after = "THE OTHER VERSION, SAME LENGTH, SAME MTIME.....\n"

    /// A mounted pool whose bulk0 held `f.txt` before the mount, read once through the mount so
    /// the kernel holds its pages.
    private func mountedAndCached() throws -> (TestPool, String) {
        #expect(Self.before.utf8.count == Self.after.utf8.count)
        let pool = try TestPool(watch: false)
        let backing = pool.siloPath("bulk0") + "/f.txt"
        try Fixtures.write(backing, Self.before)
        try pool.mount()
        #expect(try String(contentsOfFile: pool.path("f.txt"), encoding: .utf8) == Self.before)
        return (pool, backing)
    }

    /// Sets the times of `path` to those `stat` recorded, to the nanosecond.
    private func restoreTimes(_ path: String, _ stat: FileStat) throws {
        var times = [timespec(nanoseconds: stat.atimeNs), timespec(nanoseconds: stat.mtimeNs)]
        guard utimensat(AT_FDCWD, path, &times, AT_SYMLINK_NOFOLLOW) == 0 else { throw Errno.current }
    }

    private func scanUpdatesOne(_ pool: TestPool) throws {
        let result = try pool.estuary(["scan", pool.mountpoint])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.stdout.contains("updated 1,"), "\(result.output)")
    }

    /// Reads through a fresh open, as `cat` would.
    private func readThroughMount(_ pool: TestPool) throws -> String {
        try String(contentsOfFile: pool.path("f.txt"), encoding: .utf8)
    }

    @Test func anInPlaceRewriteKeepingSizeAndMtimeIsReadAfterAScan() throws {
        let (pool, backing) = try mountedAndCached()
        defer { _ = try? pool.unmount() }
        let original = try Sys.statPath(backing)
        // rsync --inplace -t: the same inode, overwritten, its mtime put back.
        let fd = try Sys.open(backing, flags: O_WRONLY)
        _ = try Array(Self.after.utf8).withUnsafeBytes { try Sys.pwrite(fd, $0.baseAddress!, $0.count, 0) }
        close(fd)
        try restoreTimes(backing, original)
        let rewritten = try Sys.statPath(backing)
        #expect(rewritten.inode == original.inode && rewritten.size == original.size && rewritten.mtimeNs == original.mtimeNs)
        try scanUpdatesOne(pool)
        #expect(try readThroughMount(pool) == Self.after)
        #expect(try readThroughMount(pool) == Self.after, "a second open keeps seeing the new bytes")
    }

    @Test func aFileReplacedWithTheSameSizeAndMtimeIsReadAfterAScan() throws {
        let (pool, backing) = try mountedAndCached()
        defer { _ = try? pool.unmount() }
        let original = try Sys.statPath(backing)
        // tar x: a new file in its place, its mtime set from the archive.
        let staged = backing + ".tmp"
        try Fixtures.write(staged, Self.after)
        try restoreTimes(staged, original)
        #expect(rename(staged, backing) == 0)
        #expect(try Sys.statPath(backing).mtimeNs == original.mtimeNs)
        try scanUpdatesOne(pool)
        #expect(try readThroughMount(pool) == Self.after)
    }

    /// Without a scan, an open's freshness check sees the new backing inode and drops the pages.
    @Test func aFileReplacedWithTheSameSizeAndMtimeIsReadAtTheNextOpen() throws {
        let (pool, backing) = try mountedAndCached()
        defer { _ = try? pool.unmount() }
        let original = try Sys.statPath(backing)
        let staged = backing + ".tmp"
        try Fixtures.write(staged, Self.after)
        try restoreTimes(staged, original)
        #expect(rename(staged, backing) == 0)
        #expect(try readThroughMount(pool) == Self.after)
        #expect(try readThroughMount(pool) == Self.after)
    }
}

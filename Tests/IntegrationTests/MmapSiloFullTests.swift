import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A shared mapping that fills its silo: the kernel's writeback of the mapping meets ENOSPC,
/// and the file moves to a silo with room as it does for pwrite, so msync succeeds and every
/// byte is kept.
@Suite(.serialized)
struct MmapSiloFullTests {
    @Test func mappedWritesThatFillASiloMoveTheFile() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: "extent_size = \"1MiB\"")
        try FileManager.default.createDirectory(atPath: pool.siloPath("fast0"), withIntermediateDirectories: true)
        #expect(try Shell.run("/bin/mount", ["-t", "tmpfs", "-o", "size=20m", "tmpfs", pool.siloPath("fast0")]).status == 0)
        defer { _ = try? Shell.run("/bin/umount", ["-l", pool.siloPath("fast0")]) }
        try pool.mount()
        defer { _ = try? pool.unmount() }

        let size = 30 << 20
        let path = pool.path("mapped.bin")
        let fd = try Sys.open(path, flags: O_RDWR | O_CREAT, mode: 0o644)
        defer { close(fd) }
        #expect(ftruncate(fd, off_t(size)) == 0)
        #expect(FileManager.default.fileExists(atPath: pool.siloPath("fast0") + "/mapped.bin"), "created on the fast silo")
        guard let map = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            throw TestFailure("mmap: \(Errno.current)")
        }
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ $0 >> 13) | 1 }
        bytes.withUnsafeBytes { _ = memcpy(map, $0.baseAddress!, size) }
        let synced = msync(map, size, MS_SYNC)
        let syncError = synced == 0 ? nil : Errno.current
        munmap(map, size)
        #expect(synced == 0, "msync: \(String(describing: syncError))")
        #expect(fsync(fd) == 0)

        let reader = try Sys.open(path, flags: O_RDONLY)
        defer { close(reader) }
        let back = try Sys.readAll(reader, limit: 1 << 26)
        #expect(back.count == size && back == bytes, "through the mount")
        let silo = try Sys.readAll(try Sys.open(pool.siloPath("bulk0") + "/mapped.bin", flags: O_RDONLY), limit: 1 << 26)
        #expect(silo.count == size && silo == bytes, "on bulk0, where the file moved")
        #expect(!FileManager.default.fileExists(atPath: pool.siloPath("fast0") + "/mapped.bin"))
    }
}

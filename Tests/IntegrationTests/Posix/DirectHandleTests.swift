import CShims
import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Write-only handles, and read-write handles that begin on an empty file, bypass the mount's
/// page cache (direct_io, see FuseAdapter.directIO). The first check fails if the wrong handles
/// do; the others compare the mount with a native directory for what direct handles must not
/// change: readers through other handles and mappings see the new bytes and size, and a direct
/// handle may itself be mapped shared and sees its mapping's writes (setuid clearing on direct
/// writes: SetuidClearingTests).
@Suite(.serialized, .timeLimit(.minutes(2)))
struct DirectHandleTests {
    private static let mib = 1 << 20

    private func writeFile(_ path: String, flags: Int32, bytes: Int) throws {
        let fd = open(path, flags | O_CREAT, 0o644)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        let block = [UInt8](repeating: 0x5a, count: 256 << 10)
        var offset = 0
        while offset < bytes {
            let n = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, min($0.count, bytes - offset), off_t(offset)) }
            guard n > 0 else { throw Errno.current }
            offset += n
        }
    }

    private func cachedBytes(_ path: String) throws -> Int64 {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        return estuary_cached_bytes(fd, 0, Int64(Self.mib))
    }

    @Test func directHandlesLeaveNothingInTheMountsPageCache() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        // A read-write handle on a file that has data keeps the page cache (the control).
        try Fixtures.write(pool.path("database.dat"), "x")
        try writeFile(pool.path("database.dat"), flags: O_RDWR, bytes: Self.mib)
        let database = try cachedBytes(pool.path("database.dat"))
        try #require(database >= 0, "cachestat is not available on this kernel")
        #expect(database > 0, "a read-write handle on a file with data writes through the page cache")

        try writeFile(pool.path("write-only.dat"), flags: O_WRONLY, bytes: Self.mib)
        try writeFile(pool.path("created.dat"), flags: O_RDWR, bytes: Self.mib)
        try Fixtures.write(pool.path("truncated.dat"), "x")
        try writeFile(pool.path("truncated.dat"), flags: O_RDWR | O_TRUNC, bytes: Self.mib)
        try Fixtures.write(pool.path("was-empty.dat"), "")
        try writeFile(pool.path("was-empty.dat"), flags: O_RDWR, bytes: Self.mib)
        for name in ["write-only.dat", "created.dat", "truncated.dat", "was-empty.dat"] {
            #expect(try cachedBytes(pool.path(name)) == 0, "\(name)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: pool.path(name))) == Data(repeating: 0x5a, count: Self.mib), "\(name)")
        }
    }

    /// A read-write handle made on a new file writes, maps itself shared, writes through the
    /// mapping and through the handle, and reads both ways; a second, cached handle reads too.
    private func readWriteTrace(_ root: String) throws -> [String] {
        let path = root + "/journal.dat"
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0o644)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        func put(_ text: String, at offset: Int) -> Int { text.utf8CString.withUnsafeBytes { pwrite(fd, $0.baseAddress, text.utf8.count, off_t(offset)) } }
        func get(_ handle: Int32, at offset: Int, count: Int = 4) -> String {
            var buf = [UInt8](repeating: 0, count: count)
            let n = pread(handle, &buf, count, off_t(offset))
            return n < 0 ? "error \(errno)" : String(decoding: buf.prefix(n), as: UTF8.self)
        }
        func size() -> Int { var st = stat(); fstat(fd, &st); return Int(st.st_size) }
        var trace = ["wrote \(put(String(repeating: "A", count: 8192), at: 0))"]
        guard let map = mmap(nil, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), map != MAP_FAILED else {
            return trace + ["mmap: errno \(errno)"]
        }
        defer { munmap(map, 8192) }
        func mapped(_ offset: Int) -> String { String(decoding: UnsafeRawBufferPointer(start: map + offset, count: 4), as: UTF8.self) }
        "MMMM".utf8CString.withUnsafeBytes { _ = memcpy(map, $0.baseAddress!, 4) }
        trace.append("mapping wrote; handle reads \(get(fd, at: 0))")
        trace.append("wrote \(put("BBBB", at: 4096)); mapping reads \(mapped(4096)); handle reads \(get(fd, at: 4096))")
        trace.append("wrote \(put("CC", at: 8192)); size \(size()); handle reads \(get(fd, at: 8190))")
        let reader = open(path, O_RDONLY)
        guard reader >= 0 else { throw Errno.current }
        defer { close(reader) }
        trace.append("reader sees \(get(reader, at: 0)) \(get(reader, at: 4096)) \(get(reader, at: 8190))")
        trace.append("wrote \(put("DDDD", at: 0)); reader sees \(get(reader, at: 0)); mapping reads \(mapped(0))")
        trace.append("truncate \(ftruncate(fd, 4100)); size \(size()); reader sees \(get(reader, at: 4096, count: 8))")
        return trace
    }

    /// Runs `trace` in a native directory, checks its last line there, then runs it through the mount.
    private func expectNativeBehaviour(_ trace: (String) throws -> [String], endingWith last: String) throws {
        let pool = try TestPool()
        let native = pool.root + "/native"
        try FileManager.default.createDirectory(atPath: native, withIntermediateDirectories: true)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let want = try trace(native)
        #expect(want.last == last, "native reference: \(want)")
        #expect(try trace(pool.mountpoint) == want)
    }

    @Test func aReadWriteHandleOnANewFileMapsAndReadsLikeALocalFile() throws {
        try expectNativeBehaviour(readWriteTrace, endingWith: "truncate 0; size 4100; reader sees BBBB")
    }

    /// Reads through a cached handle and a shared mapping, then writes through write-only
    /// handles (overwrite, extend, append), then reads again; returns what each read saw.
    private func coherenceTrace(_ root: String) throws -> [String] {
        let path = root + "/shared.dat"
        try Fixtures.write(path, String(repeating: "A", count: 8192))
        let reader = open(path, O_RDONLY)
        guard reader >= 0 else { throw Errno.current }
        defer { close(reader) }
        guard let map = mmap(nil, 8192, PROT_READ, MAP_SHARED, reader, 0), map != MAP_FAILED else { throw Errno.current }
        defer { munmap(map, 8192) }
        func readBack(_ label: String) -> String {
            var buf = [UInt8](repeating: 0, count: 4)
            let n = pread(reader, &buf, 4, 0)
            var tail = [UInt8](repeating: 0, count: 4)
            let t = pread(reader, &tail, 4, 8192)
            var st = stat()
            fstat(reader, &st)
            let mapped = String(decoding: UnsafeRawBufferPointer(start: map, count: 4), as: UTF8.self)
            return "\(label): pread \(String(decoding: buf.prefix(max(0, n)), as: UTF8.self)) tail \(String(decoding: tail.prefix(max(0, t)), as: UTF8.self)) size \(st.st_size) mapped \(mapped)"
        }
        var trace = [readBack("before")]
        for (label, flags, offset, bytes) in [("overwrite", O_WRONLY, 0, "BBBB"), ("extend", O_WRONLY, 8192, "CC"),
                                             ("append", O_WRONLY | O_APPEND, 0, "DD")] {
            let fd = open(path, flags)
            guard fd >= 0 else { throw Errno.current }
            let n = bytes.utf8CString.withUnsafeBytes { flags & O_APPEND != 0 ? write(fd, $0.baseAddress, bytes.utf8.count)
                                                                               : pwrite(fd, $0.baseAddress, bytes.utf8.count, off_t(offset)) }
            close(fd)
            trace.append("\(label) wrote \(n)")
            trace.append(readBack("after \(label)"))
        }
        return trace
    }

    @Test func readersThroughOtherHandlesAndMappingsSeeWriteOnlyWrites() throws {
        try expectNativeBehaviour(coherenceTrace, endingWith: "after append: pread BBBB tail CCDD size 8196 mapped BBBB")
    }
}

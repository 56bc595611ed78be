import CShims
import Foundation
import Synchronization
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Requests reach the daemon through FUSE over io_uring by default (per-CPU queues, see
/// Sources/CFuseRing) or through /dev/fuse (`-o io_uring=off`). Every other suite runs on the
/// default; these check that the ring really carries the requests, that requests and replies at
/// the protocol's size limits cross either transport whole, and that many clients on every CPU
/// at once get their own answers.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct RingTransportTests {
    private static let mib = 1 << 20
    /// This kernel builds FUSE with io_uring support (the module parameter exists).
    private static let kernelHasRing = access("/sys/module/fuse/parameters/enable_uring", F_OK) == 0

    private func transport(_ pool: TestPool) throws -> String {
        let status = try pool.estuary(["status", pool.configPath, "--json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any], "\(status.output)")
        return try #require(json["transport"] as? String, "status lacks the transport: \(status.stdout)")
    }

    private func ringRequests(_ pool: TestPool) throws -> Int {
        let text = try transport(pool)
        guard text.hasPrefix("io_uring"), let count = text.split(separator: " ").dropLast().last.flatMap({ Int($0) }) else { return -1 }
        return count
    }

    @Test func theRingCarriesTheRequestsAndOffKeepsDevFuse() throws {
        try #require(Self.kernelHasRing, "this kernel has no FUSE over io_uring; the default transport is /dev/fuse")
        let pool = try TestPool()
        try pool.mount()
        let before = try ringRequests(pool)
        let shown = try transport(pool)
        #expect(before >= 0, "transport: \(shown)")
        for i in 0..<100 { try Fixtures.write(pool.path("f\(i)"), "x") }
        let after = try ringRequests(pool)
        // Each create is at least a LOOKUP and a CREATE; the status request itself adds none.
        #expect(after - before >= 200, "ring served \(after - before) requests for 100 creates")
        #expect(try pool.unmount() == 0)

        try pool.mount(options: ["-o", "io_uring=off"])
        #expect(try transport(pool) == "/dev/fuse")
        #expect(try String(contentsOfFile: pool.path("f99"), encoding: .utf8) == "x")
        #expect(try pool.unmount() == 0)
    }

    /// Largest requests and replies: 1 MiB writes (write-only handles send them whole) and
    /// reads, cached and O_DIRECT; an xattr value as large as ext4 takes in its block; a
    /// 4,095-byte symlink; a listing of many pages; short reads at the end of a file. Compared
    /// with the bytes written.
    @Test(arguments: ["auto", "off"])
    func payloadsAtTheLimitsCrossWhole(ring: String) throws {
        let pool = try TestPool()
        try pool.mount(options: ["-o", "io_uring=\(ring)"])
        defer { _ = try? pool.unmount() }
        let size = 5 * Self.mib + 12_345
        var bytes = [UInt8](repeating: 0, count: size)
        var state: UInt64 = 0x9e3779b97f4a7c15
        for i in 0..<size { state = state &* 6364136223846793005 &+ 1442695040888963407; bytes[i] = UInt8(truncatingIfNeeded: state >> 33) }

        for (name, flags) in [("wronly.bin", O_WRONLY), ("rdwr.bin", O_RDWR)] {
            let fd = open(pool.path(name), flags | O_CREAT | O_TRUNC, 0o644)
            try #require(fd >= 0)
            var offset = 0
            while offset < size {
                let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, min(Self.mib, size - offset)) }
                try #require(n > 0, "write at \(offset): \(String(cString: strerror(errno)))")
                offset += n
            }
            close(fd)
        }
        for name in ["wronly.bin", "rdwr.bin"] {
            #expect(try Self.readAll(pool.path(name), flags: O_RDONLY, chunk: Self.mib) == bytes, "\(name) cached")
            #expect(try Self.readAll(pool.path(name), flags: O_RDONLY | ESTUARY_O_DIRECT, chunk: Self.mib) == bytes, "\(name) O_DIRECT")
            // A read across the end returns the tail; one past it returns nothing.
            let fd = open(pool.path(name), O_RDONLY)
            var tail = [UInt8](repeating: 0, count: Self.mib)
            let n = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, Self.mib, off_t(size - 100)) }
            let none = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 10, off_t(size + 5)) }
            close(fd)
            #expect(n == 100 && Array(tail.prefix(100)) == Array(bytes.suffix(100)))
            #expect(none == 0)
        }

        let value = Array(bytes.prefix(3_900))
        let set = value.withUnsafeBytes { estuary_lsetxattr(pool.path("rdwr.bin"), "user.big", $0.baseAddress, $0.count, 0) }
        #expect(set == 0, "setxattr: \(String(cString: strerror(errno)))")
        var back = [UInt8](repeating: 0, count: 65_536)
        let got = back.withUnsafeMutableBytes { LibcExtras.lgetxattr(pool.path("rdwr.bin"), "user.big", $0.baseAddress, $0.count) }
        #expect(got == value.count && Array(back.prefix(value.count)) == value)

        let target = String(repeating: "t", count: 4_095)
        #expect(symlink(target, pool.path("long-link")) == 0, "\(String(cString: strerror(errno)))")
        var link = [CChar](repeating: 0, count: 8_192)
        let length = readlink(pool.path("long-link"), &link, link.count)
        #expect(length == 4_095 && String(decoding: link.prefix(max(0, length)).map { UInt8(bitPattern: $0) }, as: UTF8.self) == target)

        try FileManager.default.createDirectory(atPath: pool.path("many"), withIntermediateDirectories: false)
        var names: Set<String> = []
        for i in 0..<2_000 {
            let name = String(format: "%04d-", i) + String(repeating: "n", count: 200)
            names.insert(name)
            let fd = open(pool.path("many/" + name), O_CREAT | O_WRONLY, 0o644)
            try #require(fd >= 0)
            close(fd)
        }
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: pool.path("many"))) == names)
    }

    /// 16 clients at once, spread over the CPUs by the scheduler, each creating, writing,
    /// renaming, reading back and removing its own files: every answer must be its own.
    @Test(arguments: ["auto", "off"])
    func manyClientsOnEveryCPUGetTheirOwnAnswers(ring: String) throws {
        let pool = try TestPool()
        try pool.mount(options: ["-o", "io_uring=\(ring)"])
        defer { _ = try? pool.unmount() }
        let clients = 16, rounds = 150
        let failures = Mutex<[String]>([])
        let root = pool.mountpoint
        DispatchQueue.concurrentPerform(iterations: clients) { client in
            let dir = root + "/c\(client)"
            guard mkdir(dir, 0o755) == 0 else { failures.withLock { $0.append("mkdir c\(client): \(errno)") }; return }
            for round in 0..<rounds {
                let content = Array("client \(client) round \(round) ".utf8) + [UInt8](repeating: UInt8(client), count: (round * 997) % 70_000)
                let a = dir + "/a\(round)", b = dir + "/b\(round)"
                let fd = open(a, O_CREAT | O_EXCL | O_RDWR, 0o600)
                guard fd >= 0 else { failures.withLock { $0.append("create \(a): \(errno)") }; return }
                let written = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
                var st = stat()
                guard written == content.count, rename(a, b) == 0, stat(b, &st) == 0, st.st_size == content.count,
                      (try? Self.readAll(b, flags: O_RDONLY, chunk: 65_536)) == content else {
                    failures.withLock { $0.append("client \(client) round \(round): written \(written), size \(st.st_size), errno \(errno)") }
                    return
                }
                if round % 3 == 0 { unlink(b) }
            }
            let left = (try? FileManager.default.contentsOfDirectory(atPath: dir).count) ?? -1
            let expected = (0..<rounds).filter { $0 % 3 != 0 }.count
            if left != expected { failures.withLock { $0.append("client \(client): \(left) names left, expected \(expected)") } }
        }
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")
    }

    private static func readAll(_ path: String, flags: Int32, chunk: Int) throws -> [UInt8] {
        let fd = open(path, flags)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        // O_DIRECT wants an aligned buffer.
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var out: [UInt8] = []
        while true {
            let n = read(fd, buffer, chunk)
            guard n >= 0 else { throw Errno.current }
            if n == 0 { return out }
            out += UnsafeRawBufferPointer(start: buffer, count: n)
        }
    }
}

import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A bucket made by another client (boto3) as a silo: assimilated in place, read through the
/// mount byte for byte, rescanned when it changes behind the mount, and refused clearly when
/// its key is wrong or it does not exist.
@Suite(.serialized)
struct ObjectSiloAssimilationTests {
    private func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &+ $0 >> 11) }
    }

    @Test func bucketMadeByAnotherClientIsAssimilatedAndReadByteForByte() throws {
        let s3 = try ObjectSiloPool(prefix: "lab/")
        let objects: [String: [UInt8]] = [
            "lab/one-byte": [0x42],
            "lab/extent.bin": pattern(64 << 10, seed: 1),
            "lab/odd size.bin": pattern(5 * (64 << 10) + 321, seed: 2),
            "lab/deep/er/tree/file.txt": Array("deep\n".utf8),
            "lab/big.bin": pattern(3 << 20, seed: 3),
            "outside-the-prefix": [1, 2, 3],
        ]
        try s3.put(objects)
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        let top = try FileManager.default.contentsOfDirectory(atPath: s3.pool.mountpoint).filter { !$0.hasPrefix(".") }.sorted()
        #expect(top == ["big.bin", "deep", "extent.bin", "odd size.bin", "one-byte"])
        for (key, bytes) in objects where key.hasPrefix("lab/") {
            let path = s3.pool.path(String(key.dropFirst(4)))
            #expect(try readWholeFile(path) == bytes, "\(key)")
            var st = stat()
            #expect(stat(path, &st) == 0 && Int(st.st_size) == bytes.count && st.st_mode & 0o777 == 0o644)
        }
        // Random reads inside the large file: ranged GETs, not a whole download.
        let big = objects["lab/big.bin"]!
        let fd = try Sys.open(s3.pool.path("big.bin"), flags: O_RDONLY)
        defer { close(fd) }
        for offset in [2_000_000, 17, 1_048_575, 3_145_000] {
            var buffer = [UInt8](repeating: 0, count: 700)
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 700, off_t(offset)) }
            #expect(n == min(700, big.count - offset))
            #expect(Array(buffer[0..<max(0, n)]) == Array(big[offset..<offset + max(0, n)]))
        }
        let tier = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.tier", s3.pool.path("big.bin")])
        #expect(tier.stdout == "cold")
        // New files go to a local tier, never into the bucket.
        try Data("new".utf8).write(to: URL(fileURLWithPath: s3.pool.path("deep/new.txt")))
        #expect(FileManager.default.fileExists(atPath: s3.pool.siloPath("fast0") + "/deep/new.txt"))
        #expect(try s3.keys().contains("lab/deep/new.txt") == false)
    }

    @Test func rescanFollowsTheBucketAndLeavesUnchangedObjectsAlone() throws {
        let s3 = try ObjectSiloPool()
        try s3.put(["keep.txt": Array("keep".utf8), "change.txt": Array("old".utf8), "remove.txt": Array("bye".utf8)])
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        #expect(try readWholeFile(s3.pool.path("change.txt")) == Array("old".utf8))
        var before = stat()
        _ = stat(s3.pool.path("keep.txt"), &before)
        try s3.server.boto("""
        s3.put_object(Bucket='\(s3.bucket)', Key='change.txt', Body=b'new contents')
        s3.delete_object(Bucket='\(s3.bucket)', Key='remove.txt')
        s3.put_object(Bucket='\(s3.bucket)', Key='added/file', Body=b'added')
        """)
        // An object changed behind the mount: the next open sees its new version and size.
        #expect(try readWholeFile(s3.pool.path("change.txt")) == Array("new contents".utf8))
        let scan = try s3.pool.estuary(["scan", s3.pool.mountpoint, "--json"])
        #expect(scan.status == 0, "\(scan.output)")
        #expect(!FileManager.default.fileExists(atPath: s3.pool.path("remove.txt")))
        #expect(try readWholeFile(s3.pool.path("added/file")) == Array("added".utf8))
        var after = stat()
        _ = stat(s3.pool.path("keep.txt"), &after)
        #expect(after.st_ino == before.st_ino && after.st_mtim.tv_sec == before.st_mtim.tv_sec)
        let json = try JSONSerialization.jsonObject(with: Data(scan.stdout.utf8)) as? [String: Any]
        #expect((json?["unchanged"] as? Int ?? 0) >= 1, "\(scan.stdout)")
    }

    @Test func objectReplacedWhileOpenIsNeverMixedIntoTheRead() throws {
        let s3 = try ObjectSiloPool()
        let first = pattern(1 << 20, seed: 9)
        try s3.put(["f.bin": first])
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        let fd = try Sys.open(s3.pool.path("f.bin"), flags: O_RDONLY)
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 4096)
        #expect(head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, 0) } == 4096)
        try s3.put(["f.bin": pattern(1 << 20, seed: 10)])
        // The handle pinned the first version's ETag: a block not read yet is refused, not
        // served from the new version.
        var tail = [UInt8](repeating: 0, count: 4096)
        let n = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, 900_000) }
        #expect(n < 0 || Array(tail[0..<4096]) == Array(first[900_000..<904_096]))
    }

    @Test func wrongSecretOrMissingBucketIsAClearErrorAndTheRestServes() throws {
        let wrong = try ObjectSiloPool(secret: "definitely-wrong")
        try wrong.pool.mount()
        defer { _ = try? wrong.pool.unmount() }
        try Data("local".utf8).write(to: URL(fileURLWithPath: wrong.pool.path("local.txt")))
        #expect(try readWholeFile(wrong.pool.path("local.txt")) == Array("local".utf8))
        let status = try wrong.pool.estuary(["status", wrong.pool.mountpoint])
        #expect(status.output.contains("archive"))
        #expect(status.output.contains("access denied"), "\(status.output)")
        #expect(!status.output.contains("definitely-wrong"))

        let missing = try ObjectSiloPool(create: false)
        try missing.pool.mount()
        defer { _ = try? missing.pool.unmount() }
        let missingStatus = try missing.pool.estuary(["status", missing.pool.mountpoint])
        #expect(missingStatus.output.contains("bucket does not exist"), "\(missingStatus.output)")
    }
}

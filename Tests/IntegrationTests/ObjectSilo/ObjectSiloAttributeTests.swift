import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Attributes ride with objects as `x-amz-meta-*`: a pool that knows nothing of the files
/// but the bucket (a rebuild from the silos) gives them back their mode, owner, times, tags
/// and inode numbers; objects other clients made get the defaults; hard links stay out.
@Suite(.serialized)
struct ObjectSiloAttributeTests {
    private func attribute(_ path: String, _ name: String) throws -> [UInt8]? {
        let r = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", name, path])
        return r.status == 0 ? Array(r.stdout.utf8) : nil
    }

    @Test func aFreshPoolOverTheBucketRestoresAttributesAndTags() throws {
        let first = try ObjectSiloPool()
        try first.pool.mount()
        try FileManager.default.createDirectory(atPath: first.pool.path("d"), withIntermediateDirectories: true)
        let data = Array("tagged and chmodded\n".utf8)
        try Data(data).write(to: URL(fileURLWithPath: first.pool.path("d/f")))
        #expect(chmod(first.pool.path("d/f"), 0o640) == 0)
        #expect(chown(first.pool.path("d/f"), 1234, 2345) == 0)
        var times = [timespec(tv_sec: 1_500_000_000, tv_nsec: 123_456_789), timespec(tv_sec: 1_600_000_000, tv_nsec: 987_654_321)]
        #expect(utimensat(AT_FDCWD, first.pool.path("d/f"), &times, 0) == 0)
        try Sys.setXattr(path: first.pool.path("d/f"), name: "user.project", value: Array("apollo".utf8))
        try Sys.setXattr(path: first.pool.path("d/f"), name: "user.note", value: Array("a=b&c d%".utf8))
        var before = stat()
        #expect(stat(first.pool.path("d/f"), &before) == 0)
        let out = try first.pool.estuary(["move", first.pool.path("d/f"), "--to", "cold", "--wait"])
        #expect(out.status == 0, "\(out.output)")
        #expect(try first.keys() == ["d/f"])
        try first.pool.unmount()
        // Objects another client made: one bare, one with rclone's mtime.
        try first.server.boto("""
        s3.put_object(Bucket='\(first.bucket)', Key='plain', Body=b'x')
        s3.put_object(Bucket='\(first.bucket)', Key='cloned', Body=b'y', Metadata={'mtime': '1700000000.5'})
        """)

        let second = try ObjectSiloPool(existingBucket: first.bucket)
        try second.pool.mount()
        defer { _ = try? second.pool.unmount() }
        var after = stat()
        #expect(stat(second.pool.path("d/f"), &after) == 0)
        #expect(after.st_mode & 0o7777 == 0o640)
        #expect(after.st_uid == 1234 && after.st_gid == 2345)
        #expect(after.st_mtim.tv_sec == 1_600_000_000 && after.st_mtim.tv_nsec == 987_654_321)
        #expect(try attribute(second.pool.path("d/f"), "user.project") == Array("apollo".utf8))
        #expect(try attribute(second.pool.path("d/f"), "user.note") == Array("a=b&c d%".utf8))
        #expect(try readWholeFile(second.pool.path("d/f")) == data)
        var plain = stat()
        #expect(stat(second.pool.path("plain"), &plain) == 0)
        #expect(plain.st_mode & 0o7777 == 0o644 && plain.st_uid == 0 && plain.st_mtim.tv_sec > 1_700_000_000)
        var cloned = stat()
        #expect(stat(second.pool.path("cloned"), &cloned) == 0)
        #expect(cloned.st_mtim.tv_sec == 1_700_000_000 && cloned.st_mtim.tv_nsec == 500_000_000)
    }

    @Test func hardLinkedFilesStayOutOfTheBucket() throws {
        let s3 = try ObjectSiloPool()
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        try Data("linked".utf8).write(to: URL(fileURLWithPath: s3.pool.path("twice")))
        #expect(link(s3.pool.path("twice"), s3.pool.path("again")) == 0)
        let out = try s3.pool.estuary(["move", s3.pool.path("twice"), "--to", "cold", "--wait"])
        #expect(out.status != 0, "\(out.output)")
        // Refused before any job starts, naming the file (the mover refuses it again if a link appears during the upload).
        #expect(out.output.contains("twice has 2 hard links"), "\(out.output)")
        #expect(try s3.keys().isEmpty)
        #expect(try readWholeFile(s3.pool.path("again")) == Array("linked".utf8))
        // A file already in the bucket gets no second name.
        try Data("single".utf8).write(to: URL(fileURLWithPath: s3.pool.path("once")))
        #expect(try s3.pool.estuary(["move", s3.pool.path("once"), "--to", "cold", "--wait"]).status == 0)
        #expect(link(s3.pool.path("once"), s3.pool.path("other")) == -1 && errno == EPERM)
        #expect(!FileManager.default.fileExists(atPath: s3.pool.path("other")))
    }
}

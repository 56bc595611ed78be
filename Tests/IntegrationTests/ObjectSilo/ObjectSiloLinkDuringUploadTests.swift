import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A hard link made through the mount while its file uploads to a bucket. An object has one
/// key, so the file cannot end in the bucket with two names. link() passes the move gate like
/// a write and succeeds (the file is still local); the upload sees the second name when it
/// holds writers back for the switch, deletes the object it made and fails the move. The file
/// stays whole on its local silo under both names, with no object left: exactly one copy.
@Suite(.serialized)
struct ObjectSiloLinkDuringUploadTests {
    /// Multipart uploads in progress in the bucket, by key.
    private func uploads(_ s3: ObjectSiloPool) throws -> [String] {
        try s3.server.boto("for u in s3.list_multipart_uploads(Bucket='\(s3.bucket)').get('Uploads', []): print(u['Key'])")
            .split(separator: "\n").map(String.init)
    }

    @Test func linkDuringUploadKeepsTheFileLocalAndWhole() throws {
        // 2 MiB/s: the 24 MiB upload (two 16 MiB parts) lasts about 12 s after its parts start.
        let s3 = try ObjectSiloPool(extraConfig: "extent_size = \"64KiB\"\nheat_half_life = 3600\nmove_bandwidth = \"2MiB\"")
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        let data = objectPattern(24 << 20, seed: 11)
        try Data(data).write(to: URL(fileURLWithPath: s3.pool.path("a")))
        var before = stat()
        #expect(stat(s3.pool.path("a"), &before) == 0)

        let move = Process()
        move.executableURL = URL(fileURLWithPath: Shell.estuary)
        move.arguments = ["move", s3.pool.path("a"), "--to", "cold", "--wait"]
        let output = Pipe()
        move.standardOutput = output
        move.standardError = output
        try move.run()
        // The upload is under way once its multipart upload exists on the server.
        var started = false
        for _ in 0..<600 where move.isRunning {
            if try uploads(s3).contains("a") { started = true; break }
            usleep(50_000)
        }
        #expect(started, "no multipart upload of 'a' was seen")
        let linked = link(s3.pool.path("a"), s3.pool.path("b"))
        let linkErrno = errno
        let log = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        move.waitUntilExit()

        #expect(linked == 0, "link during the upload: errno \(linkErrno)")
        #expect(move.terminationStatus != 0 && log.contains("hard link"), "the move: \(move.terminationStatus) \(log)")
        // No object and no upload left in the bucket.
        #expect(try s3.keys().isEmpty)
        #expect(try uploads(s3).isEmpty)
        // One local file with both names, whole.
        let silo = s3.pool.siloPath("fast0")
        var sa = stat(), sb = stat()
        #expect(stat(silo + "/a", &sa) == 0 && stat(silo + "/b", &sb) == 0 && sa.st_ino == sb.st_ino && sa.st_nlink == 2)
        #expect(!FileManager.default.fileExists(atPath: s3.pool.siloPath("bulk0") + "/a"))
        #expect(try readWholeFile(s3.pool.path("a")) == data)
        #expect(try readWholeFile(s3.pool.path("b")) == data)
        var after = stat()
        #expect(stat(s3.pool.path("a"), &after) == 0 && after.st_ino == before.st_ino && after.st_nlink == 2)

        // With one name again the move goes through: the refusal was the second name alone.
        #expect(unlink(s3.pool.path("b")) == 0)
        let again = try s3.pool.estuary(["move", s3.pool.path("a"), "--to", "cold", "--wait"])
        #expect(again.status == 0, "\(again.output)")
        #expect(try s3.keys() == ["a"])
        #expect(try readWholeFile(s3.pool.path("a")) == data)
        #expect(!FileManager.default.fileExists(atPath: silo + "/a"))
        // In the bucket, a new name is refused outright.
        #expect(link(s3.pool.path("a"), s3.pool.path("c")) == -1 && errno == EPERM)
    }
}

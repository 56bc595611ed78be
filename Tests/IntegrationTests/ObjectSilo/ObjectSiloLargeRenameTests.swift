import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A rename of a file whose object is over the client's copy limit (5 GiB in use, where
/// CopyObject refuses the source) goes through a multipart copy: the daemon runs with the
/// test knob ESTUARY_S3_COPY_LIMIT at 5 MiB so a ~20 MiB file takes that path.
@Suite(.serialized)
struct ObjectSiloLargeRenameTests {
    /// The object's metadata (sorted JSON, without the content ETag), its ETag and the content
    /// ETag a server-side copy carried, as boto3 sees them.
    private func described(_ s3: ObjectSiloPool, _ key: String) throws -> (metadata: String, etag: String, content: String) {
        let out = try s3.server.boto("""
        import json
        h = s3.head_object(Bucket='\(s3.bucket)', Key='\(key)')
        m = dict(h['Metadata']); c = m.pop('content-etag', '-')
        print(json.dumps(m, sort_keys=True)); print(h['ETag'].strip('"')); print(c)
        """)
        let lines = out.split(separator: "\n").map(String.init)
        return (lines.first ?? "", lines.dropFirst().first ?? "", lines.dropFirst(2).first ?? "")
    }

    /// `estuary verify` re-reads every bucket file and checks its bytes.
    private func verified(_ s3: ObjectSiloPool) throws {
        let result = try s3.pool.estuary(["verify", s3.pool.mountpoint])
        #expect(result.status == 0, "\(result.output)")
    }

    @Test func renameOverTheCopyLimitCopiesPartByPart() throws {
        let s3 = try ObjectSiloPool()
        try s3.pool.mount(environment: ["ESTUARY_S3_COPY_LIMIT": String(5 << 20)])
        let data = objectPattern((20 << 20) + 12_345, seed: 9)
        try Data(data).write(to: URL(fileURLWithPath: s3.pool.path("big.bin")))
        #expect(chmod(s3.pool.path("big.bin"), 0o640) == 0)
        try Sys.setXattr(path: s3.pool.path("big.bin"), name: "user.project", value: Array("apollo".utf8))
        let moved = try s3.pool.estuary(["move", s3.pool.path("big.bin"), "--to", "cold", "--wait"])
        #expect(moved.status == 0, "\(moved.output)")
        #expect(try s3.keys() == ["big.bin"])
        let before = try described(s3, "big.bin")
        #expect(before.metadata.contains("apollo"), "\(before.metadata)")

        try FileManager.default.createDirectory(atPath: s3.pool.path("dir"), withIntermediateDirectories: false)
        #expect(Glibc.rename(s3.pool.path("big.bin"), s3.pool.path("dir/renamed.bin")) == 0)
        // The read waits for the copy.
        #expect(try readWholeFile(s3.pool.path("dir/renamed.bin")) == data)
        #expect(try s3.keys() == ["dir/renamed.bin"])
        let after = try described(s3, "dir/renamed.bin")
        // Five parts of 5 MiB: the multipart copy, not CopyObject (which keeps the source's ETag).
        #expect(after.etag.hasSuffix("-5") && after.etag != before.etag, "ETag \(before.etag) -> \(after.etag)")
        #expect(after.metadata == before.metadata)
        // The copy carries the ETag the upload's bytes gave, which verify checks them against.
        #expect(after.content == before.etag, "content ETag \(after.content), uploaded as \(before.etag)")
        #expect(try s3.object("dir/renamed.bin") == data)
        try verified(s3)
        try s3.pool.unmount()

        // A rebuild from the bucket alone restores the attributes the metadata carried.
        try FileManager.default.removeItem(atPath: s3.pool.root + "/state")
        try s3.pool.mount()
        defer { _ = try? s3.pool.unmount() }
        var st = stat()
        #expect(stat(s3.pool.path("dir/renamed.bin"), &st) == 0 && st.st_mode & 0o777 == 0o640 && st.st_size == off_t(data.count))
        let tag = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.project", s3.pool.path("dir/renamed.bin")])
        #expect(tag.stdout == "apollo")
        #expect(try readWholeFile(s3.pool.path("dir/renamed.bin")) == data)
    }

    /// An attribute write-back of an object over the copy limit: the object is copied onto
    /// itself part by part with the new metadata, and its bytes stay.
    @Test func attributeWriteBackOverTheCopyLimitCopiesPartByPart() throws {
        let s3 = try ObjectSiloPool()
        try s3.pool.mount(environment: ["ESTUARY_S3_COPY_LIMIT": String(5 << 20)])
        defer { _ = try? s3.pool.unmount() }
        let data = objectPattern((20 << 20) + 777, seed: 4)
        try Data(data).write(to: URL(fileURLWithPath: s3.pool.path("big.bin")))
        let moved = try s3.pool.estuary(["move", s3.pool.path("big.bin"), "--to", "cold", "--wait"])
        #expect(moved.status == 0, "\(moved.output)")
        let before = try described(s3, "big.bin")
        #expect(!before.metadata.contains("gemini"))

        try Sys.setXattr(path: s3.pool.path("big.bin"), name: "user.project", value: Array("gemini".utf8))
        var after = before
        for _ in 0..<300 where !after.metadata.contains("gemini") {
            usleep(100_000)
            after = try described(s3, "big.bin")
        }
        #expect(after.metadata.contains("gemini"), "the tag never reached the object: \(after.metadata)")
        // Five parts of 5 MiB onto itself: a multipart ETag (CopyObject would keep the old one).
        #expect(after.etag.hasSuffix("-5") && after.etag != before.etag, "ETag \(before.etag) -> \(after.etag)")
        #expect(try s3.object("big.bin") == data)
        // The index follows the new version: a read through the mount still gets the bytes.
        #expect(try readWholeFile(s3.pool.path("big.bin")) == data)
        #expect(after.content == before.etag, "content ETag \(after.content), uploaded as \(before.etag)")
        try verified(s3)
    }
}

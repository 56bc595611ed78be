@testable import ObjectStore
import Testing
import TestSupport

/// Copies above the client's single-copy limit go part by part (UploadPartCopy) on the real
/// server: the bytes and the `x-amz-meta-*` arrive whole, and a source replaced since it was
/// looked at fails the copy instead of mixing versions. The limit is set to 5 MiB so a
/// ~20 MiB object takes the multipart path that 5 GiB ones take in use.
@Suite(.serialized)
struct S3MultipartCopyTests {
    let server: SeaweedServer

    init() throws { server = try SeaweedServer.shared() }

    private func client(_ bucket: String, copyLimit: Int64) throws -> S3Client {
        var limits = TransferLimits()
        limits.copyLimit = copyLimit
        let endpoint = try S3Endpoint(endpoint: server.endpoint, bucket: bucket, region: "us-east-1")
        return S3Client(endpoint: endpoint, credentials: S3Credentials(accessKey: SeaweedServer.accessKey, secretKey: SeaweedServer.secretKey, source: "test"),
                        limits: limits)
    }

    private func makeBucket() throws -> String {
        let bucket = server.uniqueBucket("mpcopy")
        try server.boto("s3.create_bucket(Bucket='\(bucket)')")
        return bucket
    }

    private func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ seed &+ $0 >> 12) }
    }

    /// The whole object through a sink (a collected body stops at 16 MiB).
    private func read(_ s3: S3Client, _ key: String, size: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        let n = try out.withUnsafeMutableBytes { try s3.get(key, range: 0..<Int64(size), into: $0) }
        return n == size ? out : []
    }

    @Test func largeObjectIsCopiedPartByPartWithItsMetadata() throws {
        let bucket = try makeBucket()
        let s3 = try client(bucket, copyLimit: 5 << 20)
        // Four whole 5 MiB parts and a short fifth.
        let data = pattern((20 << 20) + 12_345, seed: 3)
        let metadata = ["mode": "100640", "uid": "1000", "mtime": "1700000000.123456789", "tag-user.project": "apollo"]
        _ = try data.withUnsafeBytes { try s3.put("src/big file.bin", body: $0, metadata: metadata) }
        let source = try s3.head("src/big file.bin")
        try s3.copy(source, to: "dst/big file.bin")
        let copied = try s3.head("dst/big file.bin")
        #expect(copied.size == Int64(data.count))
        // A multipart object's ETag counts its parts: the copy went part by part.
        #expect(copied.etag.hasSuffix("-5"), "ETag \(copied.etag)")
        // The metadata, plus the ETag the source's bytes gave (the copy's own is the server's).
        #expect(copied.metadata == metadata.merging([S3Client.contentETagKey: source.etag]) { $1 })
        #expect(try read(s3, "dst/big file.bin", size: data.count) == data)
        // boto3 reads the same bytes.
        let md5 = try server.boto("import hashlib; print(hashlib.md5(s3.get_object(Bucket='\(bucket)', Key='dst/big file.bin')['Body'].read()).hexdigest())")
        #expect(md5.split(separator: "\n").first.map(String.init) == Digests.hex(Digests.md5(data)))
        #expect(try read(s3, "src/big file.bin", size: data.count) == data, "the source is left alone")

        // At or under the limit, one CopyObject (the ETag stays the source's MD5).
        let small = pattern(5 << 20, seed: 4)
        _ = try small.withUnsafeBytes { try s3.put("small", body: $0, metadata: ["mode": "100600"]) }
        try s3.copy(try s3.head("small"), to: "small-copy")
        let smallCopy = try s3.head("small-copy")
        #expect(smallCopy.etag == Digests.hex(Digests.md5(small)) && smallCopy.metadata["mode"] == "100600")
    }

    @Test func replacedSourceFailsTheCopyAndLeavesNoObject() throws {
        let bucket = try makeBucket()
        let s3 = try client(bucket, copyLimit: 5 << 20)
        let first = pattern(12 << 20, seed: 5)
        _ = try first.withUnsafeBytes { try s3.put("f", body: $0) }
        let stale = try s3.head("f")
        let second = pattern(12 << 20, seed: 6)
        _ = try second.withUnsafeBytes { try s3.put("f", body: $0) }
        var caught: S3Error?
        do throws(S3Error) { try s3.multipartCopy(stale, to: "g", metadata: [:], parallel: 4) } catch { caught = error }
        #expect(caught?.kind == .changed, "\(String(describing: caught))")
        #expect(throws: S3Error.self) { try s3.head("g") }
        // The failed copy's upload was aborted.
        let uploads = try server.boto("print(len(s3.list_multipart_uploads(Bucket='\(bucket)').get('Uploads', [])))")
        #expect(uploads.split(separator: "\n").first == "0")
    }

    @Test func partSizesStayWithinS3Bounds() {
        #expect(S3Client.copyPartSize(size: 20 << 20, limit: 5 << 20) == 5 << 20)
        #expect(S3Client.copyPartSize(size: 6 << 30, limit: 5 << 30) == 512 << 20)
        // 5 TiB, S3's largest object: under 10,000 parts.
        let huge: Int64 = 5 << 40
        let part = S3Client.copyPartSize(size: huge, limit: 5 << 30)
        #expect((huge + part - 1) / part <= 10_000 && part <= 5 << 30)
    }
}

/// The client's own SigV4 (for the requests curl 7.x signs out of order) against the worked
/// example in AWS's documentation (GET /test.txt with a Range, 24 May 2013).
struct SigV4Tests {
    @Test func signsTheDocumentedExample() {
        let credentials = S3Credentials(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", source: "test")
        let added = SigV4.sign("GET", url: "https://examplebucket.s3.amazonaws.com/test.txt",
                               headers: ["Range: bytes=0-9", "x-amz-content-sha256: \(Digests.emptySHA256)"],
                               credentials: credentials, region: "us-east-1", now: 1_369_353_600)
        #expect(added == ["x-amz-date: 20130524T000000Z",
                          "Authorization: AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                          + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"])
    }
}

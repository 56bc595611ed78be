import ObjectStore
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The client against a real S3 server (SeaweedFS checking every signature): each operation,
/// objects made by boto3, wrong secrets and missing buckets.
@Suite(.serialized)
struct S3ClientTests {
    let server: SeaweedServer

    init() throws { server = try SeaweedServer.shared() }

    private func client(_ bucket: String, secret: String = SeaweedServer.secretKey) throws -> S3Client {
        let endpoint = try S3Endpoint(endpoint: server.endpoint, bucket: bucket, region: "us-east-1")
        return S3Client(endpoint: endpoint, credentials: S3Credentials(accessKey: SeaweedServer.accessKey, secretKey: secret, source: "test"))
    }

    private func makeBucket() throws -> String {
        let bucket = server.uniqueBucket("client")
        try server.boto("s3.create_bucket(Bucket='\(bucket)')")
        return bucket
    }

    private func pattern(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ seed &+ $0 >> 12) }
    }

    @Test func putGetHeadDeleteRoundTrip() throws {
        let bucket = try makeBucket()
        let s3 = try client(bucket)
        let data = pattern(100_000, seed: 1)
        let key = "dir/with space/ünïcode+plus.bin"
        let etag = try data.withUnsafeBytes { try s3.put(key, body: $0, metadata: ["mode": "100644"]) }
        #expect(etag == Digests.hex(Digests.md5(data)))
        let info = try s3.head(key)
        #expect(info.size == 100_000 && info.etag == etag && info.metadata["mode"] == "100644")
        #expect(try s3.get(key) == data)
        var slice = [UInt8](repeating: 0, count: 1000)
        let n = try slice.withUnsafeMutableBytes { try s3.get(key, range: 5000..<6000, ifMatch: etag, into: $0) }
        #expect(n == 1000 && slice == Array(data[5000..<6000]))
        // boto3 sees the same bytes: the key was encoded and signed as S3 expects.
        let seen = try server.boto("import hashlib; print(hashlib.md5(s3.get_object(Bucket='\(bucket)', Key='\(key)')['Body'].read()).hexdigest())")
        #expect(seen.trimmingCharacters(in: .whitespacesAndNewlines) == etag)
        try s3.delete(key)
        #expect(throws: S3Error.self) { try s3.head(key) }
    }

    @Test func ifMatchRefusesAnotherVersion() throws {
        let bucket = try makeBucket()
        let s3 = try client(bucket)
        let first = try [UInt8](repeating: 1, count: 10).withUnsafeBytes { try s3.put("f", body: $0) }
        try [UInt8](repeating: 2, count: 10).withUnsafeBytes { _ = try s3.put("f", body: $0) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 10, alignment: 8)
        defer { buffer.deallocate() }
        #expect(failure { () throws(S3Error) in _ = try s3.get("f", range: 0..<10, ifMatch: first, into: buffer) }?.kind == .changed)
    }

    @Test func listingPaginatesAndFoldsPrefixes() throws {
        let bucket = try makeBucket()
        try server.boto("""
        for i in range(25): s3.put_object(Bucket='\(bucket)', Key='top/f%02d' % i, Body=b'x' * i)
        s3.put_object(Bucket='\(bucket)', Key='top/sub/a', Body=b'a')
        s3.put_object(Bucket='\(bucket)', Key='top/sub2/b', Body=b'b')
        """)
        let s3 = try client(bucket)
        var names: [String] = [], prefixes: [String] = []
        var token: String?
        var pages = 0
        repeat {
            let page = try s3.list(prefix: "top/", continuation: token, maxKeys: 7)
            names += page.objects.map(\.key); prefixes += page.prefixes
            token = page.continuation
            pages += 1
        } while token != nil
        #expect(pages >= 4)
        #expect(names == (0..<25).map { String(format: "top/f%02d", $0) })
        #expect(Set(prefixes) == ["top/sub/", "top/sub2/"])
        #expect(try s3.listAll(prefix: "top/").objects.first { $0.key == "top/f03" }?.size == 3)
    }

    /// A listing names an object's version as its HEAD does (SeaweedFS escapes the ETag's
    /// quotes as &#34; in XML): otherwise every rescan took unchanged objects for changed ones.
    @Test func listingAndHeadAgreeOnETags() throws {
        let bucket = try makeBucket()
        let s3 = try client(bucket)
        let body = pattern(1000, seed: 7)
        try body.withUnsafeBytes { _ = try s3.put("k", body: $0) }
        let listed = try #require(try s3.listAll(prefix: "").objects.first { $0.key == "k" })
        #expect(listed.etag == (try s3.head("k")).etag)
        #expect(!listed.etag.contains("&") && !listed.etag.contains("\""))
    }

    /// Metadata replaced in place by a copy onto itself, only on the version named.
    @Test func replaceMetadataKeepsTheBytesAndChecksTheVersion() throws {
        let bucket = try makeBucket()
        let s3 = try client(bucket)
        let body = pattern(3000, seed: 8)
        let etag = try body.withUnsafeBytes { try s3.put("m", body: $0, metadata: ["mode": "644"]) }
        let after = try s3.replaceMetadata("m", ifMatch: etag, metadata: ["mode": "600", "tags": "user.a=b%20c"])
        let info = try s3.head("m")
        #expect(info.etag == after && info.metadata == ["mode": "600", "tags": "user.a=b%20c"])
        #expect(try s3.get("m") == body)
        #expect(throws: S3Error.self) { _ = try s3.replaceMetadata("m", ifMatch: "0123456789abcdef0123456789abcdef", metadata: ["mode": "000"]) }
        #expect(try s3.head("m").metadata["mode"] == "600")
    }

    @Test func multipartUploadOfAFileIsVerified() throws {
        let bucket = try makeBucket()
        let s3 = try client(bucket)
        let data = pattern((11 << 20) + 12345, seed: 7)
        let path = "/tmp/estuary-upload-\(getpid())"
        let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        defer { close(fd); unlink(path) }
        #expect(data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == data.count)
        let upload = ObjectUpload(client: s3, partSize: 5 << 20, parallel: 3)
        let etag = try upload.upload(fd: fd, size: Int64(data.count), key: "big.bin", metadata: ["mtime": "1"])
        #expect(etag.hasSuffix("-3"))
        #expect(try s3.get("big.bin") == data)
        try s3.copy(from: "big.bin", to: "copy.bin")
        #expect(try s3.head("copy.bin").size == Int64(data.count))
    }

    /// The error `body` throws, nil when it succeeds.
    private func failure(_ body: () throws(S3Error) -> Void) -> S3Error? {
        do { try body(); return nil } catch { return error }
    }

    @Test func wrongSecretAndMissingBucketSayWhatIsWrong() throws {
        let bucket = try makeBucket()
        let wrong = try client(bucket, secret: "not-the-secret")
        let denied = failure { () throws(S3Error) in try wrong.checkBucket() }
        #expect(denied?.kind == .denied)
        #expect(denied.map { !$0.description.contains("not-the-secret") } == true)
        let missing = try client("no-such-bucket-here")
        #expect(failure { () throws(S3Error) in try missing.checkBucket() }?.kind == .noSuchBucket)
        let endpoint = try S3Endpoint(endpoint: "http://127.0.0.1:1", bucket: bucket, region: "us-east-1")
        var limits = TransferLimits()
        limits.attempts = 2
        limits.backoffMilliseconds = 1
        let unreachable = S3Client(endpoint: endpoint, credentials: S3Credentials(accessKey: "a", secretKey: "b", source: "test"), limits: limits)
        #expect(failure { () throws(S3Error) in try unreachable.checkBucket() }?.kind == .unreachable)
    }

    @Test func credentialsComeFromFilesAndTheEnvironment() throws {
        let path = "/tmp/estuary-creds-\(getpid())"
        let text = "[default]\naws_access_key_id = AK1\naws_secret_access_key = SK1\n\n[profile other]\naws_access_key_id=AK2\naws_secret_access_key=SK2\naws_session_token=T2\n"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        defer { unlink(path) }
        #expect(try S3Credentials.resolve(file: path, environment: [:]).accessKey == "AK1")
        let other = try S3Credentials.resolve(file: nil, environment: ["AWS_PROFILE": "other", "AWS_SHARED_CREDENTIALS_FILE": path])
        #expect(other.secretKey == "SK2" && other.sessionToken == "T2")
        #expect(!other.description.contains("SK2"))
        let env = try S3Credentials.resolve(file: nil, environment: ["AWS_ACCESS_KEY_ID": "E1", "AWS_SECRET_ACCESS_KEY": "E2"])
        #expect(env.accessKey == "E1")
        #expect(throws: S3Error.self) { try S3Credentials.resolve(file: "/nonexistent/creds", environment: [:]) }
    }

    @Test func addressingStyles() throws {
        let aws = try S3Endpoint(endpoint: "https://s3.eu-west-1.amazonaws.com/", bucket: "b", region: "eu-west-1")
        #expect(aws.url(key: "a b/c") == "https://b.s3.eu-west-1.amazonaws.com/a%20b/c")
        let local = try S3Endpoint(endpoint: "http://127.0.0.1:9000", bucket: "b", region: "us-east-1")
        #expect(local.url(key: "x", query: "uploads=") == "http://127.0.0.1:9000/b/x?uploads=")
        #expect(throws: S3Error.self) { try S3Endpoint(endpoint: "s3.amazonaws.com", bucket: "b", region: "r") }
    }
}

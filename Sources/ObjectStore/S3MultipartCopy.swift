import Synchronization

/// Server-side copies of any size. CopyObject takes sources up to `limits.copyLimit` (5 GiB on
/// S3); a larger one is copied as a multipart upload whose parts are ranges of the source
/// (UploadPartCopy), each pinned to the source's ETag so a source replaced meanwhile fails
/// the copy instead of mixing versions. A multipart upload starts with no metadata of its
/// own, so the source's `x-amz-meta-*` go on CreateMultipartUpload.
extension S3Client {
    /// Copies `source` (as a listing or a HEAD describes it) to `key` with its metadata.
    public func copy(_ source: ObjectInfo, to key: String, parallel: Int = 4) throws(S3Error) {
        guard source.size > limits.copyLimit else { return try copy(from: source.key, to: key) }
        // A listing carries no metadata and may be older than the object: the HEAD names the
        // version every part is pinned to.
        let current = try head(source.key)
        var metadata = current.metadata
        metadata[S3Client.contentETagKey] = S3Client.contentETag(of: current)
        try multipartCopy(current, to: key, metadata: metadata, parallel: parallel)
    }

    /// `x-amz-meta-content-etag`: the ETag the object's bytes gave when Estuary uploaded them,
    /// kept across server-side copies. A copy gets an ETag of the server's making (a multipart
    /// copy's is not a digest of the bytes on every server: SeaweedFS's is not), so
    /// `estuary verify` checks the bytes against this one when it is there.
    public static let contentETagKey = "content-etag"

    /// The content ETag of `info` (a HEAD): the one it carries from an earlier copy, else its own.
    static func contentETag(of info: ObjectInfo) -> String {
        info.metadata[contentETagKey] ?? info.etag
    }

    /// Bytes per part: at least 5 MiB (S3's floor), few enough parts for S3's 10,000, and no
    /// more than the single-copy limit (a server may cap a part's range as it caps a copy).
    static func copyPartSize(size: Int64, limit: Int64) -> Int64 {
        let floor: Int64 = 5 << 20
        let forCount = (size + 9_999) / 10_000
        return max(floor, forCount, min(limit, 512 << 20))
    }

    func multipartCopy(_ source: ObjectInfo, to key: String, metadata: [String: String], parallel: Int) throws(S3Error) {
        let partSize = S3Client.copyPartSize(size: source.size, limit: limits.copyLimit)
        let parts = Int((source.size + partSize - 1) / partSize)
        let uploadID = try createMultipart(key, metadata: metadata)
        let etags = Mutex<[Int: String]>([:])
        do throws(S3Error) {
            try ParallelTransfers.run(Array(0..<parts), width: parallel) { part throws(S3Error) in
                let start = Int64(part) * partSize
                let end = min(source.size, start + partSize)
                let etag = try self.copyPart(source, range: start..<end, key: key, uploadID: uploadID, number: part + 1)
                etags.withLock { $0[part] = etag }
            }
            let done = etags.withLock { $0 }
            try completeMultipart(key, uploadID: uploadID, parts: (0..<parts).map { (number: $0 + 1, etag: done[$0]!) })
            let copied = try head(key)
            guard copied.size == source.size else {
                throw S3Error(.invalid, message: "\(key) holds \(copied.size) bytes after the copy of \(source.key), not \(source.size)")
            }
        } catch {
            try? abortMultipart(key, uploadID: uploadID)
            throw error
        }
    }

    /// One part: `range` of the source, only if it is still the version named by its ETag.
    func copyPart(_ source: ObjectInfo, range: Range<Int64>, key: String, uploadID: String, number: Int) throws(S3Error) -> String {
        let query = S3Endpoint.query([("partNumber", String(number)), ("uploadId", uploadID)])
        var request = HTTPRequest(method: "PUT", url: endpoint.url(key: key, query: query))
        request.headers.append("x-amz-copy-source: /\(endpoint.bucket)/\(S3Endpoint.encode(source.key, keepSlash: true))")
        request.headers.append("x-amz-copy-source-range: bytes=\(range.lowerBound)-\(range.upperBound - 1)")
        request.headers.append("x-amz-copy-source-if-match: \"\(source.etag)\"")
        // curl 7.x would sort x-amz-copy-source after x-amz-copy-source-range when signing.
        request.signsItself = true
        let response = try send(request)
        // Like CopyObject, UploadPartCopy can fail after its 200 (the error is in the body).
        let answer = S3XML(response.body)
        if let code = answer.first("Code") {
            throw S3Error(code == "PreconditionFailed" ? .changed : .server, status: 200, code: code, message: answer.first("Message") ?? "")
        }
        guard let etag = answer.first("ETag").map(S3Client.unquote), !etag.isEmpty else {
            throw S3Error(.invalid, message: "no ETag for part \(number) of the copy of \(source.key) to \(key)")
        }
        return etag
    }
}

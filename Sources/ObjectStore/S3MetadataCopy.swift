/// Rewriting an object's metadata in place: S3 has no call for it, so the object is copied
/// onto itself on the server with the metadata replaced. Kept apart from `copy` (renames),
/// which keeps the source's metadata.
extension S3Client {
    /// Replaces the `x-amz-meta-*` of `key` with `metadata`, provided the object is still the
    /// version `ifMatch` names (else `.changed`: someone wrote another object there). Returns
    /// the object's ETag afterwards, which some servers change (AWS gives a multipart object
    /// a new one) and others keep. CopyObject's limit applies: objects up to 5 GiB; larger
    /// ones go through `replaceMetadata(of:metadata:)`.
    ///
    /// The condition is `If-Match` (a conditional write on the destination, which is the
    /// source), not `x-amz-copy-source-if-match`: libcurl's SigV4 (7.88, Debian 12) sorts
    /// the signed headers as "name:value" lines, so a header whose name extends another's
    /// (`x-amz-copy-source-if-match` after `x-amz-copy-source`) comes first and the server
    /// rejects the signature. `If-Match` is not signed, and SeaweedFS and S3 honour it.
    public func replaceMetadata(_ key: String, ifMatch etag: String, metadata: [String: String]) throws(S3Error) -> String {
        var request = HTTPRequest(method: "PUT", url: endpoint.url(key: key))
        request.headers.append("x-amz-copy-source: /\(endpoint.bucket)/\(S3Endpoint.encode(key, keepSlash: true))")
        request.headers.append("If-Match: \"\(etag)\"")
        request.headers.append("x-amz-metadata-directive: REPLACE")
        request.headers += S3Client.metadataHeaders(metadata)
        let response = try send(request)
        let xml = S3XML(response.body)
        // CopyObject can fail after its 200 (the error is in the body).
        if xml.first("Code") != nil { throw S3Client.error(HTTPResponse(status: 500, headers: [:], body: response.body, received: 0), request) }
        if let copied = xml.first("ETag"), !copied.isEmpty { return S3Client.unquote(copied) }
        return try head(key).etag
    }

    /// `replaceMetadata` for an object `info` describes (a HEAD: key, size, ETag), of any size:
    /// above the client's copy limit the object is copied onto itself as a multipart copy,
    /// each part pinned to `info.etag`, with `metadata` set on CreateMultipartUpload. The
    /// object then has a multipart ETag, which is returned.
    public func replaceMetadata(of info: ObjectInfo, metadata: [String: String], parallel: Int = 4) throws(S3Error) -> String {
        var metadata = metadata
        metadata[S3Client.contentETagKey] = S3Client.contentETag(of: info)
        guard info.size > limits.copyLimit else { return try replaceMetadata(info.key, ifMatch: info.etag, metadata: metadata) }
        try multipartCopy(info, to: info.key, metadata: metadata, parallel: parallel)
        return try head(info.key).etag
    }
}

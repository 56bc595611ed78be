import Synchronization
import Syscalls

/// Multipart upload: an object assembled from parts sent in parallel, each checked by the
/// server against its Content-MD5. The object appears only when the upload completes, so a
/// crash part-way leaves no object at all, only an upload to abort.
extension S3Client {
    public func createMultipart(_ key: String, metadata: [String: String] = [:]) throws(S3Error) -> String {
        var request = HTTPRequest(method: "POST", url: endpoint.url(key: key, query: "uploads="))
        request.headers += S3Client.metadataHeaders(metadata)
        let response = try send(request)
        guard let id = S3XML(response.body).first("UploadId") else { throw S3Error(.invalid, message: "no UploadId for \(key)") }
        return id
    }

    /// Sends part `number` (from 1); returns its ETag, which the server computed as the MD5 it
    /// checked.
    public func uploadPart(_ key: String, uploadID: String, number: Int, body: UnsafeRawBufferPointer) throws(S3Error) -> String {
        let query = S3Endpoint.query([("partNumber", String(number)), ("uploadId", uploadID)])
        var request = HTTPRequest(method: "PUT", url: endpoint.url(key: key, query: query), body: body)
        request.headers.append("Content-MD5: \(Digests.base64(Digests.md5(body)))")
        let response = try send(request, payloadHash: "UNSIGNED-PAYLOAD")
        return S3Client.unquote(response.headers["etag"] ?? "")
    }

    /// Assembles the parts; the object's ETag.
    @discardableResult
    public func completeMultipart(_ key: String, uploadID: String, parts: [(number: Int, etag: String)]) throws(S3Error) -> String {
        var xml = "<CompleteMultipartUpload>"
        for part in parts { xml += "<Part><PartNumber>\(part.number)</PartNumber><ETag>\"\(part.etag)\"</ETag></Part>" }
        xml += "</CompleteMultipartUpload>"
        let body = Array(xml.utf8)
        let result = body.withUnsafeBytes { bytes -> Result<HTTPResponse, S3Error> in
            var request = HTTPRequest(method: "POST", url: endpoint.url(key: key, query: S3Endpoint.query([("uploadId", uploadID)])), body: bytes)
            request.headers.append("Content-Type: application/xml")
            do throws(S3Error) { return .success(try send(request, payloadHash: Digests.hex(Digests.sha256(body)))) } catch { return .failure(error) }
        }
        let response = try result.get()
        // Complete can fail after its 200 (the error is in the body).
        let answer = S3XML(response.body)
        if let code = answer.first("Code") { throw S3Error(.server, status: 200, code: code, message: answer.first("Message") ?? "") }
        return S3Client.unquote(answer.first("ETag") ?? "")
    }

    public func abortMultipart(_ key: String, uploadID: String) throws(S3Error) {
        do { _ = try send(HTTPRequest(method: "DELETE", url: endpoint.url(key: key, query: S3Endpoint.query([("uploadId", uploadID)])))) }
        catch where error.kind == .noSuchKey {}
    }
}

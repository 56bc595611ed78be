#if canImport(Glibc)
import Glibc
#endif

/// What a listing or a HEAD says of one object.
public struct ObjectInfo: Sendable, Equatable {
    /// The whole key, prefix included.
    public var key: String
    public var size: Int64
    /// Without the quotes S3 puts around it.
    public var etag: String
    /// Nanoseconds since the epoch.
    public var lastModified: Int64
    /// `x-amz-meta-*` values by name without the prefix (HEAD only; a listing has none).
    public var metadata: [String: String] = [:]
}

/// A bucket on an S3-compatible server: signed requests (SigV4, by libcurl), kept-alive
/// connections, retries with exponential backoff on throttling, server errors and network
/// trouble. Thread-safe: each request takes its own curl handle from the pool.
public final class S3Client: Sendable {
    public let endpoint: S3Endpoint
    let credentials: S3Credentials
    public let limits: TransferLimits
    let pool = HandlePool()

    public init(endpoint: S3Endpoint, credentials: S3Credentials, limits: TransferLimits = TransferLimits()) {
        self.endpoint = endpoint; self.credentials = credentials; self.limits = limits
    }

    /// Sends `request`, retrying what may succeed later; a non-2xx answer becomes an S3Error.
    /// `payloadHash` is x-amz-content-sha256: curl signs it as given.
    func send(_ request: HTTPRequest, payloadHash: String = Digests.emptySHA256) throws(S3Error) -> HTTPResponse {
        var request = request
        request.headers.append("x-amz-content-sha256: \(payloadHash)")
        var attempt = 0
        while true {
            attempt += 1
            let outcome: Result<HTTPResponse, S3Error>
            do {
                let response = try pool.with { handle throws(S3Error) in
                    try handle.perform(request, credentials: credentials, region: endpoint.region, limits: limits)
                }
                if response.status >= 200 && response.status < 300 { return response }
                outcome = .failure(S3Client.error(response, request))
            } catch {
                outcome = .failure(error)
            }
            guard case .failure(let error) = outcome else { continue }
            if !error.retryable || attempt >= limits.attempts { throw error }
            // Full jitter: parallel transfers throttled together do not retry in step.
            let ceiling = limits.backoffMilliseconds << min(attempt - 1, 8)
            usleep(UInt32(Int.random(in: ceiling / 2...ceiling) * 1000))
        }
    }

    static func error(_ response: HTTPResponse, _ request: HTTPRequest) -> S3Error {
        let xml = S3XML(response.body)
        let code = xml.first("Code") ?? ""
        let message = xml.first("Message") ?? ""
        let what = "\(request.method) \(request.url)\(message.isEmpty ? "" : ": \(message)")"
        switch (response.status, code) {
        case (_, "NoSuchBucket"): return S3Error(.noSuchBucket, status: response.status, code: code, message: what)
        case (404, _) where request.method == "HEAD" && request.url.hasSuffix("/") && !request.url.contains("?"):
            return S3Error(.noSuchBucket, status: 404, code: code, message: what)
        case (404, _): return S3Error(.noSuchKey, status: 404, code: code, message: what)
        case (412, _): return S3Error(.changed, status: 412, code: code, message: what)
        case (401, _), (403, _): return S3Error(.denied, status: response.status, code: code, message: what)
        default: return S3Error(.server, status: response.status, code: code, message: what)
        }
    }

    // MARK: objects

    public func head(_ key: String) throws(S3Error) -> ObjectInfo {
        let response = try send(HTTPRequest(method: "HEAD", url: endpoint.url(key: key)))
        return S3Client.info(key, response.headers)
    }

    /// Checks that the bucket exists and the credentials may list it.
    public func checkBucket() throws(S3Error) {
        _ = try send(HTTPRequest(method: "GET", url: endpoint.url(key: "", query: S3Endpoint.query([("list-type", "2"), ("max-keys", "1")]))))
    }

    /// Reads `range` of `key` into `buffer` (at most its size); the count read. With `ifMatch`,
    /// a different version of the object fails with `.changed` rather than mixing versions.
    public func get(_ key: String, range: Range<Int64>? = nil, ifMatch: String? = nil,
                    into buffer: UnsafeMutableRawBufferPointer) throws(S3Error) -> Int {
        var request = HTTPRequest(method: "GET", url: endpoint.url(key: key), sink: buffer)
        if let range {
            guard !range.isEmpty else { return 0 }
            request.headers.append("Range: bytes=\(range.lowerBound)-\(range.upperBound - 1)")
        }
        if let ifMatch { request.headers.append("If-Match: \"\(ifMatch)\"") }
        return try send(request).received
    }

    /// A whole (small) object.
    public func get(_ key: String) throws(S3Error) -> [UInt8] {
        try send(HTTPRequest(method: "GET", url: endpoint.url(key: key))).body
    }

    /// Stores `body` as `key` in one request, the server checking it against its Content-MD5.
    /// Returns the ETag.
    @discardableResult
    public func put(_ key: String, body: UnsafeRawBufferPointer, metadata: [String: String] = [:]) throws(S3Error) -> String {
        var request = HTTPRequest(method: "PUT", url: endpoint.url(key: key), body: body)
        request.headers.append("Content-MD5: \(Digests.base64(Digests.md5(body)))")
        request.headers += S3Client.metadataHeaders(metadata)
        let response = try send(request, payloadHash: "UNSIGNED-PAYLOAD")
        return S3Client.unquote(response.headers["etag"] ?? "")
    }

    public func delete(_ key: String) throws(S3Error) {
        do { _ = try send(HTTPRequest(method: "DELETE", url: endpoint.url(key: key))) }
        catch where error.kind == .noSuchKey {}
    }

    /// Server-side copy (up to 5 GiB, the CopyObject limit), keeping the source's metadata.
    public func copy(from source: String, to key: String) throws(S3Error) {
        var request = HTTPRequest(method: "PUT", url: endpoint.url(key: key))
        request.headers.append("x-amz-copy-source: /\(endpoint.bucket)/\(S3Endpoint.encode(source, keepSlash: true))")
        let response = try send(request)
        // CopyObject can fail after its 200 (the error is in the body).
        if S3XML(response.body).first("Code") != nil { throw S3Client.error(HTTPResponse(status: 500, headers: [:], body: response.body, received: 0), request) }
    }

    // MARK: helpers

    static func metadataHeaders(_ metadata: [String: String]) -> [String] {
        metadata.sorted { $0.key < $1.key }.map { "x-amz-meta-\($0.key): \($0.value)" }
    }

    static func unquote(_ etag: String) -> String {
        var s = Substring(etag)
        if s.hasPrefix("\"") { s.removeFirst() }
        if s.hasSuffix("\"") { s.removeLast() }
        if s.hasPrefix("&quot;") { s.removeFirst(6) }
        if s.hasSuffix("&quot;") { s.removeLast(6) }
        return String(s)
    }

    static func info(_ key: String, _ headers: [String: String]) -> ObjectInfo {
        var metadata: [String: String] = [:]
        for (name, value) in headers where name.hasPrefix("x-amz-meta-") { metadata[String(name.dropFirst(11))] = value }
        return ObjectInfo(key: key, size: Int64(headers["content-length"] ?? "") ?? 0, etag: unquote(headers["etag"] ?? ""),
                          lastModified: HTTPDate.parse(headers["last-modified"] ?? ""), metadata: metadata)
    }
}

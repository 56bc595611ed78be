import CCurl

/// Timeouts and retry rules of a client.
public struct TransferLimits: Sendable {
    /// Seconds to establish a connection.
    public var connectTimeout: Int = 10
    /// A transfer slower than 1 KiB/s for this many seconds is abandoned (and retried).
    public var stallSeconds: Int = 30
    /// Attempts per request, the first included.
    public var attempts: Int = 5
    /// The first pause before a retry, in milliseconds; doubled on each further one.
    public var backoffMilliseconds: Int = 100
    /// Objects larger than this are copied part by part (UploadPartCopy): CopyObject refuses
    /// sources over 5 GiB on S3.
    public var copyLimit: Int64 = 5 << 30

    public init() {}
}

/// One libcurl easy handle. Reset between requests, it keeps its connection cache, so the
/// next request to the same host reuses the kept-alive connection. Used by one thread at a
/// time (the pool hands it out).
final class CurlHandle: @unchecked Sendable {
    private let handle: UnsafeMutableRawPointer

    private static let initialized: Bool = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) == CURLE_OK }()

    init?() {
        guard CurlHandle.initialized, let h = curl_easy_init() else { return nil }
        handle = h
    }

    deinit { curl_easy_cleanup(handle) }

    /// Sends `request` signed with SigV4 for `region`; network failures become `.unreachable`.
    func perform(_ request: HTTPRequest, credentials: S3Credentials, region: String, limits: TransferLimits) throws(S3Error) -> HTTPResponse {
        curl_easy_reset(handle)
        let state = TransferState(body: request.body, sink: request.sink)
        let user = Unmanaged.passUnretained(state).toOpaque()
        var list: UnsafeMutablePointer<curl_slist>?
        var headers = request.headers
        if let token = credentials.sessionToken { headers.append("x-amz-security-token: \(token)") }
        if request.signsItself { headers += SigV4.sign(request.method, url: request.url, headers: headers, credentials: credentials, region: region) }
        for header in headers { list = curl_slist_append(list, header) }
        defer { curl_slist_free_all(list) }
        let sigv4 = "aws:amz:\(region):s3"
        let userpwd = credentials.accessKey + ":" + credentials.secretKey
        let code: CURLcode = withExtendedLifetime(state) {
            request.url.withCString { url in sigv4.withCString { sig in userpwd.withCString { pwd in request.method.withCString { method in
                _ = estuary_curl_ptr(handle, CURLOPT_URL, url)
                _ = estuary_curl_long(handle, CURLOPT_NOSIGNAL, 1)
                _ = estuary_curl_long(handle, CURLOPT_TCP_KEEPALIVE, 1)
                // Uploads over 1 MiB carry "Expect: 100-continue" (curl adds it unsigned; an
                // "Expect:" of our own to drop it would be signed but not sent): no waiting for it.
                _ = estuary_curl_long(handle, CURLOPT_EXPECT_100_TIMEOUT_MS, 1)
                _ = estuary_curl_long(handle, CURLOPT_CONNECTTIMEOUT, limits.connectTimeout)
                _ = estuary_curl_long(handle, CURLOPT_LOW_SPEED_LIMIT, 1024)
                _ = estuary_curl_long(handle, CURLOPT_LOW_SPEED_TIME, limits.stallSeconds)
                if !request.signsItself {
                    _ = estuary_curl_ptr(handle, CURLOPT_AWS_SIGV4, sig)
                    _ = estuary_curl_ptr(handle, CURLOPT_USERPWD, pwd)
                }
                _ = estuary_curl_ptr(handle, CURLOPT_HTTPHEADER, list)
                _ = estuary_curl_write(handle, transferWrite, user)
                _ = estuary_curl_header(handle, transferHeader, user)
                switch request.method {
                case "HEAD": _ = estuary_curl_long(handle, CURLOPT_NOBODY, 1)
                case "GET": break
                case "PUT":
                    _ = estuary_curl_long(handle, CURLOPT_UPLOAD, 1)
                    _ = estuary_curl_off(handle, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body?.count ?? 0))
                    _ = estuary_curl_read(handle, transferRead, user)
                    // SeaweedFS leaves a connection that carried an empty PUT unusable (the
                    // next request on it hangs): such a connection is not kept.
                    if (request.body?.count ?? 0) == 0 { _ = estuary_curl_long(handle, CURLOPT_FORBID_REUSE, 1) }
                case "POST":
                    _ = estuary_curl_long(handle, CURLOPT_POST, 1)
                    _ = estuary_curl_off(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body?.count ?? 0))
                    _ = estuary_curl_ptr(handle, CURLOPT_POSTFIELDS, request.body?.baseAddress ?? UnsafeRawPointer(method))
                default: _ = estuary_curl_ptr(handle, CURLOPT_CUSTOMREQUEST, method)
                }
                return curl_easy_perform(handle)
            } } } }
        }
        guard code == CURLE_OK else {
            // A sink that overflowed is the server sending more than the range asked for.
            if code == CURLE_WRITE_ERROR { throw S3Error(.invalid, message: "the server sent more bytes than the range asked for") }
            throw S3Error(.unreachable, code: String(cString: curl_easy_strerror(code)),
                          message: "\(String(cString: curl_easy_strerror(code))) (\(request.method) \(request.url))")
        }
        return HTTPResponse(status: estuary_curl_status(handle), headers: state.headers, body: state.collected, received: state.received)
    }
}

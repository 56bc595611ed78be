/// Why an object-store request failed, in words that say what to fix. Never carries a
/// credential: messages are built from the response's code and the request's key only.
public struct S3Error: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The endpoint cannot be reached (DNS, connection refused, timeout, TLS).
        case unreachable
        /// Signature or key rejected (403 SignatureDoesNotMatch, InvalidAccessKeyId, AccessDenied).
        case denied
        case noSuchBucket
        case noSuchKey
        /// If-Match did not match: the object changed since its ETag was taken.
        case changed
        /// A response that was not what the request should produce (a bad digest, bad XML).
        case invalid
        /// Any other answer from the server.
        case server
    }

    public var kind: Kind
    public var status: Int
    /// The S3 error code from the body (`SlowDown`, `NoSuchKey`, ...), or curl's error text.
    public var code: String
    public var message: String

    public init(_ kind: Kind, status: Int = 0, code: String = "", message: String) {
        self.kind = kind; self.status = status; self.code = code; self.message = message
    }

    public var description: String {
        switch kind {
        case .unreachable: "endpoint unreachable: \(message)"
        case .denied: "access denied (\(code.isEmpty ? "HTTP \(status)" : code)): check the access key and secret; \(message)"
        case .noSuchBucket: "the bucket does not exist (\(message))"
        case .noSuchKey: "no such object: \(message)"
        case .changed: "the object changed since it was indexed: \(message)"
        case .invalid: "unexpected response: \(message)"
        case .server: "HTTP \(status)\(code.isEmpty ? "" : " \(code)"): \(message)"
        }
    }

    /// Worth trying again after a pause: throttling, server errors, network trouble.
    public var retryable: Bool {
        switch kind {
        case .unreachable: true
        case .server: status >= 500 || code == "SlowDown" || code == "RequestTimeout"
        default: false
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// AWS Signature Version 4 for the requests curl cannot sign (see `HTTPRequest.signsItself`):
/// the canonical request with its headers sorted by name alone, then the Authorization and
/// x-amz-date headers to send. Everything else is signed by curl.
enum SigV4 {
    /// The headers to add to `headers` (which already hold x-amz-content-sha256).
    static func sign(_ method: String, url: String, headers: [String], credentials: S3Credentials, region: String,
                     now: time_t = time(nil)) -> [String] {
        let (host, path, query) = split(url)
        var tm = Glibc.tm()
        var t = now
        gmtime_r(&t, &tm)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let day = "\(tm.tm_year + 1900)\(two(tm.tm_mon + 1))\(two(tm.tm_mday))"
        let stamp = day + "T\(two(tm.tm_hour))\(two(tm.tm_min))\(two(tm.tm_sec))Z"
        var fields: [(name: String, value: String)] = [("host", host), ("x-amz-date", stamp)]
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else { continue }
            let value = header[header.index(after: colon)...].split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
            fields.append((header[..<colon].lowercased(), value))
        }
        fields.sort { $0.name < $1.name }
        let payload = fields.first { $0.name == "x-amz-content-sha256" }?.value ?? "UNSIGNED-PAYLOAD"
        let signed = fields.map(\.name).joined(separator: ";")
        let canonical = [method, path, canonicalQuery(query), fields.map { "\($0.name):\($0.value)\n" }.joined(), signed, payload]
            .joined(separator: "\n")
        let scope = "\(day)/\(region)/s3/aws4_request"
        let toSign = "AWS4-HMAC-SHA256\n\(stamp)\n\(scope)\n\(Digests.hex(Digests.sha256(Array(canonical.utf8))))"
        var key = Array(("AWS4" + credentials.secretKey).utf8)
        for part in [day, region, "s3", "aws4_request"] { key = hmac(key, Array(part.utf8)) }
        let signature = Digests.hex(hmac(key, Array(toSign.utf8)))
        return ["x-amz-date: \(stamp)",
                "Authorization: AWS4-HMAC-SHA256 Credential=\(credentials.accessKey)/\(scope), SignedHeaders=\(signed), Signature=\(signature)"]
    }

    /// Host (with its port), path and query of a URL the endpoint built (already encoded).
    static func split(_ url: String) -> (host: String, path: String, query: String) {
        var rest = Substring(url)
        if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let host = String(rest[..<slash])
        let target = rest[slash...]
        guard let mark = target.firstIndex(of: "?") else { return (host, target.isEmpty ? "/" : String(target), "") }
        return (host, String(target[..<mark]), String(target[target.index(after: mark)...]))
    }

    /// Pairs sorted by name, each with its "=" (a bare "uploads" is "uploads=").
    static func canonicalQuery(_ query: String) -> String {
        query.split(separator: "&").map { $0.contains("=") ? String($0) : String($0) + "=" }.sorted().joined(separator: "&")
    }

    /// HMAC-SHA256 (RFC 2104) over the digest the client already has.
    static func hmac(_ key: [UInt8], _ message: [UInt8]) -> [UInt8] {
        var block = key.count > 64 ? Digests.sha256(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        let inner = Digests.sha256(block.map { $0 ^ 0x36 } + message)
        return Digests.sha256(block.map { $0 ^ 0x5c } + inner)
    }
}

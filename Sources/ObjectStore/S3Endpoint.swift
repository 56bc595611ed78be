/// Where a bucket is and how its URLs are spelled.
public struct S3Endpoint: Sendable, Equatable {
    public enum Addressing: String, Sendable, Equatable {
        /// `https://host/bucket/key`: what S3-compatible servers (MinIO, SeaweedFS, Ceph) expect.
        case path
        /// `https://bucket.host/key`: what AWS prefers, and requires for new regions.
        case virtual
    }

    /// `scheme://host[:port]`, no trailing slash.
    public var base: String
    public var bucket: String
    public var region: String
    public var addressing: Addressing

    /// `endpoint` as written in a config (`https://s3.eu-west-1.amazonaws.com`, `http://127.0.0.1:8333`).
    /// Without an explicit addressing, AWS hosts get virtual-hosted URLs and every other host
    /// path-style, since most compatible servers have no wildcard DNS for bucket names.
    public init(endpoint: String, bucket: String, region: String, addressing: Addressing? = nil) throws(S3Error) {
        var base = endpoint
        while base.hasSuffix("/") { base.removeLast() }
        guard base.hasPrefix("http://") || base.hasPrefix("https://") else {
            throw S3Error(.invalid, message: "endpoint '\(endpoint)' must start with http:// or https://")
        }
        let host = base.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? ""
        guard !host.isEmpty, !base.dropFirst(base.hasPrefix("https") ? 8 : 7).contains("/") else {
            throw S3Error(.invalid, message: "endpoint '\(endpoint)' must be scheme://host[:port] with no path")
        }
        self.base = base; self.bucket = bucket; self.region = region
        self.addressing = addressing ?? (host.hasSuffix("amazonaws.com") ? .virtual : .path)
    }

    /// The URL of `key` (empty: the bucket itself) with an already canonical `query`.
    public func url(key: String, query: String = "") -> String {
        let path = S3Endpoint.encode(key, keepSlash: true)
        var url: String
        switch addressing {
        case .path: url = base + "/" + bucket + (key.isEmpty ? "/" : "/" + path)
        case .virtual:
            let scheme = base.hasPrefix("https://") ? "https://" : "http://"
            url = scheme + bucket + "." + base.dropFirst(scheme.count) + "/" + path
        }
        if !query.isEmpty { url += "?" + query }
        return url
    }

    /// A canonical query string from `pairs`: sorted by name, every name and value encoded the
    /// way SigV4 signs them, so what curl signs is what the URL says.
    public static func query(_ pairs: [(String, String)]) -> String {
        pairs.sorted { $0.0 < $1.0 }.map { encode($0.0, keepSlash: false) + "=" + encode($0.1, keepSlash: false) }
            .joined(separator: "&")
    }

    /// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, everything
    /// else (UTF-8 bytes) becomes %XX with capital hex digits.
    public static func encode(_ text: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in text.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(b)
            case UInt8(ascii: "/") where keepSlash: out.append(b)
            default: out += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Undoes percent-encoding (ListObjectsV2 with encoding-type=url returns keys so).
    public static func decode(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let h = value(bytes[i + 1]), let l = value(bytes[i + 2]) {
                out.append(h << 4 | l); i += 3
            } else if bytes[i] == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " ")); i += 1
            } else {
                out.append(bytes[i]); i += 1
            }
        }
        return out
    }
}

/// The keys of an object-storage silo (`kind = "s3"`): endpoint, bucket, prefix, region,
/// credentials_file, addressing. A directory silo must not carry them, and a bucket silo
/// must not carry `path`, so a half-edited table is an error rather than a guess.
enum BucketSchema {
    typealias Located = ConfigTableReader.Located

    static func read(_ reader: ConfigTableReader) throws(ConfigError) -> Located<BucketConfig>? {
        let kind = try reader.string("kind")
        switch kind?.value {
        case nil, "directory":
            for key in SiloSchema.bucketKeys {
                if let value = reader.table[key] {
                    throw reader.error("'\(key)' belongs to object-storage silos: add kind = \"s3\", or remove it", at: value.position)
                }
            }
            return nil
        case "s3": break
        case let other?:
            throw reader.error("silo kind '\(other)' is unknown (expected \"directory\" or \"s3\")", at: kind?.position)
        }
        if let path = reader.table["path"] {
            throw reader.error("an s3 silo has no 'path': its place is endpoint, bucket and prefix", at: path.position)
        }
        let endpoint = try reader.required("endpoint", reader.string)
        guard endpoint.value.hasPrefix("http://") || endpoint.value.hasPrefix("https://") else {
            throw reader.error("endpoint '\(endpoint.value)' must start with https:// (or http://)", at: endpoint.position)
        }
        let bucket = try reader.required("bucket", reader.string)
        guard validBucket(bucket.value) else {
            throw reader.error("bucket name '\(bucket.value)' is invalid: 3-63 characters of a-z, 0-9, '.' and '-'", at: bucket.position)
        }
        var prefix = try reader.string("prefix")?.value ?? ""
        while prefix.hasPrefix("/") { prefix.removeFirst() }
        if !prefix.isEmpty && !prefix.hasSuffix("/") { prefix += "/" }
        let region = try reader.string("region")?.value ?? "us-east-1"
        let credentials = try reader.string("credentials_file")
        if let credentials, !credentials.value.hasPrefix("/") {
            throw reader.error("credentials_file '\(credentials.value)' must be an absolute path", at: credentials.position)
        }
        let addressing = try reader.string("addressing")
        if let addressing, addressing.value != "path" && addressing.value != "virtual" {
            throw reader.error("addressing '\(addressing.value)' must be \"path\" or \"virtual\"", at: addressing.position)
        }
        let config = BucketConfig(endpoint: endpoint.value, bucket: bucket.value, prefix: prefix, region: region,
                                  credentialsFile: credentials?.value, addressing: addressing?.value)
        return Located(value: config, position: bucket.position)
    }

    static func validBucket(_ name: String) -> Bool {
        (3...63).contains(name.utf8.count) && name.utf8.allSatisfy {
            ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z")) || ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9"))
                || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-")
        }
    }
}

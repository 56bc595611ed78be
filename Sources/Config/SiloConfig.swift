/// One directory, or one bucket, that stores part of the pool.
public struct SiloConfig: Sendable, Equatable {
    public var name: String
    /// Absolute and normalised: no trailing slash, no empty or "." components. For a bucket,
    /// `s3://bucket/prefix`, which names it in listings and the index.
    public var path: String
    public var tier: String
    /// Bytes to keep free on the silo's file system.
    public var minFree: UInt64
    public var readOnly: Bool
    /// Follow changes made in the silo behind the mount (`watch = false` turns it off).
    public var watch: Bool = true
    /// The line of the silo's `[[silo]]` header; nil when it came from a spec.
    public var line: Int?
    /// Set for `kind = "s3"`: the bucket this silo is.
    public var bucket: BucketConfig?

    public init(name: String, path: String, tier: String, minFree: UInt64 = 0, readOnly: Bool = false, line: Int? = nil) {
        self.name = name
        self.path = path
        self.tier = tier
        self.minFree = minFree
        self.readOnly = readOnly
        self.line = line
    }
}

/// Where an object-storage silo's bucket is. Credentials are not in the pool file (it is
/// readable by users of the pool): they come from the environment, `~/.aws/credentials`, or
/// the file `credentialsFile` names.
public struct BucketConfig: Sendable, Equatable {
    /// `scheme://host[:port]`.
    public var endpoint: String
    public var bucket: String
    /// Empty, or ending in "/": the part of the bucket that is the silo.
    public var prefix: String
    public var region: String
    public var credentialsFile: String?
    /// "path" or "virtual"; nil picks by host (virtual for AWS).
    public var addressing: String?

    public init(endpoint: String, bucket: String, prefix: String = "", region: String = "us-east-1",
                credentialsFile: String? = nil, addressing: String? = nil) {
        self.endpoint = endpoint; self.bucket = bucket; self.prefix = prefix; self.region = region
        self.credentialsFile = credentialsFile; self.addressing = addressing
    }
}

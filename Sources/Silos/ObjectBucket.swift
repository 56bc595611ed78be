import ObjectStore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where an object-storage silo is, as the pool config says.
public struct ObjectSiloSpec: Sendable, Equatable {
    public var endpoint: String
    public var bucket: String
    /// Empty or ending in "/".
    public var prefix: String
    public var region: String
    public var credentialsFile: String?
    public var addressing: String?

    public init(endpoint: String, bucket: String, prefix: String, region: String, credentialsFile: String?, addressing: String?) {
        self.endpoint = endpoint; self.bucket = bucket; self.prefix = prefix; self.region = region
        self.credentialsFile = credentialsFile; self.addressing = addressing
    }
}

/// The bucket behind an object-storage silo: its client, made when the silo attaches
/// (credentials are looked up then, so a fixed credentials file brings the silo back), and
/// the mapping from a path in the silo to a key: the prefix, then the path, so the bucket
/// stays a plain copy of the tree.
public final class ObjectBucket: Sendable {
    public let spec: ObjectSiloSpec
    private let current = Mutex<S3Client?>(nil)
    /// Renames recorded in the index whose copies are not all done (see `BucketRenames` in
    /// Namespace), by id, and the ids whose last attempt failed.
    private let renames = Mutex<(pending: [UInt64: (from: String, to: String)], stalled: Set<UInt64>)>(([:], []))
    /// ETags a metadata write-back replaced, old to new, so readers holding the old one
    /// follow instead of failing (servers that give a rewritten object a new ETag).
    private let successors = Mutex<[String: String]>([:])

    public init(_ spec: ObjectSiloSpec) { self.spec = spec }

    /// The client; EIO-worthy nil until the silo attached once.
    public var client: S3Client? { current.withLock { $0 } }

    /// Makes the client and checks that the bucket answers to it: a wrong key, a missing bucket
    /// or an unreachable endpoint is the error, in words.
    func connect(limits: TransferLimits = TransferLimits()) throws(S3Error) {
        let credentials = try S3Credentials.resolve(file: spec.credentialsFile)
        let endpoint = try S3Endpoint(endpoint: spec.endpoint, bucket: spec.bucket, region: spec.region,
                                      addressing: spec.addressing.flatMap(S3Endpoint.Addressing.init(rawValue:)))
        var limits = limits
        // A test knob (docs/decisions.md): multipart copies of objects a test can afford.
        if let text = getenv("ESTUARY_S3_COPY_LIMIT").map({ String(cString: $0) }), let bytes = Int64(text), bytes >= 5 << 20 {
            limits.copyLimit = bytes
        }
        let client = S3Client(endpoint: endpoint, credentials: credentials, limits: limits)
        try client.checkBucket()
        current.withLock { $0 = client }
    }

    /// The key of `relativePath`; nil when the path is not UTF-8, which S3 keys must be.
    /// Waits while a rename in progress covers that key (so what is asked for is where the
    /// index says it is).
    public func key(_ relativePath: [UInt8]) -> String? {
        guard let text = String(validating: relativePath, as: UTF8.self) else { return nil }
        let key = spec.prefix + text
        if !relativePath.isEmpty { waitForRenames(covering: key) }
        return key
    }

    public func noteRewritten(from old: String, to new: String) { successors.withLock { $0[old] = new } }

    /// The ETag a metadata write-back gave the object that had `etag`, following a chain.
    public func rewrittenVersion(of etag: String) -> String? {
        successors.withLock { table in
            var current = etag, steps = 0
            while let next = table[current], steps < 64 { current = next; steps += 1 }
            return current == etag ? nil : current
        }
    }

    // MARK: renames in progress

    /// A rename from `from` to `to` (a key and everything under it) is recorded and not done:
    /// keys it covers wait for it.
    public func beginRename(_ id: UInt64, from: String, to: String) {
        renames.withLock { $0.pending[id] = (from, to); $0.stalled.remove(id) }
    }

    public func endRename(_ id: UInt64) {
        renames.withLock { _ = $0.pending.removeValue(forKey: id); $0.stalled.remove(id) }
    }

    /// A rename whose last attempt failed (the server is away) no longer holds callers back:
    /// they get the server's answer themselves instead of hanging.
    public func setStalled(_ id: UInt64, _ stalled: Bool) {
        renames.withLock { if stalled { $0.stalled.insert(id) } else { $0.stalled.remove(id) } }
    }

    /// Waits until no rename covering `key` (nil: any rename) is in progress.
    public func waitForRenames(covering key: String?) {
        while renames.withLock({ state in
            state.pending.contains { id, keys in
                !state.stalled.contains(id) && (key.map { ObjectBucket.overlaps($0, keys.from) || ObjectBucket.overlaps($0, keys.to) } ?? true)
            }
        }) {
            usleep(2_000)
        }
    }

    /// Whether one key is the other or lies under it as a directory.
    static func overlaps(_ a: String, _ b: String) -> Bool {
        a == b || a.hasPrefix(b + "/") || b.hasPrefix(a + "/")
    }

    /// The path in the silo of `key`, which lies under the prefix.
    public func relativePath(_ key: String) -> [UInt8] { Array(key.utf8.dropFirst(spec.prefix.utf8.count)) }

    /// The 64-bit stand-in for an object version the index keeps as the row's backing inode:
    /// an FNV-1a hash of the ETag, never 0.
    public static func versionHash(_ etag: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in etag.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash == 0 ? 1 : hash
    }
}

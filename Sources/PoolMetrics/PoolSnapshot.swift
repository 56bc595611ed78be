/// What the daemon knows about its pool at scrape time, gathered by the daemon (which owns the
/// pool, the mover and the heat table) and turned into gauges by the exporter.
public struct PoolSnapshot: Sendable {
    public struct Silo: Sendable {
        public var id: Int
        public var name: String
        public var tier: String
        public var totalBytes: UInt64
        public var usedBytes: UInt64
        public var entries: Int64
        /// `online`, `offline`, `draining`, ... as `estuary status` shows it.
        public var health: String
        public var readOnly: Bool
        /// Seconds since the silo was last scanned (nil: never).
        public var scanAgeSeconds: Double?
        /// Live following (nil when the silo is not followed): how far behind the silo the
        /// index may be now, the changes seen and not applied yet, the lag of the last applied
        /// batch, and the full rescans lost events caused.
        public var watchBehindSeconds: Double?
        public var watchWaiting: Int?
        public var watchLastLagSeconds: Double?
        public var watchLosses: Int?

        public init(id: Int, name: String, tier: String, totalBytes: UInt64, usedBytes: UInt64, entries: Int64,
                    health: String, readOnly: Bool, scanAgeSeconds: Double?) {
            self.id = id; self.name = name; self.tier = tier; self.totalBytes = totalBytes; self.usedBytes = usedBytes
            self.entries = entries; self.health = health; self.readOnly = readOnly; self.scanAgeSeconds = scanAgeSeconds
        }
    }

    public struct Tier: Sendable {
        public var name: String
        /// Fill percentages above which the tier sheds data, and down to which it sheds.
        public var highWatermark: Int?
        public var lowWatermark: Int?
        public init(name: String, highWatermark: Int?, lowWatermark: Int?) {
            self.name = name; self.highWatermark = highWatermark; self.lowWatermark = lowWatermark
        }
    }

    public var pool: String
    public var silos: [Silo] = []
    public var tiers: [Tier] = []
    /// Move jobs by state (`queued`, `copying`, `done`, `failed`, ...).
    public var jobsByState: [String: Int] = [:]
    /// Bytes copied by every move the index remembers, finished or not.
    public var bytesMoved: Int64 = 0
    /// Heat scores of the hottest files (the heat table's top entries).
    public var heatScores: [Double] = []
    public var entries: Int64 = 0
    /// Bytes of the index database with its write-ahead log.
    public var indexBytes: Int64 = 0
    /// Namespace batches the index refused since the mount (disk full, I/O errors).
    public var lostCommitBatches: Int = 0
    /// Times this node found itself silent past its validity among the nodes of a shared
    /// index (fenced), and the open handles its recoveries pointed at a file's new copy.
    public var fences: Int = 0
    public var fenceRepointedHandles: Int = 0

    public init(pool: String) { self.pool = pool }
}

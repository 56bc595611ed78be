/// Everything the daemon and the admin tool need to know about one pool,
/// already checked: names are valid, paths are absolute and normalised,
/// sizes are in bytes and every silo's tier is known.
public struct PoolConfig: Sendable, Equatable {
    public static let defaultExtentSize = 4 << 20
    /// Long, because the daemon tells the kernel of every change it did not see go by (see
    /// docs/decisions.md, "Long kernel caches"); the timeout only bounds how long a change
    /// no scan has found yet stays hidden in the kernel's cache on top of the index.
    public static let defaultEntryTimeout = 60.0
    public static let defaultAttrTimeout = 60.0
    public static let defaultNegativeTimeout = 60.0

    /// The pool id; also the name of its state directory.
    public var name: String
    /// Holds index.db, control.sock and logs.
    public var stateDirectory: String
    /// Bytes; a power of two from 64KiB to 1GiB.
    public var extentSize: Int
    /// Seconds the kernel may cache directory entries.
    public var entryTimeout: Double
    /// Seconds the kernel may cache attributes.
    public var attrTimeout: Double
    /// Seconds the kernel may cache failed lookups.
    public var negativeTimeout: Double
    /// Tier names, fastest first.
    public var tiers: [String]
    /// In file (or spec) order.
    public var silos: [SiloConfig]
    /// Fill limits per tier name, for tiers that have a `[tiers.NAME]` table.
    public var watermarks: [String: TierWatermark]
    /// Parsed and checked for shape only; nothing evaluates them yet.
    public var objectives: [ObjectiveConfig]
    /// The file path or the zero-config spec, for messages.
    public var source: String
    /// Tier moves: bytes per second for the whole pool (0 = unlimited), files moved at once,
    /// and the half-life of access heat in seconds.
    public var moveBandwidth: UInt64 = 0
    public var moveConcurrency: Int = 2
    public var heatHalfLife: Double = 3600
    /// Objectives: seconds before a moved file may move back (unless pinned), and between
    /// reconcile passes.
    public var holdDown: Double = 3600
    public var reconcileInterval: Double = 60
    /// Where the daemon serves Prometheus metrics (`HOST:PORT`); nil: not served.
    public var metrics: String?
    /// Seconds between rescans of silos that cannot be watched (fanotify cannot follow their
    /// file system: NFS, FUSE, some btrfs subvolumes).
    public var rescanInterval: Double = 60
    /// Where the index lives when it is not the SQLite file in the state directory: a
    /// PostgreSQL connection URI (`[pool] index` or `-o index=`). May hold a password, so it
    /// is never logged or shown: messages use `IndexLocation.redacted`.
    public var index: String?
    /// Several nodes on a shared index: seconds without a heartbeat after which a node is
    /// dead to the others and its leases (move jobs, reconcile leadership) pass on.
    public var nodeTimeout: Int = 10
    /// A shared index's database unreachable: seconds an operation waits for it to return
    /// before failing with EIO (0: fail at once).
    public var indexTimeout: Double = 10

    public init(
        name: String,
        stateDirectory: String,
        extentSize: Int = PoolConfig.defaultExtentSize,
        entryTimeout: Double = PoolConfig.defaultEntryTimeout,
        attrTimeout: Double = PoolConfig.defaultAttrTimeout,
        negativeTimeout: Double = PoolConfig.defaultNegativeTimeout,
        tiers: [String],
        silos: [SiloConfig],
        watermarks: [String: TierWatermark] = [:],
        objectives: [ObjectiveConfig] = [],
        source: String
    ) {
        self.name = name
        self.stateDirectory = stateDirectory
        self.extentSize = extentSize
        self.entryTimeout = entryTimeout
        self.attrTimeout = attrTimeout
        self.negativeTimeout = negativeTimeout
        self.tiers = tiers
        self.silos = silos
        self.watermarks = watermarks
        self.objectives = objectives
        self.source = source
    }
}

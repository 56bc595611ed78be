import Foundation

/// One request to the daemon's control socket: a JSON object on one line.
public struct ControlRequest: Codable, Sendable, Equatable {
    public var op: String
    public var silo: String?
    /// With `scan` and `silo`: take the silo's directory as it is now, even without its marker.
    public var adopt: Bool?
    /// move: absolute paths on the mount, the tier or silo to move to, whole trees or not.
    public var paths: [String]?
    public var to: String?
    public var recursive: Bool?
    /// jobs cancel: the job; jobs list: include finished ones; heat: how many.
    public var id: Int64?
    public var all: Bool?
    public var top: Int?
    /// jobs: seconds the daemon may hold the reply back until a job finishes (`move --wait`
    /// then returns as the job ends rather than at its next poll). A daemon that predates it
    /// answers at once.
    public var wait: Double?
    public init(op: String, silo: String? = nil, adopt: Bool? = nil, paths: [String]? = nil, to: String? = nil,
                recursive: Bool? = nil, id: Int64? = nil, all: Bool? = nil, top: Int? = nil, wait: Double? = nil) {
        self.op = op; self.silo = silo; self.adopt = adopt; self.paths = paths; self.to = to; self.recursive = recursive
        self.id = id; self.all = all; self.top = top; self.wait = wait
    }
}

/// One line of a reply: progress lines first, then exactly one line with `scan`, `status`
/// or `error` set.
public struct ControlReply: Codable, Sendable {
    public var progress: ScanProgressReport?
    public var scan: ScanReport?
    public var status: StatusReport?
    public var error: String?
    public var ok: Bool?
    public var jobs: [JobReport]?
    public var heat: [HeatReport]?
    public var verify: [VerifyReport]?
    public var plan: PlanReport?
    public var lines: [String]?
    public init(progress: ScanProgressReport? = nil, scan: ScanReport? = nil, status: StatusReport? = nil, error: String? = nil, ok: Bool? = nil,
                jobs: [JobReport]? = nil, heat: [HeatReport]? = nil, verify: [VerifyReport]? = nil, plan: PlanReport? = nil,
                lines: [String]? = nil) {
        self.progress = progress; self.scan = scan; self.status = status; self.error = error; self.ok = ok
        self.jobs = jobs; self.heat = heat; self.verify = verify; self.plan = plan; self.lines = lines
    }
    public var isFinal: Bool { progress == nil }
}

public struct ScanProgressReport: Codable, Sendable {
    public var entries: Int
    public var seconds: Double
    public var entriesPerSecond: Double
    public init(entries: Int, seconds: Double) {
        self.entries = entries; self.seconds = seconds
        entriesPerSecond = seconds > 0 ? Double(entries) / seconds : 0
    }
}

public struct ScanProblemReport: Codable, Sendable, Equatable {
    public var silo: String
    public var path: String
    public var message: String
    public init(silo: String, path: String, message: String) { self.silo = silo; self.path = path; self.message = message }
}

public struct ScanReport: Codable, Sendable {
    public var silos: [String]
    public var entries: Int
    public var added: Int
    public var updated: Int
    public var unchanged: Int
    public var removed: Int
    public var shadowed: Int
    public var seconds: Double
    public var entriesPerSecond: Double
    public var problems: [ScanProblemReport]
    public init(silos: [String], entries: Int, added: Int, updated: Int, unchanged: Int, removed: Int, shadowed: Int,
                seconds: Double, problems: [ScanProblemReport]) {
        self.silos = silos; self.entries = entries; self.added = added; self.updated = updated; self.unchanged = unchanged
        self.removed = removed; self.shadowed = shadowed; self.seconds = seconds
        entriesPerSecond = seconds > 0 ? Double(entries) / seconds : 0
        self.problems = problems
    }
}

public struct SiloStatusReport: Codable, Sendable {
    public var name: String
    public var tier: String
    public var path: String
    public var entries: Int64
    public var totalBytes: UInt64
    public var usedBytes: UInt64
    public var freeBytes: UInt64
    public var health: String
    public var reason: String?
    public var scanGeneration: Int64
    public var lastScan: Int64?
    /// Being emptied (`estuary silo drain`): it takes no new files. Nil from an older daemon.
    public var draining: Bool?
    /// How changes made behind the mount are followed ("watched (fanotify)", "rescanned every
    /// 60 s", "off"), the seconds from seeing the last batch of them to its being in the
    /// index, when that was, and how often events may have been lost. Nil from an older daemon.
    public var watch: String?
    public var watchLag: Double?
    public var watchApplied: Int64?
    public var watchLosses: Int?
    /// Seconds the index may lag the silo now: for a watched silo, since the oldest change
    /// seen and not yet applied (0 when none waits); for a swept one, since its last sweep
    /// began. `watchWaiting`: changes seen and not yet applied (for all watched silos together).
    public var watchBehind: Double?
    public var watchWaiting: Int?
    public init(name: String, tier: String, path: String, entries: Int64, totalBytes: UInt64, usedBytes: UInt64, freeBytes: UInt64,
                health: String, reason: String?, scanGeneration: Int64, lastScan: Int64?) {
        self.name = name; self.tier = tier; self.path = path; self.entries = entries; self.totalBytes = totalBytes
        self.usedBytes = usedBytes; self.freeBytes = freeBytes; self.health = health; self.reason = reason
        self.scanGeneration = scanGeneration; self.lastScan = lastScan
    }
}

public struct ShadowReport: Codable, Sendable {
    public var path: String
    public var visibleSilo: String
    public var shadowSilo: String
    public var size: Int64
    public var mtime: Double
    public init(path: String, visibleSilo: String, shadowSilo: String, size: Int64, mtime: Double) {
        self.path = path; self.visibleSilo = visibleSilo; self.shadowSilo = shadowSilo; self.size = size; self.mtime = mtime
    }
}

public struct StatusReport: Codable, Sendable {
    public var pool: String
    public var source: String
    public var stateDirectory: String
    public var mountpoint: String?
    public var daemonPid: Int32?
    public var tiers: [String]
    public var entries: Int64
    public var silos: [SiloStatusReport]
    public var shadows: [ShadowReport]
    public var shadowCount: Int64
    /// Per objective: files and bytes in place and still to move, as of the last reconcile pass.
    public var objectives: [AlignmentReport]?
    /// How the daemon receives FUSE requests: "/dev/fuse", or io_uring with its queues and count.
    public var transport: String?
    /// Where the daemon's log goes: a file, or "standard error" for a daemon in the foreground.
    public var log: String?
    /// The daemons mounting a pool whose index is shared (PostgreSQL); nil for a SQLite pool.
    public var nodes: [NodeReport]?
    /// Pools with a bucket silo: objects whose metadata this daemon rewrote after attribute
    /// changes, and files still waiting for it.
    public var attributeWriteBacks: WriteBackReport?
    public init(pool: String, source: String, stateDirectory: String, mountpoint: String?, daemonPid: Int32?, tiers: [String],
                entries: Int64, silos: [SiloStatusReport], shadows: [ShadowReport], shadowCount: Int64) {
        self.pool = pool; self.source = source; self.stateDirectory = stateDirectory; self.mountpoint = mountpoint
        self.daemonPid = daemonPid; self.tiers = tiers; self.entries = entries; self.silos = silos; self.shadows = shadows
        self.shadowCount = shadowCount
    }
}

/// Attribute write-backs to objects' metadata (`estuary status`).
public struct WriteBackReport: Codable, Sendable, Equatable {
    public var rewritten: Int
    public var pending: Int
    public init(rewritten: Int, pending: Int) { self.rewritten = rewritten; self.pending = pending }
}

/// One node of a shared index: a daemon mounting the pool, as the node registry has it.
public struct NodeReport: Codable, Sendable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int64
    public var mountpoint: String
    /// Unix seconds (the database's clock).
    public var started: Int64
    public var heartbeat: Int64
    /// Seconds since the last heartbeat, by the database's clock.
    public var silentFor: Int64
    /// False once the heartbeat is older than the pool's node_timeout: its leases pass on.
    public var alive: Bool
    /// Move jobs it runs (their leases).
    public var jobs: [Int64]
    /// Whether it leads reconcile passes.
    public var leader: Bool
    /// Whether it runs the pool's live watch and rescans (the `watch` lease).
    public var watcher: Bool
    public init(id: String, host: String, pid: Int64, mountpoint: String, started: Int64, heartbeat: Int64, silentFor: Int64,
                alive: Bool, jobs: [Int64], leader: Bool, watcher: Bool) {
        self.id = id; self.host = host; self.pid = pid; self.mountpoint = mountpoint; self.started = started
        self.heartbeat = heartbeat; self.silentFor = silentFor; self.alive = alive; self.jobs = jobs; self.leader = leader
        self.watcher = watcher
    }
}

/// Newline-delimited JSON, the control socket's framing.
public enum ControlCoding {
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = false) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from line: [UInt8]) throws -> T {
        try JSONDecoder().decode(type, from: Data(line))
    }
}

public struct JobReport: Codable, Sendable {
    public var id: Int64
    public var path: String
    public var source: String
    public var destination: String
    public var state: String
    public var size: Int64
    public var extents: Int
    public var extentsDone: Int
    public var bytesCopied: Int64
    public var created: Int64
    public var updated: Int64
    public var error: String?
    /// Extent numbers in the order they arrived on the destination.
    public var arrivalOrder: [Int]?
    public init(id: Int64, path: String, source: String, destination: String, state: String, size: Int64, extents: Int,
                extentsDone: Int, bytesCopied: Int64, created: Int64, updated: Int64, error: String?, arrivalOrder: [Int]?) {
        self.id = id; self.path = path; self.source = source; self.destination = destination; self.state = state; self.size = size
        self.extents = extents; self.extentsDone = extentsDone; self.bytesCopied = bytesCopied; self.created = created
        self.updated = updated; self.error = error; self.arrivalOrder = arrivalOrder
    }
}

public struct HeatReport: Codable, Sendable {
    public var path: String
    public var heat: Double
    public var tier: String
    public var silo: String
    public init(path: String, heat: Double, tier: String, silo: String) { self.path = path; self.heat = heat; self.tier = tier; self.silo = silo }
}

public struct VerifyReport: Codable, Sendable {
    public var path: String
    public var silo: String
    public var outcome: String
    public var badExtents: [Int]
    public var detail: String
    public init(path: String, silo: String, outcome: String, badExtents: [Int], detail: String) {
        self.path = path; self.silo = silo; self.outcome = outcome; self.badExtents = badExtents; self.detail = detail
    }
}

public struct AlignmentReport: Codable, Sendable {
    public var rule: String
    public var tier: String
    public var filesInPlace: Int
    public var bytesInPlace: Int64
    public var filesPending: Int
    public var bytesPending: Int64
    /// Files whose move failed and is not tried again until the file or the objective changes,
    /// or not before a back-off time; files that cannot be moved at all (hard-linked).
    public var filesFailed: Int?
    public init(rule: String, tier: String, filesInPlace: Int, bytesInPlace: Int64, filesPending: Int, bytesPending: Int64,
                filesFailed: Int? = nil) {
        self.rule = rule; self.tier = tier; self.filesInPlace = filesInPlace; self.bytesInPlace = bytesInPlace
        self.filesPending = filesPending; self.bytesPending = bytesPending; self.filesFailed = filesFailed
    }
}

public struct PlannedMoveReport: Codable, Sendable {
    public var path: String
    public var from: String
    public var to: String
    public var rule: String
    public var size: Int64
    public init(path: String, from: String, to: String, rule: String, size: Int64) {
        self.path = path; self.from = from; self.to = to; self.rule = rule; self.size = size
    }
}

public struct PlanReport: Codable, Sendable {
    public var files: Int
    public var heldDown: Int
    public var rules: [AlignmentReport]
    public var moves: [PlannedMoveReport]
    public var moveCount: Int
    /// Moves the objectives want that failed: waiting out a back-off, or given up until the file
    /// or the objective changes.
    public var failures: [FailedMoveReport]?
    /// Moves queued by the pass this reports (`estuary objectives apply`); nil for a dry run.
    public var queued: Int?
    public init(files: Int, heldDown: Int, rules: [AlignmentReport], moves: [PlannedMoveReport], moveCount: Int,
                failures: [FailedMoveReport]? = nil) {
        self.files = files; self.heldDown = heldDown; self.rules = rules; self.moves = moves; self.moveCount = moveCount
        self.failures = failures
    }
}

public struct FailedMoveReport: Codable, Sendable {
    public var path: String
    public var to: String
    public var rule: String
    public var attempts: Int
    public var error: String
    /// Unix seconds of the next try; nil when the move is given up until something changes.
    public var retryAt: Int64?
    public init(path: String, to: String, rule: String, attempts: Int, error: String, retryAt: Int64?) {
        self.path = path; self.to = to; self.rule = rule; self.attempts = attempts; self.error = error; self.retryAt = retryAt
    }
}

import Index
import Syscalls

/// One entry as a walker saw it in a silo.
struct ScannedEntry: Sendable {
    var name: [UInt8]
    var stat: FileStat
    var target: [UInt8]?
    var tags: [(name: [UInt8], value: [UInt8])]
    /// The inode number an earlier index gave the file (`user.estuary.ino`), if it carries one.
    var inodeHint: UInt64?
}

/// Name of the backing-file xattr that remembers a file's inode number across index rebuilds.
let inodeHintName: [UInt8] = Array("user.estuary.ino".utf8)
let reservedTagPrefix: [UInt8] = Array("user.estuary.".utf8)

/// The full listing of one directory of one silo. `complete` is false when the listing could
/// not be read to the end, in which case nothing under it may be taken as gone.
struct DirectoryBatch: Sendable {
    var silo: SiloID
    var path: [UInt8]
    var entries: [ScannedEntry]
    var complete: Bool
    var rootStat: FileStat?
    /// Names checked to be absent now (a targeted rescan's partial listing): taken as gone
    /// like names missing from a complete listing.
    var gone: [[UInt8]] = []
}

/// A part of a silo the scan could not read, with the reason.
public struct ScanProblem: Sendable, Equatable, CustomStringConvertible {
    public var silo: String
    public var path: String
    public var message: String
    public var description: String { "silo '\(silo)': \(path.isEmpty ? "/" : path): \(message)" }
}

/// Live numbers for a progress line.
public struct ScanProgress: Sendable {
    public var entries: Int
    public var seconds: Double
    public var rate: Double { seconds > 0 ? Double(entries) / seconds : 0 }
}

/// What a scan found and changed.
public struct ScanSummary: Sendable {
    public var entries = 0          // entries seen in silos
    public var added = 0
    public var updated = 0
    public var unchanged = 0
    public var removed = 0
    public var shadowed = 0         // shadowed duplicates in the index after the scan
    public var seconds = 0.0
    public var silos: [String] = []
    public var problems: [ScanProblem] = []
    /// Inodes whose index rows a targeted rescan wrote, so that only those are reloaded; nil
    /// when not known (a full scan, or too many to list): then every cached node is.
    public var touched: Set<UInt64>?
    public var rate: Double { seconds > 0 ? Double(entries) / seconds : 0 }

    public init() {}
}

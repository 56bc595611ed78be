import ArgumentParser
import Foundation
import Index
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// `estuary du`: bytes and files per tier, silo, tag value or owner, from the index.
struct DuCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "du",
        abstract: "Bytes and file counts under a directory, per tier, silo, tag value or owner, from the index.",
        discussion: """
        Counts regular files (a hard-linked file once) under PATH: SIZE/BYTES is the sum of \
        their sizes, ALLOCATED what their data occupies on the silos (holes excluded). PATH is \
        as for `estuary find`, whose tests (--tag, --tier, --larger, ...) narrow what is counted.
        """)

    @Argument(help: "A directory on a mounted pool, or a pool (config, spec, name) with --root.") var path: String
    @Option(help: "With a pool argument: the directory to count, relative to the pool root.") var root: String?
    @Option(help: ArgumentHelp("Group by tier, silo, tag:KEY (the value of tag KEY) or user.", valueName: "tier|silo|tag:KEY|user"))
    var by: String = "tier"
    @OptionGroup var filters: QueryFilters
    @Flag(help: "Print JSON.") var json = false

    enum Grouping { case tier, silo, tag([UInt8]), user }

    var grouping: Grouping {
        get throws {
            switch by {
            case "tier": return .tier
            case "silo": return .silo
            case "user": return .user
            default:
                guard by.hasPrefix("tag:"), by.count > 4 else {
                    throw ValidationError("--by must be tier, silo, tag:KEY or user, not '\(by)'")
                }
                return .tag(try QueryParsing.tagName(String(by.dropFirst(4))))
            }
        }
    }

    func validate() throws {
        _ = try grouping
        try filters.check()
    }

    struct Total { var files = 0; var bytes: Int64 = 0; var allocated: Int64 = 0 }
    struct BackingFile: Hashable { var silo: SiloID; var inode: UInt64 }

    func run() throws {
        let scope = try QueryScope.locate(path, root: root)
        let grouping = try self.grouping
        var groups: [String: Total] = [:]
        var total = Total()
        var order: [String] = []
        try scope.read { tx, start in
            let filter = try filters.compile(tx, config: scope.config)
            let silos = Dictionary(uniqueKeysWithValues: try tx.silos().map { ($0.id, $0) })
            var tagValues: [UInt64: [UInt8]] = [:]
            switch grouping {
            case .tier: order = scope.config.tiers
            case .silo: order = scope.config.silos.map(\.name)
            case .tag(let name): tagValues = try tx.xattrValues(named: name)
            case .user: break
            }
            var users: [UInt32: String] = [:]
            var linked = Set<BackingFile>()
            try tx.walk(under: start.ino, includeRoot: true, only: filter.candidates,
                        matching: { $0.kind == .regular && filter.matches($0) }) { entry in
                let row = entry.row
                if let objective = filter.objective, !(try objective.matches(entry, tx)) { return }
                // A hard-linked file counts once: its names share the backing inode (and the
                // index inode, when the link was made through the mount).
                if row.nlink > 1 && !linked.insert(BackingFile(silo: row.silo, inode: row.backingInode)).inserted { return }
                let key: String
                switch grouping {
                case .tier: key = silos[row.silo]?.tier ?? "?"
                case .silo: key = silos[row.silo]?.name ?? "?"
                case .tag: key = tagValues[row.ino].map { displayName($0) } ?? "(untagged)"
                case .user:
                    if let known = users[row.uid] { key = known } else {
                        key = DuCommand.userName(row.uid)
                        users[row.uid] = key
                    }
                }
                let allocated = row.blocks * 512
                groups[key, default: Total()].files += 1
                groups[key, default: Total()].bytes += row.size
                groups[key, default: Total()].allocated += allocated
                total.files += 1; total.bytes += row.size; total.allocated += allocated
            }
        }
        // Tiers and silos in the pool's order; tag values and users biggest first.
        let rank = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        let keys = groups.keys.sorted { a, b in
            switch (rank[a], rank[b]) {
            case let (x?, y?): return x < y
            case (_?, nil): return true
            case (nil, _?): return false
            default: return groups[a]!.bytes != groups[b]!.bytes ? groups[a]!.bytes > groups[b]!.bytes : a < b
            }
        }
        let header = switch grouping { case .tier: "TIER"; case .silo: "SILO"; case .tag(let n): Format.name(n.dropFirst(5)).uppercased(); case .user: "USER" }
        if json {
            func object(_ t: Total) -> String { "\"files\": \(t.files), \"bytes\": \(t.bytes), \"allocated\": \(t.allocated)" }
            var out = "{\"path\": \(JSONText.string(scope.absolute(scope.relativeRoot))), \"by\": \(JSONText.string(by)), \"groups\": ["
            out += keys.map { "\n  {\"group\": \(JSONText.string($0)), \(object(groups[$0]!))}" }.joined(separator: ",")
            out += (keys.isEmpty ? "" : "\n") + "], \"total\": {\(object(total))}}"
            print(out)
            return
        }
        var rows = [[header, "FILES", "SIZE", "BYTES", "ALLOCATED"]]
        for key in keys {
            let g = groups[key]!
            rows.append([Format.name(key), Format.count(g.files), Format.bytes(UInt64(max(0, g.bytes))), String(g.bytes), Format.bytes(UInt64(max(0, g.allocated)))])
        }
        rows.append(["total", Format.count(total.files), Format.bytes(UInt64(max(0, total.bytes))), String(total.bytes),
                     Format.bytes(UInt64(max(0, total.allocated)))])
        Format.table(rows).forEach { print($0) }
    }

    static func userName(_ uid: UInt32) -> String {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 4096)
        if getpwuid_r(uid, &entry, &buffer, buffer.count, &result) == 0, result != nil, let name = entry.pw_name {
            return String(cString: name)
        }
        return String(uid)
    }
}

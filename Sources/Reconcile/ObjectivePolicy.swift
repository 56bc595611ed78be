import Config
import Index
import Objectives
import Syscalls

/// A configuration problem in an objective, with where it is.
public struct ObjectiveConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// The pool's objectives, compiled: `[[objective]]` rules from the config, the `[tiers.NAME]`
/// watermarks, and the hold-down that keeps a moved file from moving back at once.
public struct ObjectivePolicy: Sendable {
    public var poolRules: [ObjectiveRule]
    public var watermarks: [String: TierWatermark]
    public var tiers: [String]
    public var holdDown: Int64

    public var interval: Double

    public init(config: PoolConfig) throws {
        var rules: [ObjectiveRule] = []
        for objective in config.objectives {
            do {
                let expression = try ObjectiveParser.parse(objective.where)
                rules.append(ObjectiveRule(name: objective.name, expression: expression, tier: objective.place,
                                           priority: objective.priority ?? 0, source: "pool"))
            } catch {
                let line = objective.line.map { ":\($0)" } ?? ""
                throw ObjectiveConfigError(description: "\(config.source)\(line): objective '\(objective.name)': where: \(error)")
            }
        }
        poolRules = ObjectiveEvaluator.ordered(directoryRules: [], poolRules: rules)
        watermarks = config.watermarks
        tiers = config.tiers
        holdDown = Int64(config.holdDown)
        interval = config.reconcileInterval
    }

    /// The tier after `tier` in the pool's order (where watermarks push cold data), if any.
    public func tierBelow(_ tier: String) -> String? {
        guard let i = tiers.firstIndex(of: tier), i + 1 < tiers.count else { return nil }
        return tiers[i + 1]
    }
}

/// Tags of one inode as the objective language sees them: names without "user.", and the pin.
struct FileTags {
    var tags: [String: String] = [:]
    var pin: String?
    var objective: String?

    static let pinName = "user.estuary.pin"
    static let objectiveName = "user.estuary.objective"

    mutating func add(_ name: [UInt8], _ value: [UInt8]) {
        let key = String(decoding: name, as: UTF8.self)
        let text = String(decoding: value, as: UTF8.self)
        if key == FileTags.pinName { pin = text }
        else if key == FileTags.objectiveName { objective = text }
        else if key.hasPrefix("user.") && !key.hasPrefix("user.estuary.") { tags[String(key.dropFirst(5))] = text }
    }
}

extension FileFacts {
    init(row: EntryRow, path: String, tags: FileTags, heat: Double, tier: String, silo: String) {
        let kind: FileFacts.Kind = switch row.kind {
        case .regular: .file
        case .directory: .directory
        case .symlink: .symlink
        case .fifo: .fifo
        case .socket: .socket
        default: .other
        }
        self.init(path: path, kind: kind, size: row.size, uid: row.uid, gid: row.gid, atime: row.atimeNs / 1_000_000_000,
                  mtime: row.mtimeNs / 1_000_000_000, ctime: row.ctimeNs / 1_000_000_000, heat: heat, tags: tags.tags,
                  pinned: tags.pin != nil, tier: tier, silo: silo)
    }
}

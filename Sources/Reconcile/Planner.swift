import Config
import Index
import Namespace
import Objectives
import Silos
import Syscalls
import Tiering
#if canImport(Glibc)
import Glibc
#endif

/// One file's verdict in a reconcile pass.
public struct PlannedMove: Sendable {
    public var ino: UInt64
    public var path: String
    public var size: Int64
    public var heat: Double
    public var from: String
    public var to: String
    public var rule: String
}

/// Per rule: files it decides, and how many of them (and bytes) are in place or still to move.
public struct RuleAlignment: Sendable, Codable {
    public var rule: String
    public var tier: String
    public var filesInPlace: Int = 0
    public var bytesInPlace: Int64 = 0
    public var filesPending: Int = 0
    public var bytesPending: Int64 = 0
    /// Files whose move failed (or cannot be done: hard-linked) and is not tried now.
    public var filesFailed: Int = 0
}

/// A move the objectives want that is not tried now: it failed (see `MoveFailures`) or
/// cannot be done at all.
public struct FailedMove: Sendable {
    public var ino: UInt64
    public var path: String
    public var to: String
    public var rule: String
    public var attempts: Int
    public var error: String
    /// Nil: given up until the file or the objective changes.
    public var retryAt: Int64?
}

/// The outcome of comparing every file's desired tier with where it is.
public struct ReconcilePlan: Sendable {
    public var moves: [PlannedMove] = []
    public var failures: [FailedMove] = []
    /// Moves the pass queued (a plan that was only checked queued none).
    public var queued = 0
    public var alignment: [String: RuleAlignment] = [:]
    public var heldDown = 0
    public var files = 0
}

/// Walks the index once, deciding each file by pin, directory objectives (nearest directory
/// first) and pool objectives, then the watermarks. Pure reading: nothing moves here.
struct Planner {
    let index: IndexStore
    let namespace: Namespace
    let silos: SiloSet
    let heat: HeatTracker
    let policy: ObjectivePolicy
    /// When the objectives were last (re)loaded: failures before it no longer count.
    var policySince: Int64 = 0

    func plan(now: Int64) throws -> ReconcilePlan {
        var plan = ReconcilePlan()
        let (tags, lastMoved, failures) = try index.read { tx throws(IndexError) -> ([UInt64: FileTags], [UInt64: Int64], MoveFailures) in
            var tags: [UInt64: FileTags] = [:]
            try tx.forEachXattr { ino, name, value in tags[ino, default: FileTags()].add(name, value) }
            let completed = try tx.completedMoves()
            let moved = completed.mapValues(\.updated), lastDone = completed.mapValues(\.id)
            return (tags, moved, try MoveFailures.load(tx, lastDone: lastDone))
        }
        var stack: [(ino: UInt64, path: String, rules: [ObjectiveRule])] = [(1, "", [])]
        var tierFiles: [String: [(ino: UInt64, size: Int64, heat: Double, atime: Int64, path: String, placed: Bool)]] = [:]
        // The rows of files that may be planned to move, for the failure verdicts at the end.
        var movable: [UInt64: EntryRow] = [:]
        while let dir = stack.popLast() {
            let children = try index.query { tx throws(IndexError) in try tx.firstNames(in: dir.ino) }
            for child in children.values {
                let path = dir.path + "/" + displayName(child.name)
                let childTags = tags[child.ino] ?? FileTags()
                if child.kind == .directory {
                    var rules = dir.rules
                    if let text = childTags.objective, let parsed = try? ObjectiveParser.parseDirectoryObjective(text) {
                        rules.insert(ObjectiveRule(name: "dir:\(path)", expression: parsed.expression, tier: parsed.tier, source: path), at: 0)
                    }
                    stack.append((child.ino, path, rules))
                    continue
                }
                guard child.kind == .regular, let silo = silos[child.silo] else { continue }
                plan.files += 1
                let fileHeat = heat.score(child.ino)
                let facts = FileFacts(row: child, path: path, tags: childTags, heat: fileHeat, tier: silo.tier, silo: silo.name)
                let decision = ObjectiveEvaluator.decide(facts, pin: childTags.pin, orderedRules: dir.rules + policy.poolRules, now: now)
                var placed = false
                if let decision {
                    var aligned = plan.alignment[decision.rule] ?? RuleAlignment(rule: decision.rule, tier: decision.tier)
                    if decision.tier == silo.tier {
                        aligned.filesInPlace += 1; aligned.bytesInPlace += child.size
                        placed = true
                    } else if decision.rule != ObjectiveEvaluator.pinRuleName, let last = lastMoved[child.ino], now - last < policy.holdDown {
                        plan.heldDown += 1   // moved recently: not moved back yet
                    } else {
                        aligned.filesPending += 1; aligned.bytesPending += child.size
                        plan.moves.append(PlannedMove(ino: child.ino, path: path, size: child.size, heat: fileHeat, from: silo.tier,
                                                      to: decision.tier, rule: decision.rule))
                    }
                    plan.alignment[decision.rule] = aligned
                }
                tierFiles[silo.tier, default: []].append((child.ino, child.size, fileHeat, child.atimeNs, path, placed))
                if !placed { movable[child.ino] = child }
            }
        }
        setAsideFailures(&plan, rows: movable, failures: failures, now: now)
        // Watermarks pass over files that cannot move now, so colder ones go in their place.
        plan.moves += watermarkMoves(tierFiles, planned: plan.moves, lastMoved: lastMoved, now: now) { ino, tier in
            guard let row = movable[ino] else { return false }
            return verdict(row, to: tier, failures: failures, now: now) != nil
        }
        plan.moves.sort { $0.heat > $1.heat }
        return plan
    }

    /// Moves that cannot be done (a hard-linked file: every name would have to move with it)
    /// or that failed and wait out their back-off leave the plan for its failures.
    private func setAsideFailures(_ plan: inout ReconcilePlan, rows: [UInt64: EntryRow], failures: MoveFailures, now: Int64) {
        plan.moves.removeAll { move in
            guard let row = rows[move.ino], let (attempts, retryAt, error) = verdict(row, to: move.to, failures: failures, now: now) else {
                return false
            }
            plan.failures.append(FailedMove(ino: move.ino, path: move.path, to: move.to, rule: move.rule, attempts: attempts,
                                            error: error, retryAt: retryAt))
            if var aligned = plan.alignment[move.rule] {
                aligned.filesPending -= 1; aligned.bytesPending -= move.size; aligned.filesFailed += 1
                plan.alignment[move.rule] = aligned
            }
            return true
        }
        plan.failures.sort { $0.path < $1.path }
    }

    /// A tier above its `high` mark sends its coldest files (by heat, then atime) one tier down
    /// until it would be under `low`. Files an objective or pin placed there stay.
    private func watermarkMoves(_ tierFiles: [String: [(ino: UInt64, size: Int64, heat: Double, atime: Int64, path: String, placed: Bool)]],
                                planned: [PlannedMove], lastMoved: [UInt64: Int64], now: Int64,
                                cannotMove: (UInt64, String) -> Bool) -> [PlannedMove] {
        var moves: [PlannedMove] = []
        let leaving = Set(planned.map(\.ino))
        for (tier, mark) in policy.watermarks {
            guard let below = policy.tierBelow(tier), let usage = TierUsage.of(tier, silos) else { continue }
            var used = usage.used - planned.filter { $0.from == tier }.reduce(0) { $0 + $1.size }
            let high = Int64(Double(usage.total) * Double(mark.high) / 100), low = Int64(Double(usage.total) * Double(mark.low) / 100)
            guard used > high else { continue }
            let coldest = (tierFiles[tier] ?? []).filter { !$0.placed && !leaving.contains($0.ino) }
                .sorted { ($0.heat, $0.atime) < ($1.heat, $1.atime) }
            for file in coldest where used > low {
                if let last = lastMoved[file.ino], now - last < policy.holdDown { continue }
                if cannotMove(file.ino, below) { continue }
                moves.append(PlannedMove(ino: file.ino, path: file.path, size: file.size, heat: file.heat, from: tier, to: below,
                                         rule: "watermark:\(tier)>\(mark.high)%"))
                used -= file.size
            }
        }
        return moves
    }

    /// Why `row` is not moved to `tier` now, or nil when it may be.
    private func verdict(_ row: EntryRow, to tier: String, failures: MoveFailures, now: Int64) -> (Int, Int64?, String)? {
        if row.nlink > 1 { return (0, nil, "hard-linked (\(row.nlink) names): hard-linked files are not moved") }
        let baseDelay = Int64(policy.interval.rounded(.up))
        if case .wait(let attempts, let retryAt, let error) = failures.verdict(for: row, to: tier, silos: silos, baseDelay: baseDelay,
                                                                               policySince: policySince, now: now) {
            return (attempts, retryAt, error)
        }
        return nil
    }
}

/// Space of a tier: its silos summed, each underlying file system once.
enum TierUsage {
    static func of(_ tier: String, _ silos: SiloSet) -> (total: Int64, used: Int64)? {
        var seen = Set<UInt64>()
        var total: Int64 = 0, free: Int64 = 0
        for silo in silos.all where silo.tier == tier && silo.isOnline {
            guard seen.insert(silo.device).inserted, let s = try? silo.statfs() else { continue }
            let unit = Int64(s.f_frsize == 0 ? s.f_bsize : s.f_frsize)
            total += Int64(s.f_blocks) * unit
            free += Int64(s.f_bavail) * unit
        }
        return total > 0 ? (total, total - free) : nil
    }

    /// Whether adding `bytes` keeps the tier at or under its high mark.
    static func hasRoom(_ tier: String, _ bytes: Int64, _ silos: SiloSet, _ mark: TierWatermark?) -> Bool {
        guard let mark, let usage = of(tier, silos) else { return true }
        return Double(usage.used + bytes) <= Double(usage.total) * Double(mark.high) / 100
    }
}

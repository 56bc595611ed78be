import Config
import Index
import Logging
import Namespace
import Objectives
import Silos
import Synchronization
import Syscalls
import Tiering
#if canImport(Glibc)
import Glibc
#endif

/// The reconcile loop: periodically and whenever something that objectives depend on changes
/// (a tag, a pin, a directory objective, the config, a watermark crossed), compare each file's
/// desired tier with where it is and queue moves through the mover, hottest first, at most
/// `batch` per pass, never undoing a move within the hold-down time unless a pin asks.
public final class Reconciler: Sendable {
    let index: IndexStore
    let namespace: Namespace
    let silos: SiloSet
    let mover: Mover
    let logger = Logger(label: "estuary.reconcile")
    private let policy: Mutex<ObjectivePolicy>
    private let batch: Int
    private let running = Atomic<Bool>(false)
    private let triggered = Atomic<Bool>(false)
    /// Rung by `trigger` and `stop`: a pass asked for starts at once, and a stopping daemon
    /// does not wait out a sleep before it lets go of the pool.
    private let wake = Doorbell()
    private let thread = Mutex<OSThread?>(nil)
    private let last = Mutex<ReconcilePlan?>(nil)
    /// When the policy was last replaced: older move failures no longer hold a file back.
    private let policySince = Atomic<Int64>(0)
    /// One pass at a time: the loop's and one asked for on the control socket would queue the
    /// same moves twice.
    private let passing = Mutex<Void>(())
    private let leadership = Mutex<(@Sendable () -> Bool)?>(nil)
    private let leading = Atomic<Bool>(false)

    public init(index: IndexStore, namespace: Namespace, silos: SiloSet, mover: Mover, policy: ObjectivePolicy, batch: Int = 1000) {
        self.index = index; self.namespace = namespace; self.silos = silos; self.mover = mover
        self.policy = Mutex(policy); self.batch = batch
    }

    public var currentPolicy: ObjectivePolicy { policy.withLock { $0 } }
    public var lastPlan: ReconcilePlan? { last.withLock { $0 } }

    /// Takes a new policy (a reloaded config) and reconciles against it soon.
    public func replace(_ new: ObjectivePolicy) {
        policy.withLock { $0 = new }
        policySince.store(Int64(time(nil)), ordering: .relaxed)
        namespace.consultCreationTierForEveryFile(!new.poolRules.isEmpty || !new.watermarks.isEmpty)
        trigger()
    }

    public func trigger() { triggered.store(true, ordering: .relaxed); wake.ring() }

    public func start() {
        running.store(true, ordering: .relaxed)
        installHooks()
        trigger()
        let t = OSThread.start { [self] in
            var last = monotonicSeconds()
            while running.load(ordering: .relaxed) {
                let interval = currentPolicy.interval
                wake.wait(seconds: max(0.001, min(interval - (monotonicSeconds() - last), 1)))
                guard running.load(ordering: .relaxed) else { break }
                if triggered.exchange(false, ordering: .relaxed) || monotonicSeconds() - last >= interval {
                    last = monotonicSeconds()
                    if isLeader() { reconcile() }
                }
            }
        }
        thread.withLock { $0 = t }
    }

    public func stop() {
        running.store(false, ordering: .relaxed)
        wake.ring()
        thread.withLock { $0 }?.join()
    }

    /// Several nodes on one pool: the loop's passes run only while `lead` says this node is
    /// the pool's reconcile leader (its lease), so one node plans and queues at a time. A
    /// follower asks again at every interval and takes over when the leader's heartbeat lapses.
    public func lead(when lead: @escaping @Sendable () -> Bool) { leadership.withLock { $0 = lead } }

    private func isLeader() -> Bool {
        guard let lead = leadership.withLock({ $0 }) else { return true }
        let now = lead()
        if leading.exchange(now, ordering: .relaxed) != now {
            logger.notice(now ? "this node is the pool's reconcile leader" : "another node leads reconcile passes; this one follows")
        }
        return now
    }

    /// A plan without queueing anything: `estuary objectives check`.
    public func plan() -> ReconcilePlan? {
        try? planner().plan(now: Int64(time(nil)))
    }

    private func planner() -> Planner {
        Planner(index: index, namespace: namespace, silos: silos, heat: mover.heat, policy: currentPolicy,
                policySince: policySince.load(ordering: .relaxed))
    }

    /// One pass: plan, then queue the moves.
    @discardableResult
    public func reconcile() -> ReconcilePlan? {
        passing.withLock { _ in pass() }
    }

    private func pass() -> ReconcilePlan? {
        let now = Int64(time(nil))
        var plan: ReconcilePlan
        do { plan = try planner().plan(now: now) } catch {
            logger.error("reconcile pass failed: \(error)")
            return nil
        }
        let busy = Set(((try? index.query { tx throws(IndexError) in try tx.jobs() }) ?? []).map(\.ino))
        var queued = 0
        for move in plan.moves where !busy.contains(move.ino) && queued < batch {
            guard let destination = destination(in: move.to, for: move.size) else { continue }
            if (try? mover.enqueue(move.ino, to: destination.id)) != nil { queued += 1 }
        }
        if queued > 0 { logger.info("reconcile: \(queued) move(s) queued of \(plan.moves.count) planned over \(plan.files) files") }
        plan.queued = queued
        last.withLock { $0 = plan }
        return plan
    }

    /// The silo of `tier` with most free space, if the tier stays under its high mark.
    func destination(in tier: String, for bytes: Int64) -> Silo? {
        guard TierUsage.hasRoom(tier, bytes, silos, currentPolicy.watermarks[tier]) else { return nil }
        return silos.all.filter { $0.tier == tier && $0.isOnline && !$0.readOnly && !$0.draining }
            .max { $0.availableBytes < $1.availableBytes }
    }


    /// Tags, pins and directory objectives set through the mount trigger a pass; new files are
    /// placed where the objectives want them from the start.
    private func installHooks() {
        namespace.addPinHook { [self] _, _ in trigger() }
        namespace.onTagChange { [self] in trigger() }
        namespace.setObjectiveValidator { text in
            do { _ = try ObjectiveParser.parseDirectoryObjective(text); return nil } catch { return "\(error)" }
        }
        let policy = currentPolicy
        namespace.consultCreationTierForEveryFile(!policy.poolRules.isEmpty || !policy.watermarks.isEmpty)
        namespace.setCreationTier { [self] parentPath, name, uid, gid, directoryObjectives in
            let now = Int64(time(nil))
            var rules: [ObjectiveRule] = []
            for (path, text) in directoryObjectives {
                if let parsed = try? ObjectiveParser.parseDirectoryObjective(text) {
                    rules.append(ObjectiveRule(name: "dir:\(path)", expression: parsed.expression, tier: parsed.tier, source: path))
                }
            }
            let facts = FileFacts(path: parentPath + "/" + name, kind: .file, size: 0, uid: uid, gid: gid, atime: now, mtime: now,
                                  ctime: now, heat: 0, tags: [:], pinned: false, tier: "", silo: "")
            let policy = currentPolicy
            if let tier = ObjectiveEvaluator.decide(facts, pin: nil, orderedRules: rules + policy.poolRules, now: now)?.tier,
               TierUsage.hasRoom(tier, 0, silos, policy.watermarks[tier]) {
                return tier
            }
            // No rule decides: the first tier in order still under its high mark.
            guard !policy.watermarks.isEmpty else { return nil }
            return policy.tiers.first { TierUsage.hasRoom($0, 0, silos, policy.watermarks[$0]) }
        }
    }

    /// `estuary objectives explain`: the facts, each rule's verdict, and the deciding rule.
    public func explain(_ ino: UInt64) throws -> [String] {
        let row = try namespace.currentRow(ino)
        let path = "/" + displayName(try namespace.relativePath(of: row))
        var tags = FileTags()
        for tag in try index.query({ tx throws(IndexError) in try tx.xattrs(of: ino) }) { tags.add(tag.name, tag.value) }
        var directoryRules: [ObjectiveRule] = []
        var current = row
        while current.ino != 1 {
            current = try namespace.currentRow(current.parent)
            let value = try index.query { tx throws(IndexError) in try tx.xattrs(of: current.ino) }
                .first { $0.name == Array(FileTags.objectiveName.utf8) }?.value
            if let value, let parsed = try? ObjectiveParser.parseDirectoryObjective(String(decoding: value, as: UTF8.self)) {
                let dirPath = current.ino == 1 ? "/" : "/" + displayName(try namespace.relativePath(of: current))
                directoryRules.append(ObjectiveRule(name: "dir:\(dirPath)", expression: parsed.expression, tier: parsed.tier, source: dirPath))
            }
        }
        let silo = silos[row.silo]
        let facts = FileFacts(row: row, path: path, tags: tags, heat: mover.heat.score(ino), tier: silo?.tier ?? "", silo: silo?.name ?? "")
        let now = Int64(time(nil))
        var lines = ["\(path): on tier \(facts.tier) (silo \(facts.silo)), heat \((facts.heat * 100).rounded() / 100)"]
        if let pin = tags.pin { lines.append("pinned to \(pin): the pin decides") }
        for rule in directoryRules + currentPolicy.poolRules {
            let matched = rule.expression.evaluate(facts, now: now)
            lines.append("rule \(rule.name) (place \(rule.tier)): \(matched ? "matches" : "does not match")")
            lines += rule.expression.explain(facts, now: now).map { "    " + $0 }
        }
        let decision = ObjectiveEvaluator.decide(facts, pin: tags.pin, orderedRules: directoryRules + currentPolicy.poolRules, now: now)
        lines.append(decision.map { "decided by \($0.rule): belongs on \($0.tier)" + ($0.tier == facts.tier ? " (in place)" : " (will move)") }
                     ?? "no rule matches: it stays where it is")
        return lines
    }
}

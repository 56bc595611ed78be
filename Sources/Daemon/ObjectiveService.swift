import Config
import ControlProtocol
import Logging
import Namespace
import Pool
import Reconcile
import Synchronization
import Syscalls
import Tiering
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's side of objectives: the reconcile loop, `objectives check|explain`, and
/// reloading the config (SIGHUP or `estuary reload`), which keeps the old config when the new
/// one is bad.
final class ObjectiveService: Sendable {
    let pool: PoolContext
    let namespace: Namespace
    let reconciler: Reconciler
    let mountpoint: String
    private let logger = Logger(label: "estuary.objectives")
    private let hangups = Atomic<Bool>(false)
    private let thread = Mutex<OSThread?>(nil)

    init(pool: PoolContext, namespace: Namespace, mover: Mover, policy: ObjectivePolicy, mountpoint: String) {
        self.pool = pool
        self.namespace = namespace
        self.mountpoint = mountpoint
        reconciler = Reconciler(index: pool.index, namespace: namespace, silos: pool.silos, mover: mover, policy: policy)
    }

    func start() {
        namespace.loadDirectoryObjectives()
        // A read-only mount moves nothing: objectives are explained and checked, not enforced.
        if pool.readOnly {
            logger.notice("the pool is mounted read-only: objectives are not enforced (no file is moved)")
        } else {
            reconciler.start()
        }
        hangups.store(true, ordering: .relaxed)
        // SIGHUP stays blocked in every thread; this one takes it with sigwait and reloads.
        let t = OSThread.start { [self] in
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGHUP)
            sigaddset(&set, SIGUSR2)
            while hangups.load(ordering: .relaxed) {
                var signal: Int32 = 0
                sigwait(&set, &signal)
                if signal == SIGHUP { _ = reload() }
            }
        }
        thread.withLock { $0 = t }
    }

    func stop() {
        hangups.store(false, ordering: .relaxed)
        if let t = thread.withLock({ $0 }) {
            kill(getpid(), SIGUSR2)   // wakes the sigwait above
            t.join()
        }
        reconciler.stop()
    }

    /// Re-reads the config; on any error the running one stays and the error is returned.
    func reload() -> String? {
        do {
            let config = try PoolConfigLoader.load(source: pool.config.source)
            let policy = try ObjectivePolicy(config: config)
            if config.silos.map(\.name) != pool.config.silos.map(\.name) || config.silos.map(\.path) != pool.config.silos.map(\.path) {
                logger.notice("reload: silo changes take effect at the next mount; objectives and watermarks apply now")
            }
            reconciler.replace(policy)
            logger.notice("reloaded \(pool.config.source): \(policy.poolRules.count) objective(s)")
            return nil
        } catch {
            logger.error("reload refused, the running config stays: \(error)")
            return "\(error)"
        }
    }

    func check() -> PlanReport? {
        reconcilerPlan().map(report)
    }

    func report(_ plan: ReconcilePlan) -> PlanReport {
        let moves = plan.moves.prefix(1000).map {
            PlannedMoveReport(path: mountpoint + $0.path, from: $0.from, to: $0.to, rule: $0.rule, size: $0.size)
        }
        let failures = plan.failures.prefix(1000).map {
            FailedMoveReport(path: mountpoint + $0.path, to: $0.to, rule: $0.rule, attempts: $0.attempts, error: $0.error, retryAt: $0.retryAt)
        }
        return PlanReport(files: plan.files, heldDown: plan.heldDown, rules: Self.alignment(plan), moves: Array(moves),
                          moveCount: plan.moves.count, failures: Array(failures))
    }

    private func reconcilerPlan() -> ReconcilePlan? { reconciler.plan() }

    func alignment() -> [AlignmentReport]? {
        reconciler.lastPlan.map(Self.alignment)
    }

    static func alignment(_ plan: ReconcilePlan) -> [AlignmentReport] {
        plan.alignment.values.sorted { $0.rule < $1.rule }.map {
            AlignmentReport(rule: $0.rule, tier: $0.tier, filesInPlace: $0.filesInPlace, bytesInPlace: $0.bytesInPlace,
                            filesPending: $0.filesPending, bytesPending: $0.bytesPending, filesFailed: $0.filesFailed)
        }
    }
}

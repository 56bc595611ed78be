import Assimilation
import Index
import Logging
import Namespace
import Pool
import Silos
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Watches silo health every two seconds. A silo that goes away is marked offline at once (its
/// files still list and stat from the index; opening them gives EIO), and one that comes back
/// is rescanned for what changed meanwhile, then serves again.
final class SiloWatch: Sendable {
    private let pool: PoolContext
    private let namespace: Namespace
    private let logger = Logger(label: "estuary.health")
    private let running = Atomic<Bool>(false)
    /// Rung by `stop`, so an unmount does not wait out the two seconds between checks.
    private let stopping = Doorbell()
    private let thread = Mutex<OSThread?>(nil)

    init(pool: PoolContext, namespace: Namespace) { self.pool = pool; self.namespace = namespace }

    func start() {
        running.store(true, ordering: .relaxed)
        let t = OSThread.start { [self] in
            while running.load(ordering: .relaxed) {
                stopping.wait(seconds: 2)
                guard running.load(ordering: .relaxed) else { break }
                check()
            }
        }
        thread.withLock { $0 = t }
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        stopping.ring()
        thread.withLock { $0 }?.join()
    }

    func check() {
        for silo in pool.silos.all {
            switch silo.probe() {
            case .healthy, .stillOffline:
                continue
            case .wentOffline(let reason):
                logger.error("silo '\(silo.name)' (\(silo.path)) is offline: \(reason); its files give EIO until it returns")
                record(silo)
            case .cameBack:
                logger.notice("silo '\(silo.name)' (\(silo.path)) is back; rescanning it")
                record(silo)
                do {
                    let summary = try liveScan(pool, namespace, [silo])
                    logger.notice("silo '\(silo.name)' checked: \(summary.added) added, \(summary.updated) updated, \(summary.removed) removed")
                } catch {
                    logger.error("rescan of returning silo '\(silo.name)' failed: \(error)")
                }
            }
        }
    }

    private func record(_ silo: Silo) {
        let health = silo.health
        try? pool.index.write { tx throws(IndexError) in try tx.setHealth(silo: silo.id, health: health.label, reason: health.reason) }
    }
}

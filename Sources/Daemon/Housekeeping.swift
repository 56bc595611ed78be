import CShims
import Index
import Logging
import Namespace
import Tiering
import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// Background upkeep of the mounted namespace, off the request path:
/// - every second, sizes and times changed by writes go to the index in one transaction, so a
///   write call never waits for a SQLite commit;
/// - every 10 seconds, access heat goes to the index;
/// - every `freshnessInterval` seconds, files the kernel holds are re-checked against their
///   backing files, so changes made behind the mount show without a scan.
final class Housekeeping: Sendable {
    private let namespace: Namespace
    private let heat: HeatTracker
    private let index: IndexStore
    private let freshnessInterval: Int
    private let running = Atomic<Bool>(false)
    /// Rung by `stop`, so an unmount does not wait out the rest of a second.
    private let stopping = Doorbell()
    private let thread = Mutex<OSThread?>(nil)
    private let rescan: @Sendable () throws -> String
    /// Lost batches (`IndexStore.lostBatches`) that a rescan has since brought level.
    private let repairedBatches = Atomic<Int>(0)
    private let logger = Logger(label: "estuary.housekeeping")

    init(namespace: Namespace, heat: HeatTracker, index: IndexStore, freshnessInterval: Int = 30,
         rescan: @escaping @Sendable () throws -> String) {
        self.namespace = namespace
        self.heat = heat
        self.index = index
        self.freshnessInterval = freshnessInterval
        self.rescan = rescan
    }

    func start() {
        running.store(true, ordering: .relaxed)
        let t = OSThread.start { [self] in
            var seconds = 0
            var lostSeen = 0
            var retryIn = 0
            while running.load(ordering: .relaxed) {
                stopping.wait(seconds: 1)
                guard running.load(ordering: .relaxed) else { break }
                namespace.flushMetadata()
                retryIn -= 1
                if index.lostBatches != lostSeen && retryIn <= 0 {
                    let lost = index.lostBatches
                    logger.error("namespace changes could not be committed to the index \(index.path); rescanning the silos")
                    do {
                        let result = try rescan()
                        lostSeen = lost
                        repairedBatches.store(lost, ordering: .relaxed)
                        logger.notice("rescan after the failed commit: \(result)")
                    } catch {
                        // The index may be away (a database restarting): tried again until it
                        // succeeds, so what the silos hold comes back by itself.
                        retryIn = 5
                        logger.error("rescan after the failed commit failed: \(error); trying again in \(retryIn) s")
                    }
                }
                seconds += 1
                if seconds % freshnessInterval == 0 { namespace.refreshKnownFiles() }
                if seconds % 10 == 0 {
                    heat.flush(to: index)
                    // Memory freed by short-lived requests goes back to the system rather than
                    // staying in the allocator's per-thread arenas.
                    _ = estuary_malloc_trim()
                }
            }
        }
        thread.withLock { $0 = t }
    }

    /// Some namespace changes never reached the index and no rescan has brought it level since:
    /// the silos are ahead of the index, so the next mount must rescan them.
    var indexBehindSilos: Bool { index.lostBatches > repairedBatches.load(ordering: .relaxed) }

    func stop() {
        running.store(false, ordering: .relaxed)
        stopping.ring()
        thread.withLock { $0 }?.join()
        namespace.flushMetadata()
    }
}

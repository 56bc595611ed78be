import Assimilation
import ControlProtocol
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

/// Watches silo health every two seconds, and at once whenever the mount table changes. A silo
/// that goes away is marked offline at once (its files still list and stat from the index;
/// opening them gives EIO), and one that comes back is rescanned for what changed meanwhile,
/// then serves again. For 30 s after a silo went offline or the mount table changed, offline
/// silos are looked for every quarter second, so one remounted (whose marker may appear only
/// after the mount) returns without waiting out a whole period.
///
/// It also follows what changes in the silos behind the mount (live assimilation): silos on
/// file systems fanotify can follow are watched (see `SiloWatcher`), the others rescanned
/// every `[pool] rescan_interval` seconds, and silos with `watch = false` only by `estuary scan`.
final class SiloWatch: Sendable {
    private let pool: PoolContext
    private let namespace: Namespace
    private let logger = Logger(label: "estuary.health")
    private let watchLogger = Logger(label: "estuary.watch")
    private let running = Atomic<Bool>(false)
    /// Rung by `stop`, so an unmount does not wait out the two seconds between checks, and
    /// when the mount table changed (`mountsChanged`), so that a remount is seen at once.
    private let wake = Doorbell()
    private let mountsChanged = Atomic<Bool>(false)
    private let mountTable = Mutex<MountTableWatch?>(nil)
    private static let checkInterval = 2.0
    private static let offlineInterval = 0.25
    private static let offlineWatchSeconds = 30.0
    /// Until when (monotonic seconds) offline silos are looked for every `offlineInterval`.
    private let lookForReturnsUntil = Mutex<Double>(0)
    private let thread = Mutex<OSThread?>(nil)
    private let watcher = Mutex<SiloWatcher?>(nil)
    private let catchUpThread = Mutex<OSThread?>(nil)
    /// How each silo is followed, for `estuary status`; and when each periodically rescanned
    /// silo is due (monotonic seconds).
    private let states = Mutex<[String: SiloWatchState]>([:])
    private let due = Mutex<[String: Double]>([:])
    /// Directory times each periodically rescanned silo had at its last sweep.
    private let swept = Mutex<[String: DirectorySweep.Times]>([:])

    /// The running daemon's, for the status report.
    static let current = Mutex<SiloWatch?>(nil)

    /// When following began (monotonic seconds): a swept silo is behind by at least that long
    /// until its first sweep.
    private let started = monotonicSeconds()

    init(pool: PoolContext, namespace: Namespace) { self.pool = pool; self.namespace = namespace }

    func start() {
        running.store(true, ordering: .relaxed)
        startFollowing()
        SiloWatch.current.withLock { $0 = self }
        // On its own thread: on a large pool the sweep takes a while, and health checks and
        // periodic rescans must not wait for it.
        let sweep = OSThread.start { [self] in catchUp() }
        catchUpThread.withLock { $0 = sweep }
        let table = MountTableWatch { [self] in
            mountsChanged.store(true, ordering: .relaxed)
            wake.ring()
        }
        table?.start()
        mountTable.withLock { $0 = table }
        let t = OSThread.start { [self] in
            var lastCheck = monotonicSeconds(), lastLook = lastCheck
            while running.load(ordering: .relaxed) {
                // The next health check, or sooner a look for returning silos or the next
                // periodic rescan due: a silo's `rescan_interval` is kept to, not rounded up
                // to the health check's period.
                let nextCheck = lastCheck + SiloWatch.checkInterval
                let looking = lookForReturnsUntil.withLock { $0 } > monotonicSeconds() && pool.silos.all.contains { !$0.isOnline }
                let nextLook = looking ? lastLook + SiloWatch.offlineInterval : .infinity
                let nextRescan = due.withLock { $0.values.min() } ?? .infinity
                wake.wait(seconds: max(0.001, min(nextCheck, nextLook, nextRescan) - monotonicSeconds()))
                guard running.load(ordering: .relaxed) else { break }
                let now = monotonicSeconds()
                if mountsChanged.exchange(false, ordering: .relaxed) {
                    lookForReturnsUntil.withLock { $0 = now + SiloWatch.offlineWatchSeconds }
                    lastCheck = now; lastLook = now
                    check()
                } else if now >= nextCheck {
                    lastCheck = now; lastLook = now
                    check()
                } else if now >= nextLook {
                    lastLook = now
                    check(offlineOnly: true)
                }
                rescanDue()
            }
        }
        thread.withLock { $0 = t }
    }

    func stop() {
        running.store(false, ordering: .relaxed)
        wake.ring()
        mountTable.withLock { $0 }?.stop()
        thread.withLock { $0 }?.join()
        catchUpThread.withLock { $0 }?.join()
        watcher.withLock { $0 }?.stop()
        SiloWatch.current.withLock { $0 = nil }
    }

    /// Fills in how each silo is followed, for `estuary status`.
    func describe(_ reports: inout [SiloStatusReport]) {
        let states = states.withLock { $0 }
        let now = monotonicSeconds()
        let backlog = watcher.withLock { $0 }?.backlog
        for (i, report) in reports.enumerated() {
            guard let state = states[report.name] else { continue }
            reports[i].watch = state.summary
            reports[i].watchLag = state.lastLag
            reports[i].watchApplied = state.lastApplied
            reports[i].watchLosses = state.overflows
            // How far behind the silo the index may be now: the oldest change seen and not yet
            // applied, or for a swept silo everything since its last sweep began.
            switch state.mode {
            case .fanotify:
                reports[i].watchBehind = backlog.map { now - $0.since } ?? 0
                reports[i].watchWaiting = backlog?.count ?? 0
            case .periodic:
                reports[i].watchBehind = now - (state.lastSweepStarted ?? started)
            case .off:
                break
            }
        }
    }

    private func startFollowing() {
        let interval = Int(pool.config.rescanInterval)
        let wanted = pool.silos.all.filter { silo in
            let on = pool.config.silos.first { $0.name == silo.name }?.watch ?? true
            if !on { states.withLock { $0[silo.name] = SiloWatchState(mode: .off) } }
            return on
        }
        guard !wanted.isEmpty else { return }
        let created: SiloWatcher
        do {
            created = try SiloWatcher(apply: { [self] requests, since in applyBatch(requests, since: since) },
                                      lost: { [self] silos, reason in rescanLost(silos, reason) })
        } catch {
            watchLogger.warning("fanotify is not available (\(error)); silos are rescanned every \(interval) s instead")
            for silo in wanted { fallBack(silo, "fanotify is not available: \(error)") }
            return
        }
        for silo in wanted {
            // An offline silo is marked when it comes back (`refollow`).
            if !silo.isOnline { states.withLock { $0[silo.name] = SiloWatchState(mode: .fanotify) }; continue }
            if let problem = created.follow(silo) { fallBack(silo, problem) }
            else {
                states.withLock { $0[silo.name] = SiloWatchState(mode: .fanotify) }
                watchLogger.info("silo '\(silo.name)' is watched with fanotify")
            }
        }
        watcher.withLock { $0 = created }
        created.start()
    }

    /// A silo back from offline may sit on a new mount of its file system, whose superblock
    /// has no mark: it is marked again before the rescan, so nothing after it is missed.
    private func refollow(_ silo: Silo) {
        guard states.withLock({ $0[silo.name]?.mode == .fanotify }), let watcher = watcher.withLock({ $0 }) else { return }
        if let problem = watcher.follow(silo) { fallBack(silo, problem) }
    }

    private func fallBack(_ silo: Silo, _ reason: String) {
        let interval = Int(pool.config.rescanInterval)
        states.withLock { $0[silo.name] = SiloWatchState(mode: .periodic, reason: reason, interval: interval) }
        due.withLock { $0[silo.name] = monotonicSeconds() + pool.config.rescanInterval }
        watchLogger.notice("silo '\(silo.name)' cannot be watched (\(reason)); it is rescanned every \(interval) s")
    }

    private func applyBatch(_ requests: [(silo: Silo, request: RescanRequest)], since: Double) {
        let count = requests.reduce(0) { $0 + $1.request.count }
        let started = monotonicSeconds()
        do {
            let summary = try liveRescan(pool, namespace, requests)
            // The first problem, and how many: a tree the namespace cannot serve is reported by
            // every batch that touches it, and `estuary scan` lists them all.
            if let first = summary.problems.first {
                watchLogger.warning("watch: \(String(first.description.prefix(300)))\(summary.problems.count > 1 ? " (and \(summary.problems.count - 1) more problems; `estuary scan` lists them)" : "")")
            }
        } catch {
            // The index refused the batch: a full rescan of the silo brings it level.
            rescanLost(requests.map(\.silo), "a batch of \(count) changes could not be applied (\(error))")
            return
        }
        let lag = monotonicSeconds() - since
        states.withLock {
            for name in requests.map(\.silo.name) {
                $0[name, default: SiloWatchState(mode: .fanotify)].lastLag = lag
                $0[name, default: SiloWatchState(mode: .fanotify)].lastApplied = Int64(time(nil))
                $0[name, default: SiloWatchState(mode: .fanotify)].batches += 1
            }
        }
        watchLogger.debug("\(count) changes applied in \(String(format: "%.3f", monotonicSeconds() - started)) s, \(String(format: "%.3f", lag)) s after the first was read")
    }

    /// Events for `silos` may have been lost: each is rescanned whole, as `estuary scan` would.
    private func rescanLost(_ silos: [Silo], _ reason: String) {
        let online = silos.filter(\.isOnline)
        guard !online.isEmpty else { return }
        let names = online.map { "'\($0.name)'" }.joined(separator: ", ")
        watchLogger.warning("changes behind the mount may have been missed (\(reason)); rescanning silo \(names)")
        states.withLock { for s in online { $0[s.name, default: SiloWatchState(mode: .fanotify)].overflows += 1; $0[s.name]?.reason = reason } }
        do {
            let summary = try liveScan(pool, namespace, online)
            watchLogger.notice("rescan of \(names) done: \(summary.added) added, \(summary.updated) updated, \(summary.removed) removed")
        } catch {
            watchLogger.error("rescan of \(names) failed: \(error); run `estuary scan`")
        }
    }

    /// What changed while no daemon followed the silos (a restart, or the first mount since
    /// the last scan): directories whose times differ from the index are listed again. Runs
    /// after the marks are placed, so nothing changed from then on is missed.
    private func catchUp() {
        let silos = pool.silos.all.filter { silo in
            silo.isOnline && states.withLock { $0[silo.name]?.mode != .off }
        }
        for silo in silos where running.load(ordering: .relaxed) {
            let started = monotonicSeconds()
            states.withLock { if $0[silo.name]?.mode == .periodic { $0[silo.name]?.lastSweepStarted = started } }
            let (request, times) = DirectorySweep(silo: silo).changed(since: nil, index: pool.index)
            if states.withLock({ $0[silo.name]?.mode == .periodic }) { swept.withLock { $0[silo.name] = times } }
            guard !request.isEmpty else { continue }
            do {
                let summary = try liveRescan(pool, namespace, [(silo, request)])
                watchLogger.info("silo '\(silo.name)' caught up after the mount: \(request.count) directories changed since they were indexed; \(summary.added) added, \(summary.updated) updated, \(summary.removed) removed in \(String(format: "%.2f", monotonicSeconds() - started)) s")
            } catch {
                watchLogger.error("catching up with silo '\(silo.name)' failed: \(error); run `estuary scan`")
            }
        }
    }

    /// Silos fanotify cannot follow, swept once their interval has passed: directories whose
    /// times changed since the last sweep are listed again.
    private func rescanDue() {
        let now = monotonicSeconds()
        let names = due.withLock { d in d.filter { $0.value <= now }.map(\.key) }
        for name in names {
            guard let silo = pool.silos.named(name) else { continue }
            due.withLock { $0[name] = now + pool.config.rescanInterval }
            guard silo.isOnline else { continue }
            let started = monotonicSeconds()
            states.withLock { $0[name]?.lastSweepStarted = started }
            let (request, times) = DirectorySweep(silo: silo).changed(since: swept.withLock { $0[name] }, index: pool.index)
            swept.withLock { $0[name] = times }
            do {
                let summary = request.isEmpty ? ScanSummary() : try liveRescan(pool, namespace, [(silo, request)])
                states.withLock { $0[name]?.lastLag = monotonicSeconds() - started; $0[name]?.lastApplied = Int64(time(nil)); $0[name]?.batches += 1 }
                if summary.added + summary.updated + summary.removed > 0 {
                    watchLogger.info("periodic rescan of silo '\(name)': \(summary.added) added, \(summary.updated) updated, \(summary.removed) removed")
                }
            } catch {
                watchLogger.error("periodic rescan of silo '\(name)' failed: \(error)")
            }
        }
    }

    /// Probes every silo, or only the offline ones (looking for one that returns).
    func check(offlineOnly: Bool = false) {
        for silo in pool.silos.all where !offlineOnly || !silo.isOnline {
            switch silo.probe() {
            case .healthy, .stillOffline:
                continue
            case .wentOffline(let reason):
                logger.error("silo '\(silo.name)' (\(silo.path)) is offline: \(reason); its files give EIO until it returns")
                lookForReturnsUntil.withLock { $0 = monotonicSeconds() + SiloWatch.offlineWatchSeconds }
                record(silo)
            case .cameBack:
                logger.notice("silo '\(silo.name)' (\(silo.path)) is back; rescanning it")
                record(silo)
                refollow(silo)
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

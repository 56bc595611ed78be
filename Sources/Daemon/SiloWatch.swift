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
///
/// Several nodes on one shared index: one node at a time watches and rescans (the `watch`
/// lease, asked for at every health check); the others stand by and take over when its
/// heartbeat lapses, starting with a sweep for what changed while nobody watched. Health is
/// checked on every node (each serves the silos), but a returning silo is rescanned by the
/// watching node only.
final class SiloWatch: Sendable {
    private let pool: PoolContext
    private let namespace: Namespace
    private let membership: NodeMembership?
    /// Whether this node follows the silos now: always with an index of its own; with a
    /// shared one while it holds the `watch` lease. Changed on the health thread only.
    private let watching = Atomic<Bool>(false)
    /// Whether any silo has `watch` on: a node whose config turns every silo's watch off
    /// never asks for the lease.
    private let wantsWatch: Bool
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
    /// The pids the watcher leaves alone (`ignoreOtherNodesOnThisHost`), to log changes once.
    private let ignoredPids = Mutex<Set<Int32>>([])
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

    init(pool: PoolContext, namespace: Namespace, membership: NodeMembership?) {
        self.pool = pool; self.namespace = namespace; self.membership = membership
        wantsWatch = pool.silos.all.contains { silo in pool.config.silos.first { $0.name == silo.name }?.watch ?? true }
    }

    func start() {
        running.store(true, ordering: .relaxed)
        SiloWatch.current.withLock { $0 = self }
        decideRole(initially: true)
        ignoreOtherNodesOnThisHost()
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
                    decideRole(initially: false)
                    ignoreOtherNodesOnThisHost()
                    check()
                    serveRescanRequests()
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

    /// Takes the watch, keeps it, or stands by, as the `watch` lease says. A database that
    /// cannot be asked changes nothing: the holder keeps watching through a short outage
    /// (its own heartbeat lapsing makes `tryHold` say no, and it stops before another takes over).
    private func decideRole(initially: Bool) {
        guard wantsWatch else {
            if initially { startFollowing() }  // marks every silo `off`
            return
        }
        let lead: Bool
        if let membership {
            guard let held = membership.tryHold(LeaseRow.watch) else {
                if initially { standBy(nil) }
                return
            }
            lead = held
        } else {
            lead = true
        }
        if lead == watching.load(ordering: .relaxed) {
            if initially { standBy(nil) }
            return
        }
        if lead { takeOver(initially: initially) } else { standBy("the watch passed to another node") }
    }

    /// Starts following the silos and sweeps them for what changed while nobody did (this
    /// daemon was not running, or the node that watched died).
    private func takeOver(initially: Bool) {
        watching.store(true, ordering: .relaxed)
        if membership != nil {
            watchLogger.notice(initially ? "this node watches the pool's silos" : "this node watches the pool's silos now (the node that did stopped); sweeping them for what it may have missed")
        }
        startFollowing()
        // On its own thread: on a large pool the sweep takes a while, and health checks and
        // periodic rescans must not wait for it.
        catchUpThread.withLock { $0 }?.join()
        let sweep = OSThread.start { [self] in catchUp() }
        catchUpThread.withLock { $0 = sweep }
    }

    /// The watcher drops the events of the pool's other live nodes on this host (several
    /// mounts of one pool on one machine): each records its own changes, and fanotify shows
    /// the watcher every process's, so it merged them once more. Asked at every health check;
    /// a node counts as live while its heartbeat is within `node_timeout` of this node's own
    /// (the database's clock), so a dead node's pid, which another process may take, is
    /// soon watched again. Nodes on other hosts change the silos out of fanotify's sight.
    private func ignoreOtherNodesOnThisHost() {
        guard let membership, watching.load(ordering: .relaxed), let watcher = watcher.withLock({ $0 }),
              let nodes = try? pool.index.nodes(), let me = nodes.first(where: { $0.id == membership.node.id }) else { return }
        let others = nodes.filter { $0.id != me.id && $0.host == me.host && $0.heartbeat >= me.heartbeat - Int64(membership.deadAfter) }
        let pids = Set(others.map { Int32(truncatingIfNeeded: $0.pid) })
        if pids != ignoredPids.withLock({ $0 }) {
            ignoredPids.withLock { $0 = pids }
            if !others.isEmpty {
                watchLogger.notice("the silo changes of this host's other nodes (\(others.map { "pid \($0.pid) at \($0.mountpoint)" }.joined(separator: ", "))) are theirs to record; the watch leaves them")
            }
        }
        watcher.ignore(pids: pids)
    }

    /// Stops following (if it did): another node holds the watch.
    private func standBy(_ reason: String?) {
        let wasWatching = watching.exchange(false, ordering: .relaxed)
        watcher.withLock { w -> SiloWatcher? in defer { w = nil }; return w }?.stop()
        due.withLock { $0.removeAll() }
        swept.withLock { $0.removeAll() }
        states.withLock { states in
            for silo in pool.silos.all {
                let on = pool.config.silos.first { $0.name == silo.name }?.watch ?? true
                states[silo.name] = SiloWatchState(mode: on ? .standby : .off)
            }
        }
        if wasWatching || reason == nil {
            watchLogger.notice("another node watches the pool's silos; this one stands by\(reason.map { " (\($0))" } ?? "")")
        }
    }

    /// A node whose namespace changes the index lost: the silos hold them, so a rescan of
    /// every online silo brings the index level. Run here when this node watches (or no
    /// node does); else asked of the watching node through the index, so that one node at a
    /// time scans. The answer says which.
    func rescanAfterLostBatches() throws -> String {
        if let membership, !watching.load(ordering: .relaxed), let holder = membership.holder(of: LeaseRow.watch) {
            try pool.index.write { tx throws(IndexError) in
                let wanted = Int(try tx.meta(LeaseRow.rescanWanted) ?? "") ?? 0
                try tx.setMeta(LeaseRow.rescanWanted, String(wanted + 1))
            }
            return "asked node \(holder.id) on \(holder.host), which watches the pool, to rescan"
        }
        let summary = try liveScan(pool, namespace, pool.silos.all.filter(\.isOnline))
        return "\(summary.added) added, \(summary.updated) updated, \(summary.removed) removed"
    }

    /// The watching node runs the rescans other nodes asked for (`rescanAfterLostBatches`).
    /// A rescan begun after a request was recorded covers it; the new holder of a watch that
    /// passed runs what the old one had not finished.
    private func serveRescanRequests() {
        guard membership != nil, watching.load(ordering: .relaxed) else { return }
        guard let (wanted, done) = try? pool.index.query({ tx throws(IndexError) in
            (Int(try tx.meta(LeaseRow.rescanWanted) ?? "") ?? 0, Int(try tx.meta(LeaseRow.rescanDone) ?? "") ?? 0)
        }), wanted > done else { return }
        let online = pool.silos.all.filter(\.isOnline)
        watchLogger.warning("another node's namespace changes did not reach the index; rescanning the silos for it")
        do {
            let summary = try liveScan(pool, namespace, online)
            try pool.index.write { tx throws(IndexError) in
                let now = Int(try tx.meta(LeaseRow.rescanDone) ?? "") ?? 0
                if wanted > now { try tx.setMeta(LeaseRow.rescanDone, String(wanted)) }
            }
            watchLogger.notice("rescan asked for by another node done: \(summary.added) added, \(summary.updated) updated, \(summary.removed) removed")
        } catch {
            watchLogger.error("rescan asked for by another node failed: \(error); trying again")
        }
    }

    /// Fills in how each silo is followed, for `estuary status`.
    func describe(_ reports: inout [SiloStatusReport]) {
        let states = states.withLock { $0 }
        let now = monotonicSeconds()
        let backlog = watcher.withLock { $0 }?.backlog
        for (i, report) in reports.enumerated() {
            guard var state = states[report.name] else { continue }
            if state.mode == .standby, let holder = membership?.holder(of: LeaseRow.watch) {
                state.reason = "node \(holder.id) on \(holder.host) at \(holder.mountpoint) watches"
            }
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
            case .off, .standby:
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
            silo.isOnline && states.withLock { $0[silo.name].map { $0.mode != .off && $0.mode != .standby } ?? false }
        }
        for silo in silos where running.load(ordering: .relaxed) && watching.load(ordering: .relaxed) {
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
                record(silo)
                guard watching.load(ordering: .relaxed) else {
                    logger.notice("silo '\(silo.name)' (\(silo.path)) is back; the node that watches the pool rescans it")
                    continue
                }
                logger.notice("silo '\(silo.name)' (\(silo.path)) is back; rescanning it")
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

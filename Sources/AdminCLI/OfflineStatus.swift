import Config
import ControlProtocol
import Index
import Pool
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// `estuary status` with no daemon to ask: the index read read-only, the silos' space from
/// statvfs. Nothing is created or written, so a mistyped pool stays an error and a user who may
/// read the index but not write it gets an answer.
enum OfflineStatus {
    static func report(_ config: PoolConfig) throws -> StatusReport {
        let paths = PoolPaths(config)
        if PoolIndex.isFile(config) {
            do { _ = try Sys.statPath(paths.index) } catch {
                if error == .noSuchFileOrDirectory {
                    throw CommandFailure("""
                        pool '\(config.name)' has no index at \(Format.name(paths.index)): it was never mounted or scanned \
                        (mount it, or run `estuary scan` first)
                        """)
                }
                if error == .permissionDenied { throw CommandFailure(DaemonAccess.needsOwner(config, socket: paths.index, what: "the index")) }
                throw CommandFailure("cannot read the index \(Format.name(paths.index)): \(error)")
            }
        }
        let read: ([SiloRow], [SiloID: Int64], Int64, [(path: [UInt8], shadow: ShadowRow)], [SiloID?], Int64, Set<SiloID>, [NodeStatus])
        do {
            read = try ReadTransaction.readOnly(engine: PoolIndex.readOnlyEngine(config)) { tx in
                let silos = try tx.silos()
                var counts: [SiloID: Int64] = [:]
                let all = try tx.entryCounts()
                for silo in silos { counts[silo.id] = all[silo.id] ?? 0 }
                let shadows = try tx.allShadows(limit: 1000)
                let visible = try shadows.map { try tx.entry($0.shadow.ino)?.silo }
                return (silos, counts, try tx.entryCount(), shadows, visible, try tx.shadowCount(), try tx.drainingSilos(),
                        try tx.nodeStatus(deadAfter: config.nodeTimeout))
            }
        } catch let error as IndexError {
            // A user who may see the file but not open it (or create its -shm) gets CANTOPEN.
            if PoolIndex.isFile(config) && (error.kind == .unavailable || error.kind == .readOnly || error.kind == .permissionDenied) {
                throw CommandFailure(DaemonAccess.needsOwner(config, socket: paths.index, what: "the index"))
            }
            throw CommandFailure("cannot read the index \(Format.name(PoolIndex.location(config))): \(error.message)")
        }
        let (rows, counts, entries, shadows, visible, shadowCount, draining, nodes) = read
        let siloReports = config.silos.map { silo -> SiloStatusReport in
            let row = rows.first { $0.name == silo.name }
            var total: UInt64 = 0, free: UInt64 = 0
            var health = row?.health ?? "unknown"
            var reason = row?.healthReason
            var fs = statvfs()
            if statvfs(silo.path, &fs) == 0 {
                let unit = UInt64(fs.f_frsize == 0 ? fs.f_bsize : fs.f_frsize)
                total = UInt64(fs.f_blocks) * unit
                free = UInt64(fs.f_bavail) * unit
            } else {
                let failure = Errno.current
                health = "offline"
                reason = "\(silo.path): \(failure)"
            }
            var report = SiloStatusReport(name: silo.name, tier: silo.tier, path: silo.path, entries: row.flatMap { counts[$0.id] } ?? 0,
                                          totalBytes: total, usedBytes: total >= free ? total - free : 0, freeBytes: free,
                                          health: health, reason: reason, scanGeneration: row?.scanGeneration ?? 0, lastScan: row?.scannedAt)
            report.draining = row.map { draining.contains($0.id) } ?? false
            return report
        }
        let names = Dictionary(rows.map { ($0.id, $0.name) }, uniquingKeysWith: { a, _ in a })
        let shadowReports = zip(shadows, visible).map { item, visibleSilo in
            ShadowReport(path: "/" + displayName(item.path), visibleSilo: visibleSilo.flatMap { names[$0] } ?? "?",
                         shadowSilo: names[item.shadow.silo] ?? "?", size: item.shadow.size, mtime: Double(item.shadow.mtimeNs) / 1e9)
        }
        var report = StatusReport(pool: config.name, source: config.source, stateDirectory: paths.stateDirectory,
                                  mountpoint: nil, daemonPid: nil, tiers: config.tiers, entries: entries,
                                  silos: siloReports, shadows: shadowReports, shadowCount: shadowCount)
        report.log = (try? Sys.statPath(paths.log)) != nil ? paths.log : nil
        // An unmounted shared pool may still be mounted on other hosts: their nodes show.
        if !PoolIndex.isFile(config) { report.nodes = PoolReports.nodes(nodes) }
        return report
    }
}

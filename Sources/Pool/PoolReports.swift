import Assimilation
import ControlProtocol
import Index
import Silos
import Syscalls

/// Builds the reports the admin CLI prints, the same whether the daemon or the CLI itself
/// answers.
public enum PoolReports {
    public static func status(_ pool: PoolContext, mountpoint: String?, daemonPid: Int32?, shadowLimit: Int = 1000) throws -> StatusReport {
        let (rows, entries, shadows, shadowCount, counts) = try pool.index.read { tx throws(IndexError) in
            let silos = try tx.silos()
            var counts: [Int: Int64] = [:]
            let all = try tx.entryCounts()
            for silo in silos { counts[silo.id] = all[silo.id] ?? 0 }
            return (silos, try tx.entryCount(), try tx.allShadows(limit: shadowLimit), try tx.shadowCount(), counts)
        }
        let configured = pool.silos.all
        let siloReports = configured.map { silo -> SiloStatusReport in
            let row = rows.first { $0.id == silo.id }
            var total: UInt64 = 0, free: UInt64 = 0
            if let s = try? silo.statfs() {
                let unit = UInt64(s.f_frsize == 0 ? s.f_bsize : s.f_frsize)
                total = UInt64(s.f_blocks) * unit
                free = UInt64(s.f_bavail) * unit
            }
            let used = total >= free ? total - free : 0
            return SiloStatusReport(name: silo.name, tier: silo.tier, path: silo.path, entries: counts[silo.id] ?? 0,
                                    totalBytes: total, usedBytes: used, freeBytes: free, health: silo.health.label,
                                    reason: silo.health.reason, scanGeneration: row?.scanGeneration ?? 0, lastScan: row?.scannedAt)
        }
        let names = Dictionary(uniqueKeysWithValues: configured.map { ($0.id, $0.name) })
        let visible = try pool.index.query { tx throws(IndexError) in
            try shadows.map { item throws(IndexError) in try tx.entry(item.shadow.ino)?.silo ?? -1 }
        }
        let shadowReports = zip(shadows, visible).map { item, visibleSilo in
            ShadowReport(path: "/" + displayName(item.path), visibleSilo: names[visibleSilo] ?? "?",
                         shadowSilo: names[item.shadow.silo] ?? "?", size: item.shadow.size,
                         mtime: Double(item.shadow.mtimeNs) / 1e9)
        }
        var report = StatusReport(pool: pool.config.name, source: pool.config.source, stateDirectory: pool.paths.stateDirectory,
                                  mountpoint: mountpoint, daemonPid: daemonPid, tiers: pool.config.tiers, entries: entries,
                                  silos: siloReports, shadows: shadowReports, shadowCount: shadowCount)
        if !PoolIndex.isFile(pool.config) {
            report.nodes = nodes(try pool.index.query { tx throws(IndexError) in try tx.nodeStatus(deadAfter: pool.config.nodeTimeout) })
        }
        return report
    }

    /// The node registry of a shared index, oldest node first.
    public static func nodes(_ status: [NodeStatus]) -> [NodeReport] {
        status.map { s in
            NodeReport(id: s.node.id, host: s.node.host, pid: s.node.pid, mountpoint: s.node.mountpoint, started: s.node.started,
                       heartbeat: s.node.heartbeat, silentFor: s.silentFor, alive: s.alive,
                       jobs: s.leases.compactMap { $0.hasPrefix("job:") ? Int64($0.dropFirst(4)) : nil }.sorted(),
                       leader: s.leases.contains(LeaseRow.reconcile), watcher: s.leases.contains(LeaseRow.watch))
        }
    }

    public static func scan(_ summary: ScanSummary) -> ScanReport {
        ScanReport(silos: summary.silos, entries: summary.entries, added: summary.added, updated: summary.updated,
                   unchanged: summary.unchanged, removed: summary.removed, shadowed: summary.shadowed,
                   seconds: summary.seconds,
                   problems: summary.problems.map { ScanProblemReport(silo: $0.silo, path: $0.path, message: $0.message) })
    }
}

import CCounters
import Config
import ControlProtocol
import FuseKit
import Index
import Logging
import PoolMetrics
import Namespace
import Pool
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's metrics: the exporter (made on first use, by the HTTP endpoint or by
/// `estuary top` through the control socket) and, when configured, the HTTP endpoint.
final class DaemonMetrics: Sendable {
    /// The running daemon's metrics, for the control socket's `metrics` request.
    static let current = Mutex<DaemonMetrics?>(nil)

    private let pool: PoolContext
    private let tiering: TieringService
    private let logger = Logger(label: "estuary.metrics")
    private let made = Mutex<MetricsExporter?>(nil)
    private let server = Mutex<MetricsServer?>(nil)

    init(pool: PoolContext, tiering: TieringService) {
        self.pool = pool; self.tiering = tiering
    }

    /// Parses the address (from `-o metrics=` or `[pool] metrics`) before anything is mounted,
    /// so a bad one stops the mount with a clear message.
    static func address(option: String?, config: PoolConfig) throws -> MetricsAddress? {
        guard let text = option ?? config.metrics, !text.isEmpty, text != "off" else { return nil }
        do { return try MetricsAddress(parsing: text) } catch { throw DaemonError("\(error)") }
    }

    func start(_ address: MetricsAddress?) throws {
        DaemonMetrics.current.withLock { $0 = self }
        guard let address else { return }
        let endpoint = MetricsServer(address: address, exporter: exporter(), logger: logger)
        do { try endpoint.start() } catch { throw DaemonError("\(error)") }
        server.withLock { $0 = endpoint }
    }

    func stop() {
        DaemonMetrics.current.withLock { $0 = nil }
        server.withLock { $0 }?.stop()
    }

    func exporter() -> MetricsExporter {
        made.withLock { made in
            if let made { return made }
            let exporter = MetricsExporter(version: estuaryVersion) { [pool, tiering] in DaemonMetrics.snapshot(pool, tiering) }
            made = exporter
            return exporter
        }
    }

    /// Answers the control socket's `metrics` request with the exposition text.
    static func answer(_ send: (ControlReply) -> Void) {
        guard let metrics = current.withLock({ $0 }) else { send(ControlReply(error: "metrics are not available")); return }
        send(ControlReply(lines: [metrics.exporter().render()]))
    }

    private static func snapshot(_ pool: PoolContext, _ tiering: TieringService) -> PoolSnapshot? {
        var snapshot = PoolSnapshot(pool: pool.config.name)
        guard var status = try? PoolReports.status(pool, mountpoint: nil, daemonPid: nil, shadowLimit: 0) else { return nil }
        SiloWatch.current.withLock { $0 }?.describe(&status.silos)
        let now = Double(time(nil))
        snapshot.entries = status.entries
        snapshot.silos = zip(pool.silos.all, status.silos).map { silo, report in
            var entry = PoolSnapshot.Silo(id: silo.id, name: silo.name, tier: silo.tier, totalBytes: report.totalBytes, usedBytes: report.usedBytes,
                                          entries: report.entries, health: silo.draining ? "draining" : report.health, readOnly: silo.readOnly,
                                          scanAgeSeconds: report.lastScan.map { max(0, now - Double($0)) })
            entry.watchBehindSeconds = report.watchBehind
            entry.watchWaiting = report.watchWaiting
            entry.watchLastLagSeconds = report.watchLag
            entry.watchLosses = report.watchLosses
            return entry
        }
        snapshot.tiers = pool.config.tiers.map { name in
            let watermark = pool.config.watermarks[name]
            return PoolSnapshot.Tier(name: name, highWatermark: watermark?.high, lowWatermark: watermark?.low)
        }
        if let jobs = try? pool.index.query({ tx throws(IndexError) in try tx.jobs(all: true) }) {
            for job in jobs {
                snapshot.jobsByState[job.state.rawValue, default: 0] += 1
                let live = job.state.isFinished ? nil : tiering.report(job).bytesCopied
                snapshot.bytesMoved += max(job.bytesCopied, live ?? 0)
            }
        }
        snapshot.heatScores = tiering.heat.top(10_000).map(\.score)
        snapshot.indexBytes = fileSize(pool.paths.index) + fileSize(pool.paths.index + "-wal")
        snapshot.lostCommitBatches = pool.index.lostBatches
        snapshot.fences = tiering.namespace.fence.fenced.load(ordering: .relaxed)
        snapshot.fenceRepointedHandles = tiering.namespace.fence.handlesRepointed.load(ordering: .relaxed)
        return snapshot
    }

    private static func fileSize(_ path: String) -> Int64 {
        var s = stat()
        return stat(path, &s) == 0 ? Int64(s.st_size) : 0
    }
}

extension FuseAdapter {
    /// Remembers the silo behind a newly opened backing descriptor, so the bytes read and
    /// written through it count against that silo. Nothing happens with metrics off.
    @inline(__always)
    func noteBacking(fd: Int32, ino: UInt64) {
        guard estuary_metrics_enabled() != 0, let row = try? namespace.currentRow(ino) else { return }
        estuary_metrics_note_fd(fd, Int32(row.silo))
    }
}

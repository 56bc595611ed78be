import ControlProtocol
import Index
import Logging
import Namespace
import Pool
import Silos
import Syscalls
import Tiering
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's side of tier moves: heat, the mover, and the control operations on them.
final class TieringService: Sendable {
    let pool: PoolContext
    let namespace: Namespace
    let heat: HeatTracker
    let foreground = ForegroundActivity()
    let mover: Mover
    let mountpoint: String

    init(pool: PoolContext, namespace: Namespace, mountpoint: String) {
        self.pool = pool
        self.namespace = namespace
        self.mountpoint = mountpoint
        heat = HeatTracker(halfLife: pool.config.heatHalfLife, extentSize: pool.config.extentSize)
        mover = Mover(index: pool.index, namespace: namespace, silos: pool.silos, heat: heat, foreground: foreground,
                      extentSize: pool.config.extentSize, bandwidth: pool.config.moveBandwidth,
                      concurrency: pool.config.moveConcurrency, logger: Logger(label: "estuary.mover"))
    }

    func start() {
        heat.load(from: pool.index)
        if let draining = try? pool.index.query({ tx throws(IndexError) in try tx.drainingSilos() }) {
            for id in draining { pool.silos[id]?.setDraining(true) }
        }
        namespace.onRemoval { [heat] ino in heat.forget(ino) }
        namespace.addAttributeProvider { [heat, mover] row, key in
            switch key {
            case "heat": return Array(String(format: "%.3f", heat.score(row.ino)).utf8)
            case "state": return Array((row.kind == .regular ? mover.state(of: row.ino) : "resident").utf8)
            case "extents":
                let count = max(1, Int((row.size + Int64(heat.extentSize) - 1) / Int64(heat.extentSize)))
                let silo = self.pool.silos[row.silo]?.name ?? "?"
                return Array("\(count) x \(heat.extentSize) bytes on \(silo)".utf8)
            default: return nil
            }
        }
        namespace.addPinHook { [self] row, tier in
            // A hard-linked file cannot move: the reconciler shows it as failed instead.
            guard row.nlink <= 1, pool.silos[row.silo]?.tier != tier, let destination = destination(tier) else { return }
            _ = try? mover.enqueue(row.ino, to: destination)
        }
        // A file in a bucket opened for writing comes back first to the fastest tier with room.
        namespace.setObjectBlockSize(pool.config.extentSize)
        namespace.onObjectWrite { [self] ino in
            guard let row = try? namespace.currentRow(ino), let current = pool.silos[row.silo] else { return false }
            // Recalled meanwhile (by another node, for its own writer): nothing to do.
            guard current.isObjectStore else { return true }
            guard let target = siloWithRoom(for: row.size, besides: current) else { return false }
            return mover.moveAndWait(ino, to: target.id)
        }
        namespace.onSiloFull { [self] ino, bytes in
            guard let row = try? namespace.currentRow(ino), let current = pool.silos[row.silo],
                  let target = siloWithRoom(for: bytes, besides: current) else {
                return false
            }
            return mover.moveAndWait(ino, to: target.id)
        }
        // A read-only mount writes nothing to its silos: the mover (which also resumes queued
        // jobs and clears leftovers in staging) does not run.
        if !pool.readOnly { mover.start() }
    }

    /// Another writable silo with room for `bytes` (plus its floor): the same tier first, then
    /// the others in tier order.
    func siloWithRoom(for bytes: Int64, besides current: Silo) -> Silo? {
        let candidates = pool.silos.all.filter { $0.id != current.id && $0.isOnline && !$0.readOnly && !$0.draining && !$0.isObjectStore }
            .filter { $0.availableBytes > UInt64(max(0, bytes)) + $0.minFree }
        // Out of a bucket, the fastest tier; otherwise the same tier first.
        let near = current.isObjectStore ? "" : current.tier
        return candidates.min { a, b in
            let ka = (a.tier == near ? 0 : 1, a.tierRank), kb = (b.tier == near ? 0 : 1, b.tierRank)
            return ka < kb || (ka == kb && a.availableBytes > b.availableBytes)
        }
    }

    func stop() {
        mover.stop()
        heat.flush(to: pool.index)
    }

    /// A silo by name, or the silo of a tier with most free space.
    func destination(_ name: String) -> SiloID? {
        if let silo = pool.silos.named(name) { return silo.isOnline && !silo.readOnly ? silo.id : nil }
        let candidates = pool.silos.all.filter { $0.tier == name && $0.isOnline && !$0.readOnly && !$0.draining }
        return candidates.max { $0.availableBytes < $1.availableBytes }?.id
    }


    /// Queues moves of `paths` (absolute, on the mount). Trees need `recursive`. A file the mover
    /// cannot move (hard-linked: every name would have to move with it) is refused here, by
    /// the name the user gave, rather than queued to fail; in a tree such files are skipped and
    /// listed in `skipped`.
    func move(_ paths: [String], to target: String, recursive: Bool) throws -> (jobs: [JobRow], skipped: [String]) {
        guard let destination = destination(target) else {
            throw DaemonError("'\(target)' is neither a silo nor a tier with an online, writable silo")
        }
        var plans: [(path: String, files: [EntryRow])] = []
        var skipped: [String] = []
        for path in paths {
            let row = try resolve(path)
            if row.kind == .directory && !recursive { throw DaemonError("\(path) is a directory; use --recursive to move a tree") }
            if row.kind == .regular && row.nlink > 1 { throw DaemonError(Self.hardLinked(path, row)) }
            let files = try namespace.files(under: row)
            for file in files where file.nlink > 1 {
                skipped.append((try? namespace.relativePath(of: file)).map { mountpoint + "/" + displayName($0) } ?? "inode \(file.ino)")
            }
            plans.append((path, files.filter { $0.nlink <= 1 }))
        }
        var jobs: [JobRow] = []
        let batch = Int64(time(nil))
        for plan in plans {
            // Hottest files first, so their jobs start first.
            for file in plan.files.sorted(by: { heat.score($0.ino) > heat.score($1.ino) }) {
                if let job = try mover.enqueue(file.ino, to: destination, batch: batch) { jobs.append(job) }
            }
        }
        return (jobs, skipped)
    }

    static func hardLinked(_ path: String, _ row: EntryRow) -> String {
        "\(path) has \(row.nlink) hard links; hard-linked files are not moved (every name would have to move with it)"
    }

    func resolve(_ path: String) throws -> EntryRow {
        let prefix = mountpoint.hasSuffix("/") ? mountpoint : mountpoint + "/"
        guard path == mountpoint || path.hasPrefix(prefix) else { throw DaemonError("\(path) is not inside the mount \(mountpoint)") }
        let relative = path == mountpoint ? "" : String(path.dropFirst(prefix.count))
        do { return try namespace.resolve(Array(relative.utf8)) } catch { throw DaemonError("\(path): \(error)") }
    }

    func drain(_ name: String, on: Bool) throws -> [JobRow] {
        guard let silo = pool.silos.named(name) else { throw DaemonError("no silo named '\(name)'") }
        silo.setDraining(on)
        try pool.index.write { tx throws(IndexError) in try tx.setDraining(silo: silo.id, on) }
        guard on else { return [] }
        let sameTier = pool.silos.all.filter { $0.id != silo.id && $0.tier == silo.tier && $0.isOnline && !$0.readOnly && !$0.draining }
        let others = pool.silos.all.filter { $0.id != silo.id && $0.isOnline && !$0.readOnly && !$0.draining }
        guard let target = (sameTier.isEmpty ? others : sameTier).max(by: { $0.availableBytes < $1.availableBytes }) else {
            throw DaemonError("no other online, writable silo can take the files of '\(name)'")
        }
        let inodes = try pool.index.query { tx throws(IndexError) in try tx.regularFiles(on: silo.id) }
        let batch = Int64(time(nil))
        return try inodes.sorted { heat.score($0) > heat.score($1) }.compactMap { try mover.enqueue($0, to: target.id, batch: batch) }
    }

    func report(_ job: JobRow, withLog: Bool = false) -> JobReport {
        let live = job.state.isFinished ? nil : mover.liveProgress(job.id)
        let path = (try? pool.index.query { tx throws(IndexError) in try tx.path(of: job.ino) }).flatMap { $0 }.map { "/" + displayName($0) } ?? "?"
        return JobReport(id: job.id, path: mountpoint + path, source: pool.silos[job.source]?.name ?? "?",
                         destination: pool.silos[job.destination]?.name ?? "?", state: (live?.state ?? job.state).rawValue,
                         size: live?.size ?? job.size, extents: live?.extents ?? job.extentCount,
                         extentsDone: live?.extentsDone ?? job.doneCount, bytesCopied: live?.bytesCopied ?? job.bytesCopied,
                         created: job.created, updated: job.updated, error: job.error, arrivalOrder: withLog ? job.arrivalOrder : nil)
    }

    /// Re-reads files (trees under `paths`, or every file of `silo`) against their recorded hashes.
    func verify(paths: [String], silo: String?) throws -> [VerifyReport] {
        var rows: [EntryRow] = []
        for path in paths { rows += try namespace.files(under: try resolve(path)) }
        if let silo {
            guard let s = pool.silos.named(silo) else { throw DaemonError("no silo named '\(silo)'") }
            let inodes = try pool.index.query { tx throws(IndexError) in try tx.regularFiles(on: s.id) }
            rows += inodes.compactMap { try? namespace.currentRow($0) }
        }
        let verifier = Verifier(index: pool.index, namespace: namespace, silos: pool.silos)
        return rows.map { row in
            let result = verifier.verify(row)
            if result.outcome == .mismatch || result.outcome == .missing {
                Logger(label: "estuary.verify").error("inode \(row.ino): \(result.detail)\(result.badExtents.isEmpty ? "" : ": extents \(result.badExtents)")")
            }
            let path = (try? namespace.relativePath(of: row)).map { mountpoint + "/" + displayName($0) } ?? "?"
            return VerifyReport(path: path, silo: pool.silos[row.silo]?.name ?? "?", outcome: result.outcome.rawValue,
                                badExtents: result.badExtents, detail: result.detail)
        }
    }

    func heatReports(top: Int) -> [HeatReport] {
        heat.top(top).compactMap { item in
            guard let row = try? namespace.currentRow(item.ino), let silo = pool.silos[row.silo],
                  let path = try? namespace.relativePath(of: row) else { return nil }
            return HeatReport(path: mountpoint + "/" + displayName(path), heat: item.score, tier: silo.tier, silo: silo.name)
        }
    }
}

import Assimilation
import Foundation
import Index
import ControlProtocol
import Namespace
import Pool
import Syscalls
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the daemon answers on its control socket.
enum ControlHandlers {
    /// Scans, fsck and objective checks walk the whole pool: one at a time, so a flood of such
    /// requests (or clients that hang up after asking) cannot pile up work behind the index.
    static let walking = Atomic<Bool>(false)
    static let walks: Set<String> = ["scan", "fsck", "objectives-check", "reconcile", "drain"]

    static func handle(_ request: ControlRequest, pool: PoolContext, namespace: Namespace, mountpoint: String,
                       tiering: TieringService, objectives: ObjectiveService, transport: () -> String,
                       send: (ControlReply) -> Void) {
        guard walks.contains(request.op) else {
            return dispatch(request, pool: pool, namespace: namespace, mountpoint: mountpoint, tiering: tiering, objectives: objectives, transport: transport, send: send)
        }
        guard walking.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            send(ControlReply(error: "too many control clients; try again (a scan or check is already running)"))
            return
        }
        defer { walking.store(false, ordering: .releasing) }
        dispatch(request, pool: pool, namespace: namespace, mountpoint: mountpoint, tiering: tiering, objectives: objectives, transport: transport, send: send)
    }

    private static func dispatch(_ request: ControlRequest, pool: PoolContext, namespace: Namespace, mountpoint: String,
                       tiering: TieringService, objectives: ObjectiveService, transport: () -> String,
                       send: (ControlReply) -> Void) {
        switch request.op {
        case "reload":
            if let problem = objectives.reload() { send(ControlReply(error: "the config was not reloaded (the running one stays): \(problem)")) }
            else { send(ControlReply(ok: true)) }
        case "objectives-check":
            if let plan = objectives.check() { send(ControlReply(plan: plan)) } else { send(ControlReply(error: "the objectives could not be evaluated")) }
        case "reconcile":
            // A pass now, as the loop would run it (back-offs included): `estuary objectives apply`.
            if let plan = objectives.reconciler.reconcile() {
                var report = objectives.report(plan)
                report.queued = plan.queued
                send(ControlReply(plan: report))
            }
            else { send(ControlReply(error: "the objectives could not be evaluated (see the daemon's log)")) }
        case "objectives-explain":
            guard let path = request.paths?.first else { send(ControlReply(error: "explain needs a file")); return }
            do {
                let row = try tiering.resolve(path)
                send(ControlReply(lines: try objectives.reconciler.explain(row.ino)))
            } catch { send(ControlReply(error: "\(error)")) }
        case "move":
            guard let paths = request.paths, !paths.isEmpty, let to = request.to else {
                send(ControlReply(error: "move needs paths and a destination tier or silo")); return
            }
            do {
                let (jobs, skipped) = try tiering.move(paths, to: to, recursive: request.recursive ?? false)
                // A tree of thousands of links gets a sample and a count, not thousands of lines.
                var notes = skipped.prefix(20).map { "skipped \($0): hard-linked files are not moved" }
                if skipped.count > 20 { notes.append("skipped \(skipped.count - 20) more hard-linked files") }
                send(ControlReply(jobs: jobs.map { tiering.report($0) }, lines: notes.isEmpty ? nil : notes))
            } catch { send(ControlReply(error: "\(error)")) }
        case "jobs":
            do {
                if let wait = request.wait { tiering.mover.waitForAFinishedJob(seconds: wait) }
                var rows = try pool.index.query { tx throws(IndexError) in try tx.jobs(all: request.all ?? false) }
                if let id = request.id { rows = try pool.index.query { tx throws(IndexError) in try tx.job(id) }.map { [$0] } ?? [] }
                send(ControlReply(jobs: rows.map { tiering.report($0, withLog: request.id != nil) }))
            } catch { send(ControlReply(error: "\(error)")) }
        case "cancel":
            guard let id = request.id else { send(ControlReply(error: "cancel needs a job id")); return }
            do {
                if try tiering.mover.cancel(id) { send(ControlReply(ok: true)) }
                else { send(ControlReply(error: "job \(id) is not running or queued (or is already switching over)")) }
            } catch { send(ControlReply(error: "\(error)")) }
        case "verify":
            do { send(ControlReply(verify: try tiering.verify(paths: request.paths ?? [], silo: request.silo))) }
            catch { send(ControlReply(error: "\(error)")) }
        case "heat":
            send(ControlReply(heat: tiering.heatReports(top: max(0, min(request.top ?? 20, 100_000)))))
        case "drain", "undrain":
            guard let silo = request.silo else { send(ControlReply(error: "\(request.op) needs a silo")); return }
            do {
                let jobs = try tiering.drain(silo, on: request.op == "drain")
                send(ControlReply(jobs: jobs.map { tiering.report($0) }))
            } catch { send(ControlReply(error: "\(error)")) }
        case "ping":
            send(ControlReply(ok: true))
        case "metrics":
            DaemonMetrics.answer(send)
        case "status":
            do {
                var status = try PoolReports.status(pool, mountpoint: mountpoint, daemonPid: getpid())
                status.objectives = objectives.alignment()
                status.transport = transport()
                for (i, silo) in status.silos.enumerated() { status.silos[i].draining = pool.silos.named(silo.name)?.draining ?? false }
                SiloWatch.current.withLock { $0 }?.describe(&status.silos)
                status.log = logDestination(pool.paths.log)
                if pool.silos.all.contains(where: \.isObjectStore) {
                    status.attributeWriteBacks = WriteBackReport(rewritten: namespace.bucketAttributes.rewritten,
                                                                 pending: namespace.bucketAttributes.pending)
                }
                send(ControlReply(status: status))
            }
            catch { send(ControlReply(error: "\(error)")) }
        case "fsck":
            do {
                try IndexHealth.check(pool)
                namespace.flushMetadata()
                let summary = try Scanner(index: pool.index, silos: pool.silos).scan(live: true, dryRun: true)
                send(ControlReply(scan: PoolReports.scan(summary)))
            } catch {
                send(ControlReply(error: "\(error)"))
            }
        case "scan":
            var targets = pool.silos.all
            if let name = request.silo {
                guard let silo = pool.silos.named(name) else {
                    send(ControlReply(error: "pool '\(pool.config.name)' has no silo named '\(name)'"))
                    return
                }
                targets = [silo]
                if request.adopt == true { silo.adopt() }
            }
            // A silo that was offline may be back: try to attach it before scanning.
            for silo in targets where !silo.isOnline { _ = try? silo.attach() }
            do {
                let summary = try liveScan(pool, namespace, targets) { progress in
                    send(ControlReply(progress: ScanProgressReport(entries: progress.entries, seconds: progress.seconds)))
                }
                send(ControlReply(scan: PoolReports.scan(summary)))
            } catch {
                send(ControlReply(error: "scan failed: \(error)"))
            }
        default:
            send(ControlReply(error: "unknown control operation '\(request.op)'"))
        }
    }

    /// The pool's log file when this daemon writes to it (it does once detached), else its
    /// standard error: whichever one of this process's descriptors is open on the log says.
    static func logDestination(_ logFile: String) -> String {
        let dir = "/proc/self/fd"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            if (try? FileManager.default.destinationOfSymbolicLink(atPath: dir + "/" + name)) == logFile { return logFile }
        }
        return "standard error of the daemon (it runs in the foreground)"
    }
}

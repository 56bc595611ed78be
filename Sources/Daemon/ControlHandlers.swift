import Assimilation
import ControlProtocol
import Namespace
import Pool
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// What the daemon answers on its control socket.
enum ControlHandlers {
    static func handle(_ request: ControlRequest, pool: PoolContext, namespace: Namespace, mountpoint: String,
                       send: (ControlReply) -> Void) {
        switch request.op {
        case "ping":
            send(ControlReply(ok: true))
        case "status":
            do { send(ControlReply(status: try PoolReports.status(pool, mountpoint: mountpoint, daemonPid: getpid()))) }
            catch { send(ControlReply(error: "\(error)")) }
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
                namespace.flushMetadata()
                let summary = try Scanner(index: pool.index, silos: pool.silos).scan(targets, live: true) { progress in
                    send(ControlReply(progress: ScanProgressReport(entries: progress.entries, seconds: progress.seconds)))
                }
                namespace.reloadFromIndex()
                send(ControlReply(scan: PoolReports.scan(summary)))
            } catch {
                send(ControlReply(error: "scan failed: \(error)"))
            }
        default:
            send(ControlReply(error: "unknown control operation '\(request.op)'"))
        }
    }
}

import ArgumentParser
import ControlProtocol
import Foundation
import Pool

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the pool's silos (tier, path, entries, space, health) and shadowed duplicates.")

    @Argument(help: "The pool: config file, zero-config spec, name or mount point.") var pool: String
    @Flag(help: "Print the status as JSON.") var json = false

    func run() throws {
        let config = try PoolLocator.config(for: pool)
        let report: StatusReport
        if let socket = PoolLocator.daemon(config) {
            guard let status = try PoolLocator.call(socket, ControlRequest(op: "status")).status else {
                throw CommandFailure("the daemon sent no status")
            }
            report = status
        } else {
            report = try PoolReports.status(try PoolContext(config: config), mountpoint: nil, daemonPid: nil)
        }
        if json { print(String(decoding: ControlCoding.encode(report, pretty: true), as: UTF8.self)) }
        else { print(StatusText.render(report)) }
    }
}

enum StatusText {
    static func render(_ r: StatusReport) -> String {
        var out: [String] = []
        let mount = r.mountpoint.map { "mounted at \($0) (pid \(r.daemonPid.map(String.init) ?? "?"))" } ?? "not mounted"
        out.append("pool \(r.pool): \(mount)")
        if let transport = r.transport { out.append("requests through \(transport)") }
        out.append("source \(r.source); index in \(r.stateDirectory); \(Format.count(Int(r.entries))) entries; tiers \(r.tiers.joined(separator: " > "))")
        out.append("")
        var rows = [["SILO", "TIER", "HEALTH", "ENTRIES", "USED", "FREE", "SCANNED", "PATH"]]
        for s in r.silos {
            let scanned = s.lastScan.map { Format.age(since: $0) } ?? "never"
            let health = s.reason.map { "\(s.health) (\($0))" } ?? s.health
            rows.append([s.name, s.tier, health, Format.count(Int(s.entries)), Format.bytes(s.usedBytes), Format.bytes(s.freeBytes), scanned, s.path])
        }
        out.append(contentsOf: Format.table(rows))
        out.append("")
        if r.shadowCount == 0 {
            out.append("no shadowed duplicates")
        } else {
            out.append("shadowed duplicates: \(r.shadowCount) (same path in two silos; the newer is visible, the other is kept untouched)")
            for s in r.shadows.prefix(100) {
                out.append("  \(s.path): visible in \(s.visibleSilo), hidden copy in \(s.shadowSilo) (\(Format.bytes(UInt64(max(0, s.size)))), \(Format.date(s.mtime)))")
            }
            if r.shadowCount > 100 { out.append("  ... (see --json)") }
        }
        if let objectives = r.objectives, !objectives.isEmpty {
            out.append("")
            var rows = [["OBJECTIVE", "TIER", "IN PLACE", "BYTES", "PENDING", "BYTES"]]
            for o in objectives {
                rows.append([o.rule, o.tier, Format.count(o.filesInPlace), Format.bytes(UInt64(max(0, o.bytesInPlace))),
                             Format.count(o.filesPending), Format.bytes(UInt64(max(0, o.bytesPending)))])
            }
            out.append(contentsOf: Format.table(rows))
        }
        return out.joined(separator: "\n")
    }
}

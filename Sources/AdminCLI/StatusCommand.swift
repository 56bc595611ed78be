import ArgumentParser
import ControlProtocol
import Foundation
import Pool
import Syscalls

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the pool's silos (tier, path, entries, space, health) and shadowed duplicates.",
        discussion: """
        With the daemon running it answers; without it the index is read read-only (a pool that \
        was never mounted or scanned has none, and status creates nothing). Names holding control \
        characters are shown quoted as `ls` does; --json has them exactly.
        """)

    @Argument(help: "The pool: config file, zero-config spec, name or mount point.") var pool: String
    @Flag(help: "Print the status as JSON.") var json = false

    func run() throws {
        let source = try PoolLocator.source(for: pool)
        let config = try PoolLocator.load(source)
        let report: StatusReport
        switch DaemonAccess.reach(config) {
        case .answering(let socket):
            guard let status = try PoolLocator.call(socket, ControlRequest(op: "status")).status else {
                throw CommandFailure("the daemon sent no status")
            }
            report = status
        case .forbidden(let why):
            // The index is as private as the socket; should an administrator have opened it to
            // this user, read it.
            guard let status = try? OfflineStatus.report(config) else { throw CommandFailure(why) }
            report = status
        case .absent:
            if let directory = source.unmountedDirectory, PoolIndex.isFile(config), (try? Sys.statPath(PoolPaths(config).index)) == nil {
                throw CommandFailure("no Estuary pool is mounted on \(Format.name(directory)) (and no pool has it as its only silo)")
            }
            report = try OfflineStatus.report(config)
        }
        if json { print(String(decoding: ControlCoding.encode(report, pretty: true), as: UTF8.self)) }
        else { print(StatusText.render(report, width: TerminalLayout.width)) }
    }
}

enum StatusText {
    /// The daemons mounting a shared pool, one line each.
    static func nodesTable(_ nodes: [NodeReport], width: Int) -> [String] {
        guard !nodes.isEmpty else { return ["nodes: none mounted"] }
        var rows = [["NODE", "HOST", "PID", "STATE", "HEARTBEAT", "JOBS", "MOUNT POINT"]]
        for n in nodes {
            let state = (n.alive ? "alive" : "dead") + (n.leader ? ", leader" : "") + (n.watcher ? ", watcher" : "")
            let jobs = n.jobs.isEmpty ? "-" : n.jobs.map(String.init).joined(separator: ",")
            rows.append([n.id, Format.text(n.host), String(n.pid), state, "\(n.silentFor) s ago", jobs, Format.name(n.mountpoint)])
        }
        return TerminalLayout.table(rows, width: width)
    }


    static func render(_ r: StatusReport, width: Int) -> String {
        var out: [String] = []
        func say(_ sentence: String) { out += TerminalLayout.wrap(sentence, width: width) }
        let mount = r.mountpoint.map { "mounted at \(Format.name($0)) (pid \(r.daemonPid.map(String.init) ?? "?"))" } ?? "not mounted"
        say("pool \(r.pool): \(mount)")
        if let transport = r.transport { say("requests through \(transport)") }
        say("source \(Format.name(r.source)); index in \(Format.name(r.stateDirectory)); \(Format.count(Int(r.entries))) entries; tiers \(r.tiers.joined(separator: " > "))")
        if let log = r.log { say("log: \(Format.name(log))") }
        if let w = r.attributeWriteBacks {
            say("attribute write-backs: \(w.rewritten) object\(w.rewritten == 1 ? "" : "s") rewritten, \(w.pending) pending")
        }
        out.append("")
        var rows = [["SILO", "TIER", "HEALTH", "ENTRIES", "USED", "FREE", "SCANNED", "PATH"]]
        var reasons: [String] = []
        for s in r.silos {
            let scanned = s.lastScan.map { Format.age(since: $0) } ?? "never"
            let health = s.health + (s.draining == true ? ", draining" : "")
            if let reason = s.reason { reasons.append("\(s.name): \(s.health) (\(Format.text(reason)))") }
            rows.append([s.name, s.tier, health, Format.count(Int(s.entries)), Format.bytes(s.usedBytes), Format.bytes(s.freeBytes),
                         scanned, Format.name(s.path)])
        }
        out.append(contentsOf: TerminalLayout.table(rows, width: width))
        if let nodes = r.nodes {
            out.append("")
            out += nodesTable(nodes, width: width)
        }
        // Health reasons can be long (an errno and a path): below the table, wrapped, so the
        // table keeps to the terminal's width.
        for reason in reasons { out += TerminalLayout.wrap("  " + reason, width: width, indent: "      ") }
        let watched = r.silos.filter { $0.watch != nil }
        if !watched.isEmpty {
            out.append("changes behind the mount:")
            for s in watched {
                var line = "  \(s.name): \(s.watch ?? "")"
                // Watched silos say what waits; swept ones since when changes are unseen.
                let swept = s.watchWaiting == nil && s.watchBehind != nil
                if let waiting = s.watchWaiting, let behind = s.watchBehind {
                    line += waiting == 0 ? "; up to date" : "; \(waiting) changes waiting, the oldest seen \(String(format: "%.2f", behind)) s ago"
                }
                if swept, let behind = s.watchBehind {
                    line += "; behind by up to \(String(format: "%.1f", behind)) s"
                    if let took = s.watchLag { line += " (last sweep took \(String(format: "%.2f", took)) s)" }
                } else if let lag = s.watchLag, let applied = s.watchApplied {
                    line += "; last applied \(Format.age(since: applied)), \(String(format: "%.2f", lag)) s after it was seen"
                }
                if let losses = s.watchLosses, losses > 0 { line += "; \(losses) full rescans after lost events" }
                out += TerminalLayout.wrap(line, width: width, indent: "      ")
            }
        }
        if r.silos.contains(where: { $0.draining == true }) {
            say("  draining: being emptied by `estuary silo drain`; it takes no new files until `estuary silo undrain`")
        }
        out.append("")
        if r.shadowCount == 0 {
            out.append("no shadowed duplicates")
        } else {
            say("shadowed duplicates: \(r.shadowCount) (same path in two silos; the newer is visible, the others follow its name: rm and mv take them too)")
            for s in r.shadows.prefix(100) {
                out += TerminalLayout.wrap("  \(Format.name(s.path)): visible in \(s.visibleSilo), hidden copy in \(s.shadowSilo) (\(Format.bytes(UInt64(max(0, s.size)))), \(Format.date(s.mtime)))",
                                           width: width, indent: "      ")
            }
            if r.shadowCount > 100 { out.append("  ... (see --json)") }
        }
        if let objectives = r.objectives, !objectives.isEmpty {
            out.append("")
            let failed = objectives.contains { ($0.filesFailed ?? 0) > 0 }
            var rows = [["OBJECTIVE", "TIER", "IN PLACE", "BYTES", "PENDING", "BYTES"] + (failed ? ["FAILED"] : [])]
            for o in objectives {
                rows.append([Format.text(o.rule), o.tier, Format.count(o.filesInPlace), Format.bytes(UInt64(max(0, o.bytesInPlace))),
                             Format.count(o.filesPending), Format.bytes(UInt64(max(0, o.bytesPending)))]
                            + (failed ? [Format.count(o.filesFailed ?? 0)] : []))
            }
            out.append(contentsOf: Format.table(rows))
            if failed { say("  failed: moves that failed and wait for a retry or a change; `estuary objectives check` lists them") }
        }
        return out.joined(separator: "\n")
    }
}

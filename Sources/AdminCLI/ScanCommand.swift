import ArgumentParser
import Assimilation
import Config
import ControlProtocol
import Foundation
import Pool

struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scan",
        abstract: "Assimilate silos into the index: new entries appear, gone ones disappear, unchanged ones cost a stat.")

    @Argument(help: "The pool: config file, zero-config spec, name or mount point.") var pool: String
    @Option(help: "Scan only this silo.") var silo: String?
    @Flag(help: "With --silo: adopt the silo's directory as it is, when its marker is missing (a replaced disk).") var adopt = false
    @Flag(help: "Print the summary as JSON.") var json = false

    func validate() throws {
        if adopt && silo == nil { throw ValidationError("--adopt needs --silo NAME: adopt one silo at a time") }
    }

    func run() throws {
        let config = try PoolLocator.config(for: pool)
        if let silo, !config.silos.contains(where: { $0.name == silo }) {
            throw ValidationError("pool '\(config.name)' has no silo named '\(silo)'; its silos are \(config.silos.map(\.name).joined(separator: ", "))")
        }
        let progress = ProgressLine(enabled: isatty(2) != 0)
        let report: ScanReport
        if let socket = PoolLocator.daemon(config) {
            let reply = try PoolLocator.call(socket, ControlRequest(op: "scan", silo: silo, adopt: adopt ? true : nil)) { progress.show($0.entries, $0.entriesPerSecond) }
            guard let scan = reply.scan else { throw CommandFailure("the daemon sent no scan result") }
            report = scan
        } else {
            report = try scanOffline(config, progress: progress)
        }
        progress.finish()
        if json {
            print(String(decoding: ControlCoding.encode(report), as: UTF8.self))
        } else {
            print(ScanText.summary(report))
        }
        if !report.problems.isEmpty { throw ExitCode(3) }
    }

    private func scanOffline(_ config: PoolConfig, progress: ProgressLine) throws -> ScanReport {
        try PoolLocator.withOfflinePool(config) { context in try scanOffline(context, progress: progress) }
    }

    private func scanOffline(_ context: PoolContext, progress: ProgressLine) throws -> ScanReport {
        var targets = context.silos.all
        if let silo { targets = targets.filter { $0.name == silo } }
        if adopt { targets.forEach { $0.adopt() } }
        let summary = try Scanner(index: context.index, silos: context.silos).scan(targets, progress: { p in progress.show(p.entries, p.rate) })
        var report = PoolReports.scan(summary)
        for offline in context.offline where !adopt && targets.contains(where: { $0.name == offline.silo }) {
            if !report.problems.contains(where: { $0.silo == offline.silo && $0.path.isEmpty }) {
                report.problems.append(ScanProblemReport(silo: offline.silo, path: "", message: offline.problem))
            }
        }
        return report
    }
}

/// A self-overwriting progress line on stderr, shown only on a terminal.
final class ProgressLine: @unchecked Sendable {
    let enabled: Bool
    private var shown = false
    init(enabled: Bool) { self.enabled = enabled }

    func show(_ entries: Int, _ rate: Double) {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\rscanning: \(Format.count(entries)) entries, \(Format.count(Int(rate))) entries/s   ".utf8))
        shown = true
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
    }
}

enum ScanText {
    static func summary(_ r: ScanReport) -> String {
        var lines = ["scanned \(r.silos.joined(separator: ", ")): \(Format.count(r.entries)) entries in \(String(format: "%.2f", r.seconds)) s (\(Format.count(Int(r.entriesPerSecond))) entries/s)",
                     "  added \(Format.count(r.added)), updated \(Format.count(r.updated)), unchanged \(Format.count(r.unchanged)), removed \(Format.count(r.removed)), shadowed duplicates \(Format.count(r.shadowed))"]
        if !r.problems.isEmpty {
            lines.append("  \(r.problems.count) problem(s):")
            for p in r.problems.prefix(50) { lines.append("    silo '\(Format.text(p.silo))': \(p.path.isEmpty ? "/" : Format.name(p.path)): \(Format.text(p.message))") }
            if r.problems.count > 50 { lines.append("    ... and \(r.problems.count - 50) more (see --json)") }
        }
        return lines.joined(separator: "\n")
    }
}

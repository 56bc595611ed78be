import ArgumentParser
import Assimilation
import Config
import ControlProtocol
import Foundation
import Pool

struct FsckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fsck",
        abstract: "Check the index against itself and against the silos; with --repair, bring it in line.",
        discussion: """
        Runs SQLite's quick_check, then compares every silo with the index as a scan would, without \
        writing (entries the silos have that the index lacks, entries the index has that no silo \
        holds any more, attributes that differ). --repair applies those differences. Exit status: 0 \
        clean, 3 differences found (none applied), 1 the index is damaged.
        """)

    @Argument(help: "The pool (config, spec, name or mount point).") var pool: String
    @Flag(help: "Apply the differences (a rescan).") var repair = false
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let config = try PoolLocator.config(for: pool)
        let report: ScanReport
        if let socket = PoolLocator.daemon(config) {
            guard let scan = try PoolLocator.call(socket, ControlRequest(op: repair ? "scan" : "fsck")).scan else {
                throw CommandFailure("the daemon sent no result")
            }
            report = scan
        } else {
            report = try PoolLocator.withOfflinePool(config) { context in
                do { try IndexHealth.check(context) } catch {
                    print("\(error)")
                    throw ExitCode(1)
                }
                return PoolReports.scan(try Scanner(index: context.index, silos: context.silos).scan(dryRun: !repair))
            }
        }
        let differences = report.added + report.removed + report.updated
        if json { print(String(decoding: ControlCoding.encode(report), as: UTF8.self)) }
        else {
            print("index: quick_check ok")
            print("silos: \(Format.count(report.entries)) entries compared: \(Format.count(report.added)) missing from the index, " +
                  "\(Format.count(report.removed)) in the index but on no silo, \(Format.count(report.updated)) with other attributes" +
                  (repair ? " (repaired)" : ""))
            for p in report.problems { print("  silo '\(Format.text(p.silo))': \(p.path.isEmpty ? "/" : Format.name(p.path)): \(Format.text(p.message))") }
        }
        if !repair && differences > 0 { throw ExitCode(3) }
        if !report.problems.isEmpty { throw ExitCode(3) }
    }
}

import ArgumentParser
import ControlProtocol
import Foundation

struct ObjectivesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "objectives", abstract: "See what the objectives would do, and why a file is where it is.",
        subcommands: [Check.self, Apply.self, Explain.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Dry run: which files would move where, counts and bytes per rule.")
        @Argument(help: "The pool (config, spec, name or mount point).") var pool: String
        @Flag(help: "List the planned moves too.") var moves = false
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            let config = try PoolLocator.config(for: pool)
            guard let plan = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "objectives-check")).plan else {
                throw CommandFailure("the daemon sent no plan")
            }
            if json { print(String(decoding: ControlCoding.encode(plan, pretty: true), as: UTF8.self)); return }
            print("\(Format.count(plan.files)) files; \(Format.count(plan.moveCount)) would move; \(plan.heldDown) held down after a recent move")
            let failed = plan.rules.contains { ($0.filesFailed ?? 0) > 0 }
            var rows = [["RULE", "TIER", "IN PLACE", "BYTES", "TO MOVE", "BYTES"] + (failed ? ["FAILED"] : [])]
            for r in plan.rules {
                rows.append([Format.text(r.rule), r.tier, Format.count(r.filesInPlace), Format.bytes(UInt64(max(0, r.bytesInPlace))),
                             Format.count(r.filesPending), Format.bytes(UInt64(max(0, r.bytesPending)))]
                            + (failed ? [Format.count(r.filesFailed ?? 0)] : []))
            }
            Format.table(rows).forEach { print($0) }
            if moves { for m in plan.moves { print("  \(Format.name(m.path)): \(m.from) -> \(m.to) (\(Format.text(m.rule)), \(Format.bytes(UInt64(max(0, m.size)))))") } }
            FailureText.render(plan.failures ?? []).forEach { print($0) }
        }
    }

    struct Apply: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a reconcile pass now: queue the moves `check` lists, as the daemon's loop would.",
            discussion: "Failed moves keep their back-off: they are tried again when it ends or when the file or the objective changes.")
        @Argument(help: "The pool (config, spec, name or mount point).") var pool: String
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            let config = try PoolLocator.config(for: pool)
            guard let plan = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "reconcile")).plan else {
                throw CommandFailure("the daemon sent no plan")
            }
            if json { print(String(decoding: ControlCoding.encode(plan, pretty: true), as: UTF8.self)); return }
            print("queued \(Format.count(plan.queued ?? 0)) move(s) of \(Format.count(plan.moveCount)) planned over \(Format.count(plan.files)) files")
            FailureText.render(plan.failures ?? []).forEach { print($0) }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Which rule decides where a file lives, and why.")
        @Argument(help: "A file on a mounted pool.") var path: String

        func run() throws {
            let (config, absolute) = try PoolLocator.mountedPool(containing: path)
            let reply = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "objectives-explain", paths: [absolute]))
            (reply.lines ?? []).forEach { print(Format.text($0)) }
        }
    }
}

struct ReloadCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload", abstract: "Re-read the pool config (as SIGHUP does); a bad config keeps the running one and says why.")
    @Argument(help: "The pool.") var pool: String

    func run() throws {
        let config = try PoolLocator.config(for: pool)
        _ = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "reload"))
        print("reloaded \(Format.name(config.source))")
    }
}

/// The moves objectives want that failed, for `objectives check`.
enum FailureText {
    static func render(_ failures: [FailedMoveReport]) -> [String] {
        guard !failures.isEmpty else { return [] }
        let width = TerminalLayout.width
        var out = ["\(Format.count(failures.count)) failed move(s), not tried again until the file or the objective changes or the back-off ends:"]
        for f in failures {
            let when = f.retryAt.map { "next try \(Format.date(Double($0)))" } ?? "given up until something changes"
            out += TerminalLayout.wrap("  \(Format.name(f.path)) -> \(f.to) (\(Format.text(f.rule))): \(f.attempts) attempt(s), \(when): \(Format.text(f.error))",
                                       width: width, indent: "      ")
        }
        return out
    }
}

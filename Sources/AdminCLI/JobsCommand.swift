import ArgumentParser
import ControlProtocol
import Foundation

struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs", abstract: "List, watch or cancel tier moves.",
        subcommands: [List.self, Watch.self, Cancel.self], defaultSubcommand: List.self)

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List unfinished moves (all with --all).")
        @Argument(help: "The pool (config, spec, name or mount point).") var pool: String
        @Flag(help: "Include finished jobs.") var all = false
        @Option(help: "One job, with the order its extents arrived in.") var id: Int64?
        @Flag(help: "JSON output.") var json = false

        func run() throws {
            let config = try PoolLocator.config(for: pool)
            let jobs = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "jobs", id: id, all: all)).jobs ?? []
            if json { print(String(decoding: ControlCoding.encode(jobs, pretty: true), as: UTF8.self)); return }
            if jobs.isEmpty { print("no jobs"); return }
            var rows = [["ID", "STATE", "FROM", "TO", "DONE", "SIZE", "PATH"]]
            for job in jobs {
                rows.append([String(job.id), job.state, job.source, job.destination,
                             "\(job.extentsDone)/\(job.extents)", Format.bytes(UInt64(max(0, job.size))), Format.name(job.path)])
            }
            Format.table(rows).forEach { print($0) }
            // Errors are sentences, often long: under the table, wrapped.
            for job in jobs { if let error = job.error {
                TerminalLayout.wrap("  job \(job.id): \(Format.text(error))", width: TerminalLayout.width, indent: "      ").forEach { print($0) }
            } }
        }
    }

    struct Watch: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Follow jobs until they finish.")
        @Argument(help: "The pool.") var pool: String
        @Argument(help: "Job ids (default: every unfinished job).") var ids: [Int64] = []

        func run() throws {
            let config = try PoolLocator.config(for: pool)
            var ids = self.ids
            if ids.isEmpty {
                ids = (try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "jobs")).jobs ?? []).map(\.id)
            }
            if ids.isEmpty { print("no unfinished jobs"); return }
            try JobWatcher.wait(config, ids: ids)
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a job; the file stays whole where it was.")
        @Argument(help: "The pool.") var pool: String
        @Argument(help: "The job id.") var id: Int64

        func run() throws {
            let config = try PoolLocator.config(for: pool)
            _ = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "cancel", id: id))
            print("job \(id) cancelled")
        }
    }
}

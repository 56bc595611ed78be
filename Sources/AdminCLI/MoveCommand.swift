import ArgumentParser
import Config
import ControlProtocol
import Foundation

struct MoveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "move",
        abstract: "Move files to a tier or silo: lazily, extent by extent, hottest first; files stay usable throughout.")

    @Argument(help: "Files (or, with --recursive, directories) on a mounted pool.") var paths: [String]
    @Option(help: "Destination tier or silo.") var to: String
    @Flag(help: "Move every file under the given directories.") var recursive = false
    @Flag(help: "Wait until the moves finish, with a progress bar.") var wait = false
    @Flag(help: "Print the queued jobs as JSON.") var json = false

    func run() throws {
        let (config, first) = try PoolLocator.mountedPool(containing: paths[0])
        var absolute = [first]
        for path in paths.dropFirst() { absolute.append(try PoolLocator.mountedPool(containing: path).path) }
        let socket = try PoolLocator.requireDaemon(config)
        let reply = try PoolLocator.call(socket, ControlRequest(op: "move", paths: absolute, to: to, recursive: recursive))
        let jobs = reply.jobs ?? []
        for line in reply.lines ?? [] { writeStandardError("estuary: \(Format.text(line))\n") }
        if json { print(String(decoding: ControlCoding.encode(jobs), as: UTF8.self)) }
        else if jobs.isEmpty { print("nothing to move: already on \(to)") }
        else { print(Self.summary(jobs.map(\.id), to: to)) }
        if wait && !jobs.isEmpty { try JobWatcher.wait(config, ids: jobs.map(\.id)) }
    }

    /// "queued 3 move(s) to bulk: jobs 7, 8, 9"; past a handful, the count and the first and
    /// last ids (a tree can queue thousands; --json lists them all).
    static func summary(_ ids: [Int64], to: String) -> String {
        let listed = ids.count <= 10 ? ids.map(String.init).joined(separator: ", ")
                                     : "\(ids[0]), \(ids[1]), \(ids[2]) ... \(ids[ids.count - 1]) (--json lists them all)"
        return "queued \(Format.count(ids.count)) move(s) to \(to): jobs \(listed)"
    }
}

/// Polls jobs until they finish, drawing one progress line: bytes, extents, rate, ETA.
enum JobWatcher {
    static func wait(_ config: Config.PoolConfig, ids: [Int64]) throws {
        let started = Date()
        let tty = isatty(2) != 0
        var failed: [JobReport] = []
        var finished: [Int64: JobReport] = [:]
        var lastSeen: [Int64: JobReport] = [:]
        var eta = 0.0
        var first = true
        while true {
            // Only unfinished jobs are listed each time; a job that leaves the list is fetched
            // once for its final state. Listing every job ever run on each poll would load the
            // daemon more than the moves themselves.
            // Four times a second for the progress line; more often once the copies should be
            // about done. The daemon holds the reply until a job finishes or the interval
            // ends, so the command returns as its jobs do (it used to sleep up to 0.25 s past
            // the end, the ETA being taken from progress recorded every 0.5 s); after a reply
            // for anything else, or from a daemon that answers at once (older), the rest of
            // the interval is slept.
            let interval = min(0.25, max(0.05, eta / 2))
            let asked = Date()
            let socket = try PoolLocator.requireDaemon(config)
            let open = try PoolLocator.call(socket, ControlRequest(op: "jobs", wait: first ? 0 : interval)).jobs ?? []
            first = false
            let openIDs = Set(open.map(\.id))
            for job in open where ids.contains(job.id) { lastSeen[job.id] = job }
            for id in ids where finished[id] == nil && !openIDs.contains(id) {
                let final = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "jobs", id: id)).jobs?.first
                if let final { finished[id] = final; lastSeen[id] = final }
            }
            let mine = ids.compactMap { lastSeen[$0] }
            let total = mine.reduce(Int64(0)) { $0 + $1.size }
            let copied = mine.reduce(Int64(0)) { $0 + (finished[$1.id]?.state == "done" ? $1.size : min($1.bytesCopied, $1.size)) }
            let extents = mine.reduce(0) { $0 + $1.extents }, done = mine.reduce(0) { $0 + $1.extentsDone }
            let elapsed = max(0.001, Date().timeIntervalSince(started))
            let rate = Double(copied) / elapsed
            eta = rate > 0 ? Double(total - copied) / rate : 0
            let width = 30
            let fraction = total > 0 ? Double(copied) / Double(total) : Double(finished.count) / Double(max(1, ids.count))
            let bar = String(repeating: "#", count: Int(min(1, fraction) * Double(width))).padding(toLength: width, withPad: ".", startingAt: 0)
            let line = "[\(bar)] \(Format.bytes(UInt64(max(0, copied))))/\(Format.bytes(UInt64(max(0, total)))), extents \(done)/\(extents), \(Format.bytes(UInt64(rate)))/s, ETA \(Int(eta))s, files \(finished.count)/\(ids.count)"
            if tty { FileHandle.standardError.write(Data("\r\(line)\u{1b}[K".utf8)) }
            if finished.count == ids.count {
                if tty { FileHandle.standardError.write(Data("\n".utf8)) } else { print(line) }
                failed = finished.values.filter { $0.state != "done" }.sorted { $0.id < $1.id }
                break
            }
            let rest = interval - Date().timeIntervalSince(asked)
            if rest > 0 { usleep(UInt32(1_000_000 * rest)) }
        }
        for job in failed { print("job \(job.id) \(Format.name(job.path)): \(job.state)\(job.error.map { ": \(Format.text($0))" } ?? "")") }
        if !failed.isEmpty { throw ExitCode(1) }
    }
}

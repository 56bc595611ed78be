import ArgumentParser
import ControlProtocol
import Foundation
import Syscalls

struct PinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pin", abstract: "Pin a file to a tier (same as setfattr -n user.estuary.pin -v TIER); it moves there.")
    @Argument(help: "A file on a mounted pool.") var path: String
    @Option(help: "The tier.") var tier: String

    func run() throws {
        do { try Sys.setXattr(path: path, name: "user.estuary.pin", value: Array(tier.utf8)) }
        catch { throw CommandFailure("cannot pin \(Format.name(path)) to '\(tier)': \(error == .invalidArgument ? "no such tier" : "\(error)")") }
        print("pinned \(Format.name(path)) to \(tier)")
    }
}

struct UnpinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unpin", abstract: "Remove a file's pin.")
    @Argument(help: "A file on a mounted pool.") var path: String

    func run() throws {
        do { try Sys.removeXattr(path: path, name: "user.estuary.pin") }
        catch { throw CommandFailure(error == .noData ? "\(Format.name(path)) is not pinned" : "cannot unpin \(Format.name(path)): \(error)") }
        print("unpinned \(Format.name(path))")
    }
}

struct HeatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "heat", abstract: "The hottest files of a mounted pool.")
    @Argument(help: "The pool.") var pool: String
    @Option(help: "How many.") var top = 20
    @Flag(help: "JSON output.") var json = false

    func run() throws {
        let config = try PoolLocator.config(for: pool)
        let rows = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "heat", top: top)).heat ?? []
        if json { print(String(decoding: ControlCoding.encode(rows, pretty: true), as: UTF8.self)); return }
        var table = [["HEAT", "TIER", "SILO", "PATH"]]
        for row in rows { table.append([String(format: "%.2f", row.heat), row.tier, row.silo, Format.name(row.path)]) }
        Format.table(table).forEach { print($0) }
    }
}

struct SiloCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silo", abstract: "Drain a silo (move everything off it, hottest first) or take it back.",
        subcommands: [Drain.self, Undrain.self])

    struct Drain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move every file off a silo so it can be replaced; it takes no new files.")
        @Argument(help: "The pool.") var pool: String
        @Argument(help: "The silo.") var name: String
        @Flag(help: "Wait until it is empty.") var wait = false
        func run() throws {
            let config = try PoolLocator.config(for: pool)
            let jobs = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "drain", silo: name)).jobs ?? []
            print("draining \(name): \(jobs.count) file(s) queued to move")
            if wait && !jobs.isEmpty { try JobWatcher.wait(config, ids: jobs.map(\.id)) }
        }
    }

    struct Undrain: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Let a drained silo take new files again.")
        @Argument(help: "The pool.") var pool: String
        @Argument(help: "The silo.") var name: String
        func run() throws {
            let config = try PoolLocator.config(for: pool)
            _ = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "undrain", silo: name))
            print("\(name) takes new files again")
        }
    }
}

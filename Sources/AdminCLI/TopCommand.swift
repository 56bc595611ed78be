import ArgumentParser
import Config
import ControlProtocol
import Foundation
import PoolMetrics

/// `estuary top MOUNT`: what the pool is doing now, refreshed every interval, like `top` or
/// `juicefs stats`. Rates come from two readings of the daemon's metrics (through the control
/// socket, so no HTTP endpoint is needed); moves and hot files from its job and heat tables.
struct TopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "top",
        abstract: "Live view of a mounted pool: requests, latency, bytes per silo, moves, hottest files.",
        discussion: "Refreshes until interrupted (Ctrl-C). With --once, prints one view measured over one interval and exits.")

    @Argument(help: "The pool (mount point, config, spec or name); its daemon must be running.") var pool: String
    @Option(help: "Seconds between refreshes (and the window rates are measured over).") var interval: Double = 1
    @Flag(help: "Print one view and exit (for scripts and logs).") var once = false
    @Option(help: "Hottest files to show.") var files: Int = 8

    func validate() throws {
        guard interval >= 0.1, interval <= 3600 else { throw ValidationError("--interval must be between 0.1 and 3600 seconds") }
        guard (0...1000).contains(files) else { throw ValidationError("--files must be between 0 and 1000") }
    }

    func run() throws {
        let config = try PoolLocator.config(for: pool)
        var previous = try reading(config)
        let mountpoint = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "status")).status?.mountpoint
        while true {
            Thread.sleep(forTimeInterval: interval)
            let current = try reading(config)
            let jobs = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "jobs")).jobs ?? []
            let heat = files == 0 ? [] : try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "heat", top: files)).heat ?? []
            let frame = TopView(pool: config.name, mountpoint: mountpoint ?? pool, previous: previous, current: current,
                                jobs: jobs, heat: heat, interval: interval, width: Self.terminalWidth()).lines()
            if once {
                frame.forEach { print($0) }
                return
            }
            // Home, draw, clear what the previous frame left below.
            print("\u{1B}[H" + frame.map { $0 + "\u{1B}[K" }.joined(separator: "\n") + "\n\u{1B}[J", terminator: "")
            fflush(nil)
            previous = current
        }
    }

    private func reading(_ config: PoolConfig) throws -> TopView.Reading {
        let reply = try PoolLocator.call(try PoolLocator.requireDaemon(config), ControlRequest(op: "metrics"))
        guard let text = reply.lines?.first else { throw CommandFailure("the daemon sent no metrics (is it older than this estuary?)") }
        return TopView.Reading(metrics: MetricsText(parsing: text), time: Date().timeIntervalSince1970)
    }

    static func terminalWidth() -> Int {
        var size = winsize()
        if ioctl(1, UInt(TIOCGWINSZ), &size) == 0, size.ws_col >= 40 { return Int(size.ws_col) }
        return 100
    }
}

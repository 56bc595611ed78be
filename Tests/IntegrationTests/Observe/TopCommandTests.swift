import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `estuary top`: read on a real terminal (tmux) while files are made and one is moved, and
/// in its --once form for scripts.
@Suite(.serialized)
struct TopCommandTests {
    @Test func onceShowsRequestsSilosMovesAndHotFiles() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try Fixtures.write(pool.path("warm.txt"), "warm")
        // The first request for metrics switches the counters on; what follows is counted.
        _ = try pool.estuary(["top", pool.mountpoint, "--once", "--interval", "0.1"])
        let mount = pool.mountpoint, writer = DispatchGroup()
        DispatchQueue.global().async(group: writer) { for i in 0..<400 { try? Fixtures.write(mount + "/w\(i % 50).txt", "data \(i)") } }
        defer { writer.wait() }
        let result = try pool.estuary(["top", pool.mountpoint, "--once", "--interval", "1"])
        #expect(result.status == 0, "\(result.output)")
        let screen = result.stdout
        #expect(screen.contains("pool test at \(pool.mountpoint)"), "\(screen)")
        #expect(screen.contains("REQUESTS"), "\(screen)")
        #expect(screen.contains("SILO"), "\(screen)")
        for silo in ["fast0", "bulk0", "bulk1"] { #expect(screen.contains(silo), "\(silo): \(screen)") }
        #expect(screen.contains("MOVES"), "\(screen)")
        #expect(screen.contains("HOTTEST FILES"), "\(screen)")
        #expect(!screen.contains("\u{1B}["), "--once writes no terminal escapes")
    }

    @Test func badIntervalIsAUsageError() throws {
        let result = try Shell.run(Shell.estuary, ["top", "/nowhere", "--interval", "0"])
        #expect(result.status == 64 || result.status == 2, "\(result.status) \(result.output)")
        #expect(result.stderr.contains("--interval must be between"), "\(result.output)")
    }

    @Test func refreshesInTmuxWhileFilesAreMadeAndOneMoves() throws {
        guard let tmux = Observe.program("/usr/bin/tmux", package: "tmux") else { return }
        let pool = try TestPool(extraConfig: "extent_size = \"64KiB\"\nmove_bandwidth = \"2MiB\"")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try Data(repeating: 1, count: 4 << 20).write(to: URL(fileURLWithPath: pool.path("big.bin")))
        let session = "estuary-top-\(getpid())"
        let socket = pool.root + "/tmux.sock"
        func tmuxRun(_ arguments: [String]) throws -> Shell.Result { try Shell.run(tmux, ["-S", socket] + arguments) }
        // The tmux server lives on after its client and would inherit what Foundation's Process
        // watches the client with, so Process would wait for it forever: spawn it plainly.
        let status = try Observe.spawnAndWait([tmux, "-S", socket, "new-session", "-d", "-s", session, "-x", "150", "-y", "50",
                                               "\(Shell.estuary) top \(pool.mountpoint) --interval 0.3"])
        #expect(status == 0)
        defer { _ = try? Observe.spawnAndWait([tmux, "-S", socket, "kill-server"]) }
        func screen() -> String { (try? tmuxRun(["capture-pane", "-p", "-t", session]))?.stdout ?? "" }

        #expect(Observe.waitFor(30) { screen().contains("REQUESTS") }, "top never drew: \(screen())")
        // Creates show up as a rate while a writer runs.
        let mount = pool.mountpoint, writer = DispatchGroup()
        DispatchQueue.global().async(group: writer) { for i in 0..<2000 { try? Fixtures.write(mount + "/n\(i % 100).txt", "x\(i)") } }
        defer { writer.wait() }
        #expect(Observe.waitFor(30) { screen().split(separator: "\n").contains { $0.hasPrefix("create ") || $0.hasPrefix("write ") } },
                "no create or write rate: \(screen())")
        // A move shows as a progress bar with its path while it runs (2 MiB/s: about 2 s).
        let move = try pool.estuary(["move", pool.path("big.bin"), "--to", "bulk"])
        #expect(move.status == 0, "\(move.output)")
        #expect(Observe.waitFor(30) { let s = screen(); return s.contains("big.bin") && s.contains("[#") || s.contains("1 done") },
                "the move never showed: \(screen())")
        #expect(Observe.waitFor(60) { screen().contains("1 done") }, "the move never finished on screen: \(screen())")
    }
}

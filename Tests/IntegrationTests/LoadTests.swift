import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Many clients at once with tier moves and scans running: no deadlock, nothing lost or
/// corrupted, daemon memory flat. ESTUARY_LOAD_SECONDS sets the length (make soak: minutes).
@Suite(.serialized)
struct LoadTests {
    final class Worker: @unchecked Sendable {
        let root: String
        var model: [String: [UInt8]] = [:]
        var operations = 0
        var failures: [String] = []
        var rng: UInt64
        init(root: String, seed: UInt64) { self.root = root; rng = seed }

        func next(_ bound: Int) -> Int {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            return Int((rng >> 33) % UInt64(bound))
        }

        func content() -> [UInt8] { (0..<(1 + next(200_000))).map { _ in UInt8(truncatingIfNeeded: next(256)) } }

        func run(until deadline: Date) {
            try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            while Date() < deadline {
                operations += 1
                let names = Array(model.keys)
                let op = names.isEmpty ? 0 : next(6)
                do {
                    switch op {
                    case 0:
                        let name = "f\(operations)"
                        let bytes = content()
                        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name))
                        model[name] = bytes
                    case 1:
                        let name = names[next(names.count)]
                        let bytes = content()
                        try Data(bytes).write(to: URL(fileURLWithPath: root + "/" + name))
                        model[name] = bytes
                    case 2, 3:
                        let name = names[next(names.count)]
                        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/" + name))
                        if [UInt8](data) != model[name] { failures.append("\(root)/\(name): content differs on read") }
                    case 4:
                        let name = names[next(names.count)]
                        let newName = "r\(operations)"
                        if rename(root + "/" + name, root + "/" + newName) != 0 { throw Errno.current }
                        model[newName] = model.removeValue(forKey: name)
                    default:
                        let name = names[next(names.count)]
                        if unlink(root + "/" + name) != 0 { throw Errno.current }
                        model.removeValue(forKey: name)
                    }
                } catch {
                    failures.append("\(root) op \(op): \(error)")
                }
            }
        }
    }

    private func rss(_ pid: Int32) -> Int {
        let status = procText("/proc/\(pid)/status") ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    @Test func sixteenClientsWithMovesAndScans() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["ESTUARY_LOAD_SECONDS"] ?? "") ?? 8
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")], extraConfig: "extent_size = \"64KiB\"")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let pid = try #require(pool.daemonPid)
        let deadline = Date().addingTimeInterval(seconds)
        let workers = (0..<16).map { Worker(root: pool.path("w\($0)"), seed: UInt64($0) * 7919 + 17) }
        let threads = workers.map { worker in OSThread.start { worker.run(until: deadline) } }
        usleep(UInt32(min(2.0, seconds / 4) * 1_000_000))
        let early = rss(pid)
        var moves = 0, scans = 0
        // RSS every quarter of the run: flat means the late quarters stop growing, whatever
        // the caches took in the first.
        var samples: [Int] = []
        let start = Date()
        while Date() < deadline {
            if Double(samples.count) < 4 * Date().timeIntervalSince(start) / seconds { samples.append(rss(pid)) }
            let target = moves % 2 == 0 ? "bulk" : "fast"
            _ = try? pool.estuary(["move", pool.path("w\(moves % 16)"), "--recursive", "--to", target])
            moves += 1
            if moves % 3 == 0 { _ = try? pool.estuary(["scan", pool.mountpoint]); scans += 1 }
            usleep(300_000)
        }
        threads.forEach { $0.join() }
        _ = try Shell.run(Shell.estuary, ["jobs", "watch", pool.mountpoint], timeout: 900)
        let late = rss(pid)
        var checked = 0, lost = 0
        for worker in workers {
            #expect(worker.failures.isEmpty, "\(worker.failures.prefix(5))")
            for (name, bytes) in worker.model {
                checked += 1
                let path = worker.root + "/" + name
                let data = (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) }
                if data != bytes { lost += 1; Issue.record("\(path): \(data == nil ? "missing" : "differs")") }
                let relative = String(path.dropFirst(pool.mountpoint.count + 1))
                let copies = pool.silos.filter { FileManager.default.fileExists(atPath: pool.siloPath($0.name) + "/" + relative) }
                #expect(copies.count == 1, "\(relative) on \(copies.map(\.name))")
            }
        }
        let operations = workers.reduce(0) { $0 + $1.operations }
        print("load: \(operations) operations by 16 clients in \(Int(seconds)) s, \(moves) tree moves, \(scans) scans, \(checked) files checked, \(lost) lost; daemon RSS \(early / 1024) MiB -> \(late / 1024) MiB (each quarter: \(samples.map { "\($0 / 1024)" }.joined(separator: ", ")) MiB)")
        #expect(lost == 0)
        #expect(late - early < 96 * 1024, "daemon memory grew from \(early) kB to \(late) kB")
    }
}

import Foundation
import Synchronization
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What the live-watch suites share: polling through the mount for a change to show, and
/// comparing the namespace with the silos. A change is polled for (stat, read, getxattr: the
/// kernel's caches are part of what is checked) for up to `patience` seconds; the measured lag
/// is printed, and the bound the issue sets (1 s) is reported rather than failed on, so a
/// loaded machine does not make the tests flaky.
protocol LiveWatchChecks {}

let liveWatchPatience = 5.0

extension LiveWatchChecks {

    /// Polls `condition` until it holds; fails after `patience` seconds. Returns the seconds
    /// taken, and prints them unless `quiet` (a check that itself takes long measures no lag).
    @discardableResult
    func waitFor(_ what: String, patience: Double = liveWatchPatience, quiet: Bool = false, _ condition: () -> Bool) -> Double {
        let start = monotonicSeconds()
        while !condition() {
            if monotonicSeconds() - start > patience {
                Issue.record("not visible through the mount after \(patience) s: \(what)")
                return patience
            }
            usleep(5_000)
        }
        let lag = monotonicSeconds() - start
        if quiet { return lag }
        print("live watch: \(what) visible after \(String(format: "%.3f", lag)) s\(lag > 1 ? " (over the 1 s the issue sets)" : "")")
        return lag
    }

    func statMount(_ pool: TestPool, _ path: String) -> stat? {
        var s = stat()
        return lstat(pool.path(path), &s) == 0 ? s : nil
    }

    func read(_ pool: TestPool, _ path: String) -> String? {
        try? String(contentsOfFile: pool.path(path), encoding: .utf8)
    }

    func xattr(_ pool: TestPool, _ path: String, _ name: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: 256)
        let n = buffer.withUnsafeMutableBytes { LibcExtras.lgetxattr(pool.path(path), name, $0.baseAddress, $0.count) }
        return n >= 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
    }

    /// The namespace the silos say the mount should show, against what it shows.
    func namespaceMatches(_ pool: TestPool) -> Bool {
        guard let want = try? TreeSnapshot.expectedMerge(pool.silos.map { try TreeSnapshot.take(pool.siloPath($0.name), skipReserved: true) }),
              let got = try? TreeSnapshot.take(pool.mountpoint) else { return false }
        return want.count == got.count && want.allSatisfy { path, entry in got[path].map { entry.matches($0) } ?? false }
    }

    func differences(_ pool: TestPool) -> String {
        guard let want = try? TreeSnapshot.expectedMerge(pool.silos.map { try TreeSnapshot.take(pool.siloPath($0.name), skipReserved: true) }),
              let got = try? TreeSnapshot.take(pool.mountpoint) else { return "cannot walk" }
        let missing = want.keys.filter { got[$0] == nil }.map { displayName($0) }.sorted()
        let extra = got.keys.filter { want[$0] == nil }.map { displayName($0) }.sorted()
        let changed = want.filter { path, entry in got[path].map { !entry.matches($0) } ?? false }.map { "\(displayName($0.key)): want \($0.value), got \(got[$0.key]!)" }
        return "missing \(missing.count) \(missing.prefix(5)), extra \(extra.count) \(extra.prefix(5)), changed \(changed.count) \(changed.prefix(3))"
    }

    /// How `estuary status --json` says each silo is followed, by silo name.
    func watchStatus(_ pool: TestPool) throws -> [String: [String: Any]] {
        let result = try pool.estuary(["status", pool.mountpoint, "--json"])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.output)")
        let silos = try #require(report["silos"] as? [[String: Any]], "\(result.output)")
        var byName: [String: [String: Any]] = [:]
        for silo in silos { if let name = silo["name"] as? String { byName[name] = silo } }
        return byName
    }
}

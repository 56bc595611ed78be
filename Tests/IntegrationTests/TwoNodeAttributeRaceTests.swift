import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A chmod of a directory on one node is never undone by creates inside it on another: a
/// create records its parent's new times and link count, not the mode its node had cached
/// (the other node's copy can be older than the chmod by the few milliseconds the change
/// notice takes). On a single POSIX file system a chmod never reverts.
@Suite(.serialized)
struct TwoNodeAttributeRaceTests {
    @Test func aChmodOnOneNodeIsNotUndoneByCreatesOnTheOther() throws {
        let pool = try TestPool(silos: [("fast0", "fast")], watch: false, engine: .postgresql)
        let a = PoolNode.first(of: pool), b = try PoolNode.another(of: pool)
        try a.start()
        try b.start()
        #expect(mkdir(a.path("d"), 0o755) == 0)
        var s = stat()
        for _ in 0..<300 where stat(b.path("d"), &s) != 0 { usleep(10_000) }
        let stop = NSLockedValue(false)
        let creator = b.path("d/")
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            var i = 0
            while !stop.withLock({ $0 }) {
                let fd = open(creator + "f\(i)", O_CREAT | O_WRONLY, 0o644)
                if fd >= 0 { close(fd) }
                i += 1
            }
        }
        // Each chmod is checked through its own node for a while after it returned: the
        // mode must never go back while the other node keeps creating.
        let modes: [mode_t] = [0o700, 0o750, 0o711, 0o755]
        var reverted: [String] = []
        for round in 0..<16 {
            let mode = modes[round % modes.count]
            #expect(chmod(a.path("d"), mode) == 0)
            let deadline = Date().addingTimeInterval(0.3)
            while Date() < deadline {
                var st = stat()
                if stat(a.path("d"), &st) == 0, st.st_mode & 0o7777 != mode {
                    reverted.append("round \(round): \(String(mode, radix: 8)) read back as \(String(st.st_mode & 0o7777, radix: 8))")
                    break
                }
                usleep(2_000)
            }
        }
        stop.withLock { $0 = true }
        group.wait()
        #expect(reverted.isEmpty, "a chmod was undone by creates on the other node: \(reverted)")
        let last = modes[15 % modes.count]
        var seen: mode_t = 0
        for _ in 0..<250 {
            var st = stat()
            if stat(b.path("d"), &st) == 0 { seen = st.st_mode & 0o7777 }
            if seen == last { break }
            usleep(20_000)
        }
        #expect(seen == last, "node B shows \(String(seen, radix: 8)), not \(String(last, radix: 8))")
        b.stop()
        a.stop()
    }
}

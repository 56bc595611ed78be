import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Two attribute changes of one file at the same instant, through two nodes, both stay: chmod
/// against chown, utimens against chmod, truncate against chown. A setattr used to write its
/// whole row, read before the other change and written after it, so one of the two was undone
/// in the index (and in the node table), which a single POSIX file system never does. Through
/// one mount the race cannot happen: the kernel holds the inode's lock across a setattr, so
/// two of one file never reach the daemon together.
@Suite(.serialized)
struct TwoNodeSetattrRaceTests {
    @Test func changesOfDifferentAttributesOnTwoNodesAtOnceBothStay() throws {
        let pool = try TestPool(silos: [("fast0", "fast")], watch: false, engine: .postgresql)
        let a = PoolNode.first(of: pool), b = try PoolNode.another(of: pool)
        try a.start()
        try b.start()
        defer { b.stop(); a.stop() }
        let server = try PostgresServer.get()
        let database = try #require(pool.database)
        let failures = try SetattrRace.run(a: a.path("f"), b: b.path("f")) { () throws -> SetattrRace.Seen? in
            let text = try server.sql("SELECT mode, uid, size, mtime FROM entries WHERE parent = 1 AND name = convert_to('f', 'UTF8')",
                                      database: database)
            return SetattrRace.Seen(text)
        }
        #expect(failures.isEmpty, "an attribute change was undone by the other node's: \(failures)")
    }
}

/// Rounds of two simultaneous changes of one file through `a` and `b`; after each, both paths
/// and the index must show both (polled: the other node hears of a change within a second).
enum SetattrRace {
    enum Change {
        case chmod(mode_t), chown(uid_t), utimens(Int), truncate(off_t)

        func apply(_ path: String) -> Int32 {
            switch self {
            case .chmod(let mode): return Glibc.chmod(path, mode)
            case .chown(let uid): return Glibc.chown(path, uid, gid_t(bitPattern: -1))
            case .utimens(let seconds):
                var times = [timespec(tv_sec: seconds, tv_nsec: 0), timespec(tv_sec: seconds, tv_nsec: 0)]
                return Glibc.utimensat(AT_FDCWD, path, &times, 0)
            case .truncate(let size): return Glibc.truncate(path, size)
            }
        }
    }

    /// What the index holds: mode bits, uid, size, mtime (seconds).
    struct Seen: Equatable, CustomStringConvertible {
        var mode: mode_t, uid: uid_t, size: off_t, mtime: Int
        init(mode: mode_t, uid: uid_t, size: off_t, mtime: Int) { self.mode = mode; self.uid = uid; self.size = size; self.mtime = mtime }
        init?(_ row: String) {
            let fields = row.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").map { Int64($0.trimmingCharacters(in: .whitespaces)) }
            guard fields.count == 4, let mode = fields[0], let uid = fields[1], let size = fields[2], let mtime = fields[3] else { return nil }
            self.init(mode: mode_t(mode) & 0o7777, uid: uid_t(uid), size: off_t(size), mtime: Int(mtime / 1_000_000_000))
        }
        init(_ st: stat) { self.init(mode: st.st_mode & 0o7777, uid: st.st_uid, size: st.st_size, mtime: st.st_mtim.tv_sec) }
        /// Whether this shows `expected`; mtime nil: any (a truncate set it to its own time).
        func matches(_ expected: Seen, mtimeKnown: Bool) -> Bool {
            mode == expected.mode && uid == expected.uid && size == expected.size && (!mtimeKnown || mtime == expected.mtime)
        }
        var description: String { "mode \(String(mode, radix: 8)) uid \(uid) size \(size) mtime \(mtime)" }
    }

    /// `index` reads the file's row. Returns the failures.
    static func run(a: String, b: String, rounds: Int = 36, index: () throws -> Seen?) throws -> [String] {
        let fd = open(a, O_CREAT | O_WRONLY, 0o644)
        guard fd >= 0 else { throw TestFailure("create: \(String(cString: strerror(errno)))") }
        close(fd)
        var expected = Seen(mode: 0o644, uid: 0, size: 0, mtime: 0)
        var mtimeKnown = false
        var failures: [String] = []
        for round in 0..<rounds {
            let mode = mode_t([0o640, 0o600, 0o664, 0o604][round % 4])
            let uid = uid_t(2000 + round)
            let seconds = 1_600_000_000 + round * 1000
            let size = off_t(100 + round)
            let pairs: [(Change, Change)] = [
                (.chmod(mode), .chown(uid)), (.chown(uid), .chmod(mode)), (.utimens(seconds), .chmod(mode)),
                (.truncate(size), .chown(uid)), (.chmod(mode), .truncate(size)), (.chown(uid), .utimens(seconds)),
            ]
            let (first, second) = pairs[round % pairs.count]
            for change in [first, second] {
                switch change {
                case .chmod: expected.mode = mode
                case .chown: expected.uid = uid
                case .utimens: expected.mtime = seconds; mtimeKnown = true
                case .truncate: expected.size = size; mtimeKnown = false
                }
            }
            // Both threads start together: each waits until the other is ready.
            let ready = NSLockedValue(0)
            let results = NSLockedValue<[Int32]>([0, 0])
            DispatchQueue.concurrentPerform(iterations: 2) { k in
                ready.withLock { $0 += 1 }
                while ready.withLock({ $0 }) < 2 {}
                let rc = (k == 0 ? first : second).apply(k == 0 ? a : b)
                let e = errno
                results.withLock { $0[k] = rc == 0 ? 0 : e }
            }
            if results.withLock({ $0 }) != [0, 0] {
                failures.append("round \(round): errnos \(results.withLock { $0 })")
                continue
            }
            for (name, path) in [("A", a), ("B", b)] {
                var seen: Seen?
                for _ in 0..<250 {
                    var st = stat()
                    if stat(path, &st) == 0 { seen = Seen(st) }
                    if seen?.matches(expected, mtimeKnown: mtimeKnown) == true { break }
                    usleep(20_000)
                }
                if seen?.matches(expected, mtimeKnown: mtimeKnown) != true {
                    failures.append("round \(round) (\(first) / \(second)): \(name) shows \(seen.map(String.init(describing:)) ?? "nothing"), not \(expected)")
                }
            }
            var stored: Seen?
            for _ in 0..<100 {
                stored = try index()
                if stored?.matches(expected, mtimeKnown: mtimeKnown) == true { break }
                usleep(50_000)
            }
            if stored?.matches(expected, mtimeKnown: mtimeKnown) != true {
                failures.append("round \(round) (\(first) / \(second)): the index holds \(stored.map(String.init(describing:)) ?? "nothing"), not \(expected)")
            }
        }
        return failures
    }
}

import CShims
import Foundation
import Syscalls
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The daemon answers listings and name lookups of recently used directories from memory
/// (DirectoryListings), changed in step with every name operation. Random name operations run
/// on a native directory and through the mount, with every directory listed (so held) before
/// each operation; after each, the listings, and what each name is, must agree.
@Suite(.serialized, .timeLimit(.minutes(3)))
struct ListingCacheTests {
    private static let dirs = ["", "a", "b"]

    /// Sorted "name kind nlink" lines of every directory, and the result of the op.
    private func view(_ root: String) -> [String] {
        var lines: [String] = []
        for dir in Self.dirs {
            let path = dir.isEmpty ? root : root + "/" + dir
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { lines.append("\(dir): absent"); continue }
            for name in names.sorted() {
                var st = stat()
                let rc = lstat(path + "/" + name, &st)
                lines.append("\(dir)/\(name) \(rc == 0 ? String(st.st_mode & S_IFMT, radix: 8) : "errno \(errno)") \(rc == 0 ? st.st_nlink : 0)")
            }
        }
        return lines
    }

    private func apply(_ op: Int, _ rng: inout SplitMix64, _ root: String) -> String {
        func pick() -> String {
            let dir = Self.dirs.randomElement(using: &rng)!
            return (dir.isEmpty ? "" : dir + "/") + "n\(Int.random(in: 0..<12, using: &rng))"
        }
        let a = root + "/" + pick(), b = root + "/" + pick()
        func result(_ rc: Int32) -> String { rc == 0 ? "ok" : "errno \(errno)" }
        switch op {
        case 0: let fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0o644); if fd >= 0 { close(fd) }; return fd >= 0 ? "ok" : "errno \(errno)"
        case 1: return result(mkdir(a, 0o755))
        case 2: return result(unlink(a))
        case 3: return result(rmdir(a))
        case 4: return result(rename(a, b))
        case 5: return result(link(a, b))
        case 6: return result(symlink("target", a))
        case 7: return result(estuary_renameat2(AT_FDCWD, a, AT_FDCWD, b, 2))   // RENAME_EXCHANGE
        default: return result(estuary_renameat2(AT_FDCWD, a, AT_FDCWD, b, 1))  // RENAME_NOREPLACE
        }
    }

    @Test(arguments: [UInt64(11), 12, 13])
    func heldListingsStayExactThroughEveryNameChange(seed: UInt64) throws {
        let pool = try TestPool()
        let native = pool.root + "/native"
        for root in [native, pool.siloPath("fast0")] {
            for dir in ["a", "b"] { try FileManager.default.createDirectory(atPath: root + "/" + dir, withIntermediateDirectories: true) }
        }
        try pool.mount()
        defer { _ = try? pool.unmount() }
        var nativeRNG = SplitMix64(seed: seed), mountRNG = SplitMix64(seed: seed), opRNG = SplitMix64(seed: seed ^ 0x5eed)
        var mismatches: [Mismatch] = []
        for i in 0..<300 where mismatches.count < 5 {
            _ = view(pool.mountpoint)    // every directory listed: held in memory before the op
            let op = Int.random(in: 0..<9, using: &opRNG)
            let want = apply(op, &nativeRNG, native), got = apply(op, &mountRNG, pool.mountpoint)
            if want != got { mismatches.append(Mismatch(index: i, what: "op \(op)", native: want, mount: got)) }
            let nativeView = view(native), mountView = view(pool.mountpoint)
            if nativeView != mountView {
                mismatches.append(Mismatch(index: i, what: "listings after op \(op)", native: nativeView.joined(separator: ", "),
                                           mount: mountView.joined(separator: ", ")))
            }
        }
        expectParity(mismatches)
    }

    /// More directories than DirectoryListings holds (4,096): the oldest are dropped in bulk,
    /// and both dropped and held ones still list exactly what each operation left.
    @Test func directoriesBeyondTheHeldLimitStillListExactly() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let count = 4_300
        for i in 0..<count {
            let dir = pool.path(String(format: "d%05d", i))
            guard mkdir(dir, 0o755) == 0 else { throw Errno.current }
            try Fixtures.write(dir + "/f", "x")
        }
        for i in Array(0..<10) + Array(count - 10..<count) {
            let dir = pool.path(String(format: "d%05d", i))
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["f"], "\(dir)")
            #expect(rename(dir + "/f", dir + "/g") == 0)
            try Fixtures.write(dir + "/h", "y")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["g", "h"], "\(dir)")
            var st = stat()
            #expect(lstat(dir + "/f", &st) != 0 && errno == ENOENT)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: pool.mountpoint).count == count)
    }

    @Test func aHeldListingLearnsWhatAScanFoundBehindTheMount() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("bulk0") + "/dir/old.txt", "old")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(try FileManager.default.contentsOfDirectory(atPath: pool.path("dir")) == ["old.txt"])   // now held
        try Fixtures.write(pool.siloPath("bulk1") + "/dir/new.txt", "new")
        try FileManager.default.removeItem(atPath: pool.siloPath("bulk0") + "/dir/old.txt")
        let result = try pool.estuary(["scan", pool.mountpoint])
        #expect(result.status == 0, "\(result.output)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: pool.path("dir")) == ["new.txt"])
        var st = stat()
        #expect(lstat(pool.path("dir/new.txt"), &st) == 0)
        #expect(lstat(pool.path("dir/old.txt"), &st) != 0 && errno == ENOENT)
    }
}

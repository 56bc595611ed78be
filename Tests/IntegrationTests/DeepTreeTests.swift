import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Trees whose paths pass PATH_MAX (4,096 bytes), which ext4 holds happily: made in a silo they
/// are scanned whole, and made through the mount with *at calls they behave as on ext4. What a
/// scan cannot take is reported, never dropped quietly.
@Suite(.serialized)
struct DeepTreeTests {
    /// 25 levels of 200-byte names: about 5,000 bytes of path.
    static let levels = (0..<25).map { level in Array(String(format: "d%02d", level).utf8) + [UInt8](repeating: 0x78, count: 197) }

    /// Opens (making it with `mkdirat` when `create`) each of `names` below `base`, one level at
    /// a time as deep-tree tools do, and returns the deepest directory, open; the errno of the
    /// first failure otherwise.
    static func descend(_ base: String, _ names: [[UInt8]], create: Bool) -> Result<Int32, Errno> {
        var fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { return .failure(Errno.current) }
        for name in names {
            if create && withCPath(name, { mkdirat(fd, $0, 0o755) }) != 0 {
                let e = Errno.current
                close(fd)
                return .failure(e)
            }
            let next = withCPath(name) { openat(fd, $0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            let e = Errno.current
            close(fd)
            if next < 0 { return .failure(e) }
            fd = next
        }
        return .success(fd)
    }

    static func writeFile(_ dirFD: Int32, _ name: String, _ content: String) throws {
        let fd = openat(dirFD, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        try Sys.writeAll(fd, Array(content.utf8))
    }

    static func readFile(_ dirFD: Int32, _ name: String) throws -> String {
        let fd = openat(dirFD, name, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Errno.current }
        defer { close(fd) }
        return String(decoding: try Sys.readAll(fd), as: UTF8.self)
    }

    @Test func aDeepTreeMadeInASiloIsScannedWholeAndFsckSeesItFirst() throws {
        let pool = try TestPool(watch: false)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let made = try Self.descend(pool.siloPath("bulk0"), Self.levels, create: true).get()
        try Self.writeFile(made, "leaf.txt", "at the bottom\n")
        close(made)

        let check = try pool.estuary(["fsck", pool.mountpoint])
        #expect(check.status == 3, "\(check.output)")
        #expect(check.stdout.contains("26 missing from the index"), "\(check.output)")

        let scan = try pool.estuary(["scan", pool.mountpoint])
        #expect(scan.status == 0, "\(scan.output)")
        #expect(scan.stdout.contains("added 26,"), "\(scan.output)")
        let seen = try Self.descend(pool.mountpoint, Self.levels, create: false).get()
        defer { close(seen) }
        #expect(try Self.readFile(seen, "leaf.txt") == "at the bottom\n")

        let clean = try pool.estuary(["fsck", pool.mountpoint])
        #expect(clean.status == 0, "\(clean.output)")
        #expect(clean.stdout.contains("0 missing from the index"), "\(clean.output)")
    }

    @Test func aDeepTreeScannedOfflineIsServedWhole() throws {
        let pool = try TestPool()
        let made = try Self.descend(pool.siloPath("fast0"), Self.levels, create: true).get()
        try Self.writeFile(made, "leaf.txt", "offline\n")
        close(made)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let seen = try Self.descend(pool.mountpoint, Self.levels, create: false).get()
        defer { close(seen) }
        #expect(try Self.readFile(seen, "leaf.txt") == "offline\n")
    }

    /// The same *at calls in a native directory and through the mount, 25 levels down.
    @Test func deepPathsThroughTheMountBehaveAsOnTheNativeFileSystem() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let native = pool.root + "/native"
        try FileManager.default.createDirectory(atPath: native, withIntermediateDirectories: true)
        func run(_ base: String) throws -> [String] {
            let dir = try Self.descend(base, Self.levels, create: true).get()
            defer { close(dir) }
            var log: [String] = []
            func step(_ what: String, _ rc: Int32) { log.append("\(what): \(rc == 0 ? "ok" : "errno \(errno)")") }
            try Self.writeFile(dir, "f.txt", "0123456789")
            let fd = openat(dir, "f.txt", O_RDWR | O_CLOEXEC)
            defer { close(fd) }
            step("fchmodat", fchmodat(dir, "f.txt", 0o600, 0))
            step("fchownat", fchownat(dir, "f.txt", 1234, 5678, AT_SYMLINK_NOFOLLOW))
            step("ftruncate", ftruncate(fd, 4))
            step("truncate", truncate("/proc/self/fd/\(dir)/f.txt", 2))
            var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_000, tv_nsec: 0)]
            step("utimensat", utimensat(dir, "f.txt", &times, 0))
            step("setxattr", LibcExtras.lsetxattr("/proc/self/fd/\(fd)", "user.tag", Array("v".utf8), 0))
            step("symlinkat", symlinkat("f.txt", dir, "link"))
            step("linkat", linkat(dir, "f.txt", dir, "hard", 0))
            step("renameat", renameat(dir, "hard", dir, "moved"))
            step("mkdirat", mkdirat(dir, "sub", 0o700))
            var s = stat()
            step("fstatat", fstatat(dir, "f.txt", &s, AT_SYMLINK_NOFOLLOW))
            log.append("mode \(String(s.st_mode, radix: 8)) uid \(s.st_uid) gid \(s.st_gid) size \(s.st_size) nlink \(s.st_nlink) mtime \(s.st_mtim.tv_sec)")
            log.append("content \(try Self.readFile(dir, "moved"))")
            step("unlinkat moved", unlinkat(dir, "moved", 0))
            step("unlinkat link", unlinkat(dir, "link", 0))
            step("rmdir sub", unlinkat(dir, "sub", AT_REMOVEDIR))
            log.append("names \(try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd/\(dir)").sorted())")
            return log
        }
        let expected = try run(native)
        let seen = try run(pool.mountpoint)
        #expect(seen == expected)
        // The backing copy sits at the same deep path in a silo.
        let held = pool.silos.compactMap { try? Self.descend(pool.siloPath($0.name), Self.levels, create: false).get() }
        #expect(held.count == 1)
        for fd in held {
            #expect(try Self.readFile(fd, "f.txt") == "01")
            close(fd)
        }
    }

    /// A path of exactly PATH_MAX-1 bytes relative to the mount (the longest one *at call
    /// takes): attribute changes work as they do natively.
    @Test func thePathMaxMinusOnePathTakesEveryAttributeChange() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let native = pool.root + "/native"
        try FileManager.default.createDirectory(atPath: native, withIntermediateDirectories: true)
        // 20 directories of 200 bytes and a last name filling the path to 4,095 bytes.
        let directories = Array(Self.levels.prefix(20))
        let lastName = String(repeating: "f", count: 4095 - directories.count * 201)
        let relative = directories.map { String(decoding: $0, as: UTF8.self) }.joined(separator: "/") + "/" + lastName
        #expect(relative.utf8.count == 4095)
        func run(_ base: String) throws -> [String] {
            let dir = try Self.descend(base, directories, create: true).get()
            close(dir)
            let root = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            defer { close(root) }
            var log: [String] = []
            func step(_ what: String, _ rc: Int32) { log.append("\(what): \(rc == 0 ? "ok" : "errno \(errno)")") }
            let fd = openat(root, relative, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            step("create", fd >= 0 ? 0 : -1)
            defer { close(fd) }
            _ = write(fd, "0123456789", 10)
            step("chmod", fchmodat(root, relative, 0o640, 0))
            step("chown", fchownat(root, relative, 4321, 8765, 0))
            step("ftruncate", ftruncate(fd, 6))
            let again = openat(root, relative, O_WRONLY | O_TRUNC | O_CLOEXEC)
            step("open O_TRUNC", again >= 0 ? 0 : -1)
            if again >= 0 { close(again) }
            var s = stat()
            step("fstatat", fstatat(root, relative, &s, 0))
            log.append("mode \(String(s.st_mode, radix: 8)) uid \(s.st_uid) gid \(s.st_gid) size \(s.st_size)")
            return log
        }
        let expected = try run(native)
        #expect(expected.allSatisfy { !$0.contains("errno") }, "\(expected)")
        #expect(try run(pool.mountpoint) == expected)
    }

    /// Deeper than the namespace serves: the scan says so (exit 3, the entry named) and adds
    /// what it can.
    @Test func aTreeDeeperThanTheNamespaceServesIsReported() throws {
        let pool = try TestPool(watch: false)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let names = [[UInt8]](repeating: [UInt8(ascii: "n")], count: 2049)
        let made = try Self.descend(pool.siloPath("bulk0"), names, create: true).get()
        close(made)
        let scan = try pool.estuary(["scan", pool.mountpoint, "--json"])
        #expect(scan.status == 3, "\(scan.stderr)")
        #expect(scan.stdout.contains("deeper than Estuary serves"), "\(scan.stdout.suffix(600))")
        #expect(scan.stdout.contains("\"added\":2048"), "\(scan.stdout.suffix(600))")
        let deepest = try Self.descend(pool.mountpoint, Array(names.prefix(2048)), create: false).get()
        defer { close(deepest) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd/\(deepest)").isEmpty)
    }
}

import CShims
import Foundation
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// What one op gave: a rendering of the values that must agree between file systems, or an errno.
enum Outcome: Equatable, CustomStringConvertible {
    case ok(String)
    case failed(Int32)
    var description: String {
        switch self {
        case .ok(let value): value.isEmpty ? "ok" : "ok \(value)"
        case .failed(let e): errnoName(e)
        }
    }
    var succeeded: Bool { if case .ok = self { true } else { false } }
}

/// Runs ops against one root directory with raw syscalls, every path resolved relative to a
/// descriptor of the root (so both roots allow the same path lengths).
final class OpRunner {
    let rootPath: String
    let rootFD: Int32
    private var slots: [Int: Int32] = [:]
    private var inodes: [String: UInt64] = [:]

    init(root: String) throws {
        rootPath = root
        rootFD = try Sys.open(root, flags: O_RDONLY | O_DIRECTORY)
    }

    private var rootOpen = true

    deinit { finish() }

    func closeAll() {
        for fd in slots.values { close(fd) }
        slots = [:]
    }

    /// Closes every descriptor, the root's too (a mount with open descriptors cannot unmount).
    func finish() {
        closeAll()
        if rootOpen { close(rootFD); rootOpen = false }
    }

    func run(_ ops: [Op]) -> [Outcome] { ops.map(run) }

    /// The result of a call returning -1 and errno on failure; errno is read before anything else runs.
    private func check(_ rc: Int, _ value: (Int) -> String = { _ in "" }) -> Outcome {
        if rc < 0 { return .failed(errno) }
        return .ok(value(rc))
    }

    private func at<R>(_ path: FSPath, _ body: (UnsafePointer<CChar>) -> R) -> R { withCPath(path.bytes, body) }

    private func slot(_ n: Int, _ body: (Int32) -> Outcome) -> Outcome {
        guard let fd = slots[n] else { return .ok("no descriptor in slot \(n)") }
        return body(fd)
    }

    func run(_ op: Op) -> Outcome {
        switch op {
        case .open(let path, let flags, let mode, let n):
            let fd = at(path) { openat(rootFD, $0, flags | O_CLOEXEC, mode) }
            if fd < 0 { return .failed(errno) }
            if let old = slots[n] { close(old) }
            slots[n] = fd
            return .ok("")
        case .close(let n):
            guard let fd = slots.removeValue(forKey: n) else { return .ok("no descriptor in slot \(n)") }
            return check(Int(close(fd)))
        case .write(let n, let blob):
            return slot(n) { fd in check(blob.bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }) { "\($0)" } }
        case .pwrite(let n, let blob, let offset):
            return slot(n) { fd in check(blob.bytes.withUnsafeBytes { Glibc.pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }) { "\($0)" } }
        case .read(let n, let count):
            return slot(n) { fd in readInto(count) { Glibc.read(fd, $0, count) } }
        case .pread(let n, let count, let offset):
            return slot(n) { fd in readInto(count) { Glibc.pread(fd, $0, count, off_t(offset)) } }
        case .lseek(let n, let offset, let whence):
            return slot(n) { fd in check(Int(Glibc.lseek(fd, off_t(offset), whence))) { "\($0)" } }
        case .ftruncate(let n, let size):
            return slot(n) { fd in check(Int(Glibc.ftruncate(fd, off_t(size)))) }
        case .fstat(let n):
            return slot(n) { fd in
                var s = stat()
                if Glibc.fstat(fd, &s) != 0 { return .failed(errno) }
                return .ok(describeStat(s, []))
            }
        case .fsync(let n):
            return slot(n) { fd in check(Int(Glibc.fsync(fd))) }
        case .fdatasync(let n):
            return slot(n) { fd in check(Int(Glibc.fdatasync(fd))) }
        case .fchmod(let n, let mode):
            return slot(n) { fd in check(Int(Glibc.fchmod(fd, mode))) }
        case .futimens(let n, let atime, let mtime):
            return slot(n) { fd in
                var times = [atime.timespec, mtime.timespec]
                return check(Int(Glibc.futimens(fd, &times)))
            }
        case .fallocate(let n, let mode, let offset, let length):
            return slot(n) { fd in check(Int(LibcExtras.fallocate(fd, mode, offset, length))) }
        case .copyRange(let from, let fromOffset, let to, let toOffset, let length):
            guard let inFD = slots[from], let outFD = slots[to] else { return .ok("no descriptor") }
            var inOffset = fromOffset ?? 0, outOffset = toOffset ?? 0
            let rc = withUnsafeMutablePointer(to: &inOffset) { inPointer in
                withUnsafeMutablePointer(to: &outOffset) { outPointer in
                    LibcExtras.copyFileRange(inFD, fromOffset == nil ? nil : inPointer, outFD, toOffset == nil ? nil : outPointer, length, 0)
                }
            }
            return check(rc) { "\($0)" }
        case .mmapWrite(let n, let offset, let blob):
            return slot(n) { fd in mapped(fd, offset, blob.bytes.count, write: true) { $0.copyMemory(from: blob.bytes, byteCount: blob.bytes.count); return "" } }
        case .mmapRead(let n, let offset, let count):
            return slot(n) { fd in mapped(fd, offset, count, write: false) { describeContent(Array(UnsafeRawBufferPointer(start: $0, count: count))) } }
        case .flock(let n, let operation):
            return slot(n) { fd in check(Int(LibcExtras.flock(fd, operation))) }
        case .ofdLock(let n, let type, let start, let length):
            return slot(n) { fd in lock(fd, LibcExtras.F_OFD_SETLK, type, start, length) }
        case .posixLock(let n, let type, let start, let length):
            return slot(n) { fd in lock(fd, F_SETLK, type, start, length) }
        case .probeFlock(let path):
            return probe("/usr/bin/flock", ["-n", "-E", "99", absolute(path), "true"]) { $0.status == 0 ? "free" : $0.status == 99 ? "busy" : nil }
        case .probePosixLock(let path, let start, let length):
            return probe("/usr/bin/perl", ["-e", Self.posixLockProbe, absolute(path), "\(start)", "\(length)"]) { $0.status == 0 ? $0.stdout : nil }
        case .writeFile(let path, let blob, let mode):
            let fd = at(path) { openat(rootFD, $0, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode) }
            if fd < 0 { return .failed(errno) }
            defer { close(fd) }
            do { try Sys.writeAll(fd, blob.bytes) } catch { return .failed(error.rawValue) }
            return .ok("\(blob.bytes.count)")
        case .readFile(let path):
            let fd = at(path) { openat(rootFD, $0, O_RDONLY | O_CLOEXEC) }
            if fd < 0 { return .failed(errno) }
            defer { close(fd) }
            do { return .ok(describeContent(try Sys.readAll(fd))) } catch { return .failed(error.rawValue) }
        case .truncate(let path, let size):
            return check(Int(Glibc.truncate(absolute(path), off_t(size))))
        case .fsyncDir(let path):
            let fd = at(path) { openat(rootFD, $0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
            if fd < 0 { return .failed(errno) }
            defer { close(fd) }
            return check(Int(Glibc.fsync(fd)))
        case .mkdir(let path, let mode):
            return check(Int(at(path) { mkdirat(rootFD, $0, mode) }))
        case .rmdir(let path):
            return check(Int(at(path) { unlinkat(rootFD, $0, AT_REMOVEDIR) }))
        case .unlink(let path):
            return check(Int(at(path) { unlinkat(rootFD, $0, 0) }))
        case .rename(let from, let to, let flags):
            return check(Int(at(from) { a in at(to) { b in LibcExtras.renameat2(rootFD, a, rootFD, b, flags) } }))
        case .link(let from, let to):
            return check(Int(at(from) { a in at(to) { b in linkat(rootFD, a, rootFD, b, 0) } }))
        case .symlink(let target, let path):
            return check(Int(withCPath(target.bytes) { t in at(path) { symlinkat(t, rootFD, $0) } }))
        case .readlink(let path):
            do {
                let target = try withCPath(path.bytes) { p throws(Errno) in try Sys.readlinkat(rootFD, p) }
                return .ok(describeContent(target))
            } catch { return .failed(error.rawValue) }
        case .mknod(let path, let mode):
            return check(Int(at(path) { mknodat(rootFD, $0, mode, 0) }))
        case .readdir(let path):
            return readdir(path)
        case .stat(let path, let fields):
            var s = stat()
            if at(path, { fstatat(rootFD, $0, &s, fields.contains(.follow) ? 0 : AT_SYMLINK_NOFOLLOW) }) != 0 { return .failed(errno) }
            return .ok(describeStat(s, fields))
        case .chmod(let path, let mode):
            return check(Int(at(path) { fchmodat(rootFD, $0, mode, 0) }))
        case .chown(let path, let uid, let gid):
            return check(Int(at(path) { fchownat(rootFD, $0, uid, gid, AT_SYMLINK_NOFOLLOW) }))
        case .utimens(let path, let atime, let mtime, let follow):
            var times = [atime.timespec, mtime.timespec]
            return check(Int(at(path) { utimensat(rootFD, $0, &times, follow ? 0 : AT_SYMLINK_NOFOLLOW) }))
        case .setxattr(let path, let name, let value, let flags):
            return viaProc(path) { p in check(Int(LibcExtras.lsetxattr(p, name, value.bytes, flags))) }
        case .getxattr(let path, let name, let size):
            return viaProc(path) { p in getxattr(p, name, size) }
        case .removexattr(let path, let name):
            return viaProc(path) { p in check(Int(LibcExtras.lremovexattr(p, name))) }
        case .listxattr(let path):
            return viaProc(path) { p in listxattr(p) }
        case .noteInode(let path, let tag):
            var s = stat()
            if at(path, { fstatat(rootFD, $0, &s, AT_SYMLINK_NOFOLLOW) }) != 0 { return .failed(errno) }
            inodes[tag] = UInt64(s.st_ino)
            return .ok("")
        case .expected(let inner, _):
            return run(inner)
        case .checkInode(let path, let tag):
            var s = stat()
            if at(path, { fstatat(rootFD, $0, &s, AT_SYMLINK_NOFOLLOW) }) != 0 { return .failed(errno) }
            return .ok(inodes[tag] == UInt64(s.st_ino) ? "same" : "changed")
        }
    }

    func absolute(_ path: FSPath) -> String { rootPath + "/" + String(decoding: path.bytes, as: UTF8.self) }

    private func readInto(_ count: Int, _ call: (UnsafeMutableRawPointer) -> Int) -> Outcome {
        var buffer = [UInt8](repeating: 0, count: max(count, 1))
        let n = buffer.withUnsafeMutableBytes { call($0.baseAddress!) }
        if n < 0 { return .failed(errno) }
        return .ok(describeContent(Array(buffer[0..<n])))
    }

    /// Maps the pages covering [offset, offset+count) MAP_SHARED and runs `body` at `offset`.
    /// A range past the end of file is reported, not touched (it would raise SIGBUS).
    private func mapped(_ fd: Int32, _ offset: Int64, _ count: Int, write: Bool, _ body: (UnsafeMutableRawPointer) -> String) -> Outcome {
        var s = stat()
        if Glibc.fstat(fd, &s) != 0 { return .failed(errno) }
        if offset + Int64(count) > Int64(s.st_size) || count == 0 { return .ok("range beyond end of file \(s.st_size)") }
        let base = offset & ~4095
        let length = Int(offset - base) + count
        guard let map = mmap(nil, length, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, off_t(base)),
              map != UnsafeMutableRawPointer(bitPattern: -1) else { return .failed(errno) }
        defer { munmap(map, length) }
        let value = body(map + Int(offset - base))
        if write && msync(map, length, MS_SYNC) != 0 { return .failed(errno) }
        return .ok(value)
    }

    private func lock(_ fd: Int32, _ command: Int32, _ type: Int32, _ start: Int64, _ length: Int64) -> Outcome {
        var description = flock()
        description.l_type = Int16(type)
        description.l_whence = Int16(SEEK_SET)
        description.l_start = off_t(start)
        description.l_len = off_t(length)
        return check(Int(fcntl(fd, command, &description)))
    }

    private func probe(_ program: String, _ arguments: [String], _ interpret: (Shell.Result) -> String?) -> Outcome {
        do {
            let result = try Shell.run(program, arguments, timeout: 20)
            return .ok(interpret(result) ?? "exit \(result.status): \(result.output)")
        } catch { return .ok("probe failed: \(error)") }
    }

    static let posixLockProbe = #"""
    use Fcntl;
    open(my $fh, "+<", $ARGV[0]) or do { print "open failed ", $!+0; exit 0 };
    my $want = pack("s s x4 q q i x4", F_WRLCK, 0, $ARGV[1], $ARGV[2], 0);
    if (fcntl($fh, F_SETLK, $want)) { print "free"; exit 0 }
    my $e = $!+0;
    my $q = pack("s s x4 q q i x4", F_WRLCK, 0, $ARGV[1], $ARGV[2], 0);
    fcntl($fh, F_GETLK, $q) or do { print "busy errno $e, F_GETLK failed ", $!+0; exit 0 };
    my ($type, $whence, $start, $len, $pid) = unpack("s s x4 q q i x4", $q);
    print "busy errno $e, held type=$type start=$start len=$len by ", ($pid == getppid() ? "parent" : "pid $pid");
    """#

    private func readdir(_ path: FSPath) -> Outcome {
        let fd = at(path) { openat(rootFD, $0, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        if fd < 0 { return .failed(errno) }
        var stream = DirectoryStream(fd: fd)
        var names: [(name: [UInt8], type: UInt8)] = []
        do {
            while let entry = try stream.next() { names.append((Array(entry.name), entry.type)) }
        } catch { return .failed(error.rawValue) }
        names.sort { $0.name.lexicographicallyPrecedes($1.name) }
        return .ok(names.map { escaped($0.name + Array(":\($0.type)".utf8)) }.joined(separator: " "))
    }

    /// Runs `body` with "/proc/self/fd/N/name", N a descriptor of the parent: xattr calls on a
    /// path of any depth, without following a final symlink (the l* calls).
    private func viaProc(_ path: FSPath, _ body: (UnsafePointer<CChar>) -> Outcome) -> Outcome {
        let (parent, name) = path.split
        let dirFD = at(parent) { openat(rootFD, $0, ESTUARY_O_PATH | O_DIRECTORY | O_CLOEXEC) }
        if dirFD < 0 { return .failed(errno) }
        defer { close(dirFD) }
        return withCPath(Array("/proc/self/fd/\(dirFD)/".utf8) + name.bytes, body)
    }

    private func getxattr(_ path: UnsafePointer<CChar>, _ name: String, _ size: Int?) -> Outcome {
        var length = size ?? 0
        if size == nil {
            length = LibcExtras.lgetxattr(path, name, nil, 0)
            if length < 0 { return .failed(errno) }
        }
        var buffer = [UInt8](repeating: 0, count: max(length, 1))
        let n = buffer.withUnsafeMutableBytes { LibcExtras.lgetxattr(path, name, $0.baseAddress, length) }
        if n < 0 { return .failed(errno) }
        return .ok((size == nil ? "size \(length), " : "") + describeContent(Array(buffer[0..<n])))
    }

    private func listxattr(_ path: UnsafePointer<CChar>) -> Outcome {
        let length = LibcExtras.llistxattr(path, nil, 0)
        if length < 0 { return .failed(errno) }
        var buffer = [CChar](repeating: 0, count: max(length, 1))
        let n = LibcExtras.llistxattr(path, &buffer, length)
        if n < 0 { return .failed(errno) }
        let names = buffer[0..<n].split(separator: 0).map { String(decoding: $0.map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        return .ok(names.filter { $0.hasPrefix("user.") }.sorted().joined(separator: " "))
    }
}

/// The stat fields that must agree: type, permission bits, size (not of directories), link
/// count, owner; times only when asked.
func describeStat(_ s: stat, _ fields: StatFields) -> String {
    let kind = FileKind(mode: UInt32(s.st_mode))
    let kindName: [FileKind: String] = [.regular: "reg", .directory: "dir", .symlink: "lnk", .fifo: "fifo", .socket: "sock",
                                        .characterDevice: "chr", .blockDevice: "blk", .unknown: "?"]
    var parts = [kindName[kind]!, "0" + String(UInt32(s.st_mode) & 0o7777, radix: 8)]
    if kind != .directory || fields.contains(.dirSize) { parts.append("size=\(s.st_size)") }
    parts += ["nlink=\(s.st_nlink)", "uid=\(s.st_uid)", "gid=\(s.st_gid)"]
    if fields.contains(.mtime) { parts.append("mtime=\(s.st_mtim.tv_sec).\(s.st_mtim.tv_nsec)") }
    if fields.contains(.atime) { parts.append("atime=\(s.st_atim.tv_sec).\(s.st_atim.tv_nsec)") }
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    func recent(_ t: timespec) -> Bool { abs(t.tv_sec - now.tv_sec) < 60 }
    if fields.contains(.recentMtime) { parts.append("mtime-recent=\(recent(s.st_mtim))") }
    if fields.contains(.recentAtime) { parts.append("atime-recent=\(recent(s.st_atim))") }
    if fields.contains(.recentCtime) { parts.append("ctime-recent=\(recent(s.st_ctim))") }
    return parts.joined(separator: " ")
}

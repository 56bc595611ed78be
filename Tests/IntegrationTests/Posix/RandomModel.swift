import Foundation
import Syscalls
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// One file of the model; hard links share it.
final class ModelFile {
    var content: [UInt8]
    var mode: UInt32
    var links = 1
    var inode: UInt64
    init(content: [UInt8], mode: UInt32, inode: UInt64) { self.content = content; self.mode = mode; self.inode = inode }
}

/// What the tree under one seed directory must hold: paths relative to it.
struct FSModel {
    var files: [String: ModelFile] = [:]
    var dirs: [String: UInt64] = [:]          // path -> inode

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }
    static func depth(_ path: String) -> Int { path.isEmpty ? 0 : path.split(separator: "/").count }

    func isFile(_ p: String) -> Bool { files[p] != nil }
    func isDir(_ p: String) -> Bool { p.isEmpty || dirs[p] != nil }
    func exists(_ p: String) -> Bool { isFile(p) || isDir(p) }
    func isEmptyDir(_ p: String) -> Bool {
        !files.keys.contains { FSModel.parent($0) == p } && !dirs.keys.contains { FSModel.parent($0) == p }
    }
    func subdirectoryCount(_ p: String) -> Int { dirs.keys.filter { FSModel.parent($0) == p }.count }

    /// Moves `from` (and, for a directory, everything under it) to `to`.
    mutating func move(_ from: String, _ to: String) {
        if let file = files.removeValue(forKey: from) {
            if let replaced = files[to] { replaced.links -= 1 }
            files[to] = file
            return
        }
        if dirs[to] != nil { dirs[to] = nil }                       // an empty directory replaced
        let prefix = from + "/"
        for (path, file) in files where path.hasPrefix(prefix) {
            files[path] = nil
            files[to + "/" + path.dropFirst(prefix.count)] = file
        }
        for (path, inode) in dirs where path.hasPrefix(prefix) {
            dirs[path] = nil
            dirs[to + "/" + path.dropFirst(prefix.count)] = inode
        }
        dirs[to] = dirs.removeValue(forKey: from)
    }

    /// The errno Linux gives for rename(from, to) in this tree, nil for success.
    func renameError(_ from: String, _ to: String) -> Int32? {
        guard exists(from) else { return ENOENT }
        if from == to { return nil }
        if to.hasPrefix(from + "/") { return EINVAL }
        if from.hasPrefix(to + "/") { return ENOTEMPTY }
        if let a = files[from], let b = files[to], a === b { return nil }
        if isDir(from) {
            if isFile(to) { return ENOTDIR }
            if isDir(to) && !isEmptyDir(to) { return ENOTEMPTY }
        } else if isDir(to) {
            return EISDIR
        }
        return nil
    }
}

/// Drives random operations on one seed's directory through the mount, checking each result
/// against the model. The first disagreement ends the run and is returned.
struct RandomDriver {
    /// Absolute path of the seed directory; a test with several mounts of one pool points it
    /// at the mount the next operation goes through.
    var root: String
    let seed: UInt64
    var model = FSModel()
    var rng: SplitMix64
    let fileMode: UInt32
    private(set) var log: [String] = []
    /// For failure reports: each silo's directory for this seed, (silo name, path).
    var siloRoots: [(name: String, path: String)] = []
    /// Tiers that files are sent to by `estuary move` during the run (none: no moves).
    var moveTiers: [String] = []

    init(root: String, seed: UInt64) {
        self.root = root
        self.seed = seed
        rng = SplitMix64(seed: seed)
        fileMode = 0o644 & ~currentUmask()
    }

    static let names = ["f0", "f1", "f2", "f3", "f4", "d0", "d1", "d2", "x"]
    static let maxSize = 600_000

    func absolute(_ p: String) -> String { p.isEmpty ? root : root + "/" + p }

    private mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    private mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
    private mutating func pick<T>(_ items: [T]) -> T? { items.isEmpty ? nil : items[int(0...(items.count - 1))] }
    private mutating func bytes(_ count: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { raw in
            var i = 0
            while i < count {
                var word = rng.next()
                let n = min(8, count - i)
                withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: i).copyMemory(from: $0.baseAddress!, byteCount: n) }
                i += n
            }
        }
        return result
    }

    private mutating func someFile() -> String? { pick(model.files.keys.sorted()) }
    private mutating func someDir() -> String? { pick(model.dirs.keys.sorted()) }
    /// A path whose parent is an existing directory at most two deep.
    private mutating func somePath() -> String {
        let parents = [""] + model.dirs.keys.filter { FSModel.depth($0) < 3 }.sorted()
        let parent = pick(parents)!
        let name = pick(Self.names)!
        return parent.isEmpty ? name : parent + "/" + name
    }

    /// One random operation; a description of the disagreement, or nil.
    mutating func step() -> String? {
        let roll = int(0...99)
        switch roll {
        case 0..<12: return create()
        case 12..<27: return write()
        case 27..<33: return truncate()
        case 33..<43: return read()
        case 43..<53: return rename()
        case 53..<58: return link()
        case 58..<64: return unlink()
        case 64..<70: return mkdir()
        case 70..<74: return rmdir()
        case 74..<79: return fallocate()
        case 79..<85: return mmapWrite()
        case 85..<89: return mmapRead()
        case 89..<93: return stat()
        case 93..<95: return exec()
        case 95..<98: return moveTiers.isEmpty ? stat() : move()
        default: return chmod()
        }
    }

    /// Runs `call` and gives its errno (read straight after it), nil for success.
    private func outcome(_ call: () -> Int32) -> Int32? {
        let rc = call()
        return rc < 0 ? errno : nil
    }

    private mutating func expectErrno(_ what: String, _ got: Int32?, _ expected: Int32?) -> String? {
        log.append("\(what) = \(got.map(errnoName) ?? "ok")")
        if got == expected { return nil }
        return "\(what): expected \(expected.map(errnoName) ?? "success"), got \(got.map(errnoName) ?? "success")"
    }

    private mutating func create() -> String? {
        let p = somePath()
        let data = bytes(chance(10) ? int(0...200_000) : int(0...3000))
        let expected: Int32? = model.exists(p) ? EEXIST : nil
        let path = absolute(p)
        let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        let e = errno
        if let problem = expectErrno("create \(p) with \(data.count)B", fd < 0 ? e : nil, expected) { return problem }
        if fd < 0 { return nil }
        defer { close(fd) }
        let n = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        if n != data.count { return "create \(p): pwrite gave \(n) (\(errnoName(errno))) for \(data.count)" }
        var s = Glibc.stat()
        fstat(fd, &s)
        model.files[p] = ModelFile(content: data, mode: fileMode, inode: UInt64(s.st_ino))
        return nil
    }

    private mutating func withOpenFile(_ p: String, _ flags: Int32, _ what: String, _ body: (Int32) -> String?) -> String? {
        let fd = open(absolute(p), flags | O_CLOEXEC)
        if fd < 0 { return "\(what): open gave \(errnoName(errno))" }
        defer { close(fd) }
        log.append(what)
        return body(fd)
    }

    private mutating func write() -> String? {
        guard let p = someFile(), let file = model.files[p] else { return create() }
        let size = file.content.count
        let offset = size > Self.maxSize ? int(0...size) : int(0...(size + 2000))
        let data = bytes(chance(5) ? int(1...200_000) : int(1...5000))
        return withOpenFile(p, O_RDWR, "pwrite \(p) \(data.count)B at \(offset)") { fd in
            let n = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            if n != data.count { return "pwrite \(p) \(data.count)B at \(offset): gave \(n) (\(errnoName(errno)))" }
            if file.content.count < offset + data.count { file.content += [UInt8](repeating: 0, count: offset + data.count - file.content.count) }
            file.content.replaceSubrange(offset..<(offset + data.count), with: data)
            return nil
        }
    }

    private mutating func truncate() -> String? {
        guard let p = someFile(), let file = model.files[p] else { return create() }
        let size = int(0...(min(file.content.count * 2, Self.maxSize) + 100))
        let result: String?
        if chance(50) {
            let path = absolute(p)
            result = expectErrno("truncate \(p) to \(size)", outcome { Glibc.truncate(path, off_t(size)) }, nil)
        } else {
            result = withOpenFile(p, O_WRONLY, "ftruncate \(p) to \(size)") { fd in
                ftruncate(fd, off_t(size)) == 0 ? nil : "ftruncate \(p) to \(size): \(errnoName(errno))"
            }
        }
        if result != nil { return result }
        if size < file.content.count { file.content.removeLast(file.content.count - size) }
        else { file.content += [UInt8](repeating: 0, count: size - file.content.count) }
        return nil
    }

    private mutating func read() -> String? {
        guard let p = someFile(), let file = model.files[p] else { return create() }
        let whole = chance(30)
        let offset = whole ? 0 : int(0...(file.content.count + 100))
        let count = whole ? file.content.count + 10 : int(1...20_000)
        return withOpenFile(p, O_RDONLY, "pread \(p) \(count) at \(offset)") { fd in
            var buffer = [UInt8](repeating: 0, count: max(count, 1))
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            let want = offset >= file.content.count ? [] : Array(file.content[offset..<min(file.content.count, offset + count)])
            if n < 0 { return "pread \(p) \(count) at \(offset): \(errnoName(errno))" }
            if Array(buffer[0..<n]) != want { return "pread \(p) \(count) at \(offset): got \(describeContent(Array(buffer[0..<n]))), model \(describeContent(want))" }
            return nil
        }
    }

    private mutating func rename() -> String? {
        let from: String
        if chance(5) { from = somePath() } else if chance(25), let d = someDir() { from = d } else if let f = someFile() { from = f } else { return create() }
        let to: String
        switch int(0...9) {
        case 0...4: to = somePath()
        case 5, 6: to = someFile() ?? somePath()
        case 7, 8: to = someDir() ?? somePath()
        default: to = from
        }
        let expected = model.renameError(from, to)
        let (a, b) = (absolute(from), absolute(to))
        if let problem = expectErrno("rename \(from) -> \(to)", outcome { Glibc.rename(a, b) }, expected) { return problem }
        if expected == nil && from != to && !(model.files[from] != nil && model.files[from] === model.files[to]) { model.move(from, to) }
        return nil
    }

    private mutating func link() -> String? {
        let from = chance(5) ? (someDir() ?? "") : (someFile() ?? "")
        if from.isEmpty { return create() }
        let to = somePath()
        let expected: Int32? = model.exists(to) ? EEXIST : model.isDir(from) ? EPERM : nil
        let (a, b) = (absolute(from), absolute(to))
        if let problem = expectErrno("link \(from) -> \(to)", outcome { Glibc.link(a, b) }, expected) { return problem }
        if expected == nil, let file = model.files[from] { file.links += 1; model.files[to] = file }
        return nil
    }

    private mutating func unlink() -> String? {
        let p = chance(10) ? somePath() : chance(10) ? (someDir() ?? somePath()) : (someFile() ?? somePath())
        let expected: Int32? = model.isFile(p) ? nil : model.isDir(p) ? EISDIR : ENOENT
        let path = absolute(p)
        if let problem = expectErrno("unlink \(p)", outcome { Glibc.unlink(path) }, expected) { return problem }
        if expected == nil, let file = model.files.removeValue(forKey: p) { file.links -= 1 }
        return nil
    }

    private mutating func mkdir() -> String? {
        let p = somePath()
        let expected: Int32? = model.exists(p) ? EEXIST : nil
        let path = absolute(p)
        if let problem = expectErrno("mkdir \(p)", outcome { Glibc.mkdir(path, 0o755) }, expected) { return problem }
        if expected == nil { model.dirs[p] = (try? Sys.statPath(path, follow: false).inode) ?? 0 }
        return nil
    }

    private mutating func rmdir() -> String? {
        let p = chance(10) ? somePath() : chance(10) ? (someFile() ?? somePath()) : (someDir() ?? somePath())
        let expected: Int32? = model.isFile(p) ? ENOTDIR : !model.isDir(p) ? ENOENT : model.isEmptyDir(p) ? nil : ENOTEMPTY
        let path = absolute(p)
        if let problem = expectErrno("rmdir \(p)", outcome { Glibc.rmdir(path) }, expected) { return problem }
        if expected == nil { model.dirs[p] = nil }
        return nil
    }

    private mutating func fallocate() -> String? {
        guard let p = someFile(), let file = model.files[p] else { return create() }
        let size = file.content.count
        let punch = size > 0 && chance(60)
        let offset = punch ? int(0...(size - 1)) : int(0...min(size + 1000, Self.maxSize))
        let length = punch ? int(1...20_000) : int(1...65_536)
        let mode = punch ? LibcExtras.FALLOC_FL_PUNCH_HOLE | LibcExtras.FALLOC_FL_KEEP_SIZE : 0
        return withOpenFile(p, O_RDWR, "fallocate \(p) mode \(mode) \(offset)+\(length)") { fd in
            if LibcExtras.fallocate(fd, mode, Int64(offset), Int64(length)) != 0 {
                return "fallocate \(p) mode \(mode) \(offset)+\(length): \(errnoName(errno))"
            }
            if punch {
                let end = min(offset + length, size)
                file.content.replaceSubrange(offset..<end, with: [UInt8](repeating: 0, count: end - offset))
            } else if offset + length > size {
                file.content += [UInt8](repeating: 0, count: offset + length - size)
            }
            return nil
        }
    }

    private mutating func mmapRange(_ file: ModelFile) -> (offset: Int, count: Int)? {
        let size = file.content.count
        guard size > 0 else { return nil }
        let offset = int(0...(size - 1))
        return (offset, int(1...min(8000, size - offset)))
    }

    private mutating func mmapWrite() -> String? {
        guard let p = someFile(), let file = model.files[p], let (offset, count) = mmapRange(file) else { return write() }
        let data = bytes(count)
        return withOpenFile(p, O_RDWR, "mmap-write \(p) \(count)B at \(offset)") { fd in
            let base = offset & ~4095, length = offset - base + count
            guard let map = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(base)),
                  map != UnsafeMutableRawPointer(bitPattern: -1) else { return "mmap-write \(p): mmap \(errnoName(errno))" }
            defer { munmap(map, length) }
            data.withUnsafeBytes { (map + (offset - base)).copyMemory(from: $0.baseAddress!, byteCount: count) }
            if msync(map, length, MS_SYNC) != 0 { return "mmap-write \(p): msync \(errnoName(errno))" }
            file.content.replaceSubrange(offset..<(offset + count), with: data)
            // What was written through the map must read back through read(2) at once.
            var back = [UInt8](repeating: 0, count: count)
            let n = back.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, off_t(offset)) }
            return n == count && back == data ? nil : "mmap-write \(p) \(count)B at \(offset): pread after msync gave \(n) bytes, differing"
        }
    }

    private mutating func mmapRead() -> String? {
        guard let p = someFile(), let file = model.files[p], let (offset, count) = mmapRange(file) else { return read() }
        return withOpenFile(p, O_RDONLY, "mmap-read \(p) \(count)B at \(offset)") { fd in
            let base = offset & ~4095, length = offset - base + count
            guard let map = mmap(nil, length, PROT_READ, MAP_SHARED, fd, off_t(base)),
                  map != UnsafeMutableRawPointer(bitPattern: -1) else { return "mmap-read \(p): mmap \(errnoName(errno))" }
            defer { munmap(map, length) }
            let seen = Array(UnsafeRawBufferPointer(start: map + (offset - base), count: count))
            let want = Array(file.content[offset..<(offset + count)])
            return seen == want ? nil : "mmap-read \(p) \(count)B at \(offset): got \(describeContent(seen)), model \(describeContent(want))"
        }
    }

    /// A script written through the mount runs (exec opens it with flags of the kernel's own),
    /// and so does one written earlier, which may have moved to another silo since.
    private mutating func exec() -> String? {
        if chance(50), let p = pick(model.files.keys.filter { RandomDriver.isIntactScript(model.files[$0]!) }.sorted()),
           let file = model.files[p] {
            return run(p, expecting: file.content)
        }
        let p = somePath()
        if model.exists(p) { return stat() }
        let token = "ran \(rng.next())"
        let content = Array("#!/bin/sh\necho '\(token)'\n".utf8)
        let path = absolute(p)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o755)
        if fd < 0 { return "exec: create \(p): \(errnoName(errno))" }
        let n = content.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        var s = Glibc.stat()
        fstat(fd, &s)
        close(fd)
        if n != content.count { return "exec: write \(p) gave \(n)" }
        if let problem = expectErrno("chmod \(p) 0755", outcome { Glibc.chmod(path, 0o755) }, nil) { return problem }
        model.files[p] = ModelFile(content: content, mode: 0o755, inode: UInt64(s.st_ino))
        return run(p, expecting: content)
    }

    /// A script this driver wrote that no later operation changed: its output is known.
    static func isIntactScript(_ file: ModelFile) -> Bool {
        let c = file.content
        return file.mode == 0o755 && c.count < 64 && c.starts(with: Array("#!/bin/sh\necho 'ran ".utf8)) && c.suffix(2) == [0x27, 0x0a]
            && c.dropFirst(10).dropLast(2).filter { $0 == 0x27 || $0 == 0x0a || $0 == 0 }.count == 1
    }

    /// Runs the script at `p` and compares what it prints with the line its content echoes.
    private mutating func run(_ p: String, expecting content: [UInt8]) -> String? {
        log.append("exec \(p)")
        let text = String(decoding: content, as: UTF8.self)
        guard let start = text.firstIndex(of: "'"), let end = text.lastIndex(of: "'"), start < end else { return nil }
        let want = String(text[text.index(after: start)..<end]) + "\n"
        // ETXTBSY can come from the test process itself: a child another test's thread forked
        // holds a copy of our (close-on-exec) write descriptor until it execs (Go issue 22315).
        var attempt = 0
        var started: Shell.Result?
        var failure: Error?
        repeat {
            do { started = try Shell.run(absolute(p), []) } catch { failure = error; usleep(20_000) }
            attempt += 1
        } while started == nil && attempt < 10
        guard let result = started else { return "exec \(p): could not start: \(failure.map { "\($0)" } ?? "?")" }
        return result.status == 0 && result.stdout == want ? nil : "exec \(p): status \(result.status), printed \(String(result.output.prefix(200)).debugDescription), want \(want.debugDescription)"
    }

    /// Sends a file (or a directory's files) to a tier without waiting: the operations after
    /// it run while the mover copies, switches and removes the old copy.
    private mutating func move() -> String? {
        let recursive = chance(20)
        guard let p = recursive ? (someDir() ?? someFile()) : someFile(), let tier = pick(moveTiers) else { return create() }
        log.append("move \(p) to \(tier)")
        let result = try? Shell.run(Shell.estuary, ["move", absolute(p), "--to", tier] + (recursive ? ["--recursive"] : []))
        // Hard-linked files are refused; anything else must be accepted.
        if let result, result.status != 0, model.files[p].map({ $0.links < 2 }) ?? false {
            return "move \(p) to \(tier): status \(result.status): \(result.output)"
        }
        return nil
    }

    private mutating func stat() -> String? {
        let p = chance(20) ? (someDir() ?? "") : (someFile() ?? "")
        log.append("stat \(p)")
        guard let s = try? Sys.statPath(absolute(p), follow: false) else { return "stat \(p): \(errnoName(errno))" }
        return RandomDriver.compare(p, s, model)
    }

    private mutating func chmod() -> String? {
        guard let p = someFile(), let file = model.files[p] else { return create() }
        let mode = pick([0o600, 0o640, 0o644, 0o755, 0o700] as [UInt32])!
        let path = absolute(p)
        if let problem = expectErrno("chmod \(p) 0\(String(mode, radix: 8))", outcome { Glibc.chmod(path, mode) }, nil) { return problem }
        file.mode = mode
        return nil
    }

    /// Where each ancestor of the paths named in `problem` is, through the mount and in each
    /// silo, so that a report shows which copy went missing or stayed behind.
    func whereabouts(_ problem: String) -> String {
        let words = problem.split(whereSeparator: { " :;".contains($0) }).map(String.init)
        var paths: [String] = []
        for word in words where word.split(separator: "/").allSatisfy({ Self.names.contains(String($0)) }) {
            var prefix = ""
            for component in word.split(separator: "/") {
                prefix = prefix.isEmpty ? String(component) : prefix + "/" + component
                if !paths.contains(prefix) { paths.append(prefix) }
            }
        }
        func kind(_ path: String) -> String {
            guard let s = try? Sys.statPath(path, follow: false) else { return "-" }
            return s.isDirectory ? "dir" : s.isRegular ? "file(\(s.size)B)" : "\(s.fileType)"
        }
        return paths.prefix(8).map { p in
            let model = model.files[p] != nil ? "file(\(model.files[p]!.content.count)B)" : model.dirs[p] != nil ? "dir" : "-"
            let silos = siloRoots.map { "\($0.name) \(kind($0.path + "/" + p))" }.joined(separator: ", ")
            return "\(p): model \(model), mount \(kind(absolute(p)))\(silos.isEmpty ? "" : ", " + silos)"
        }.joined(separator: "\n      ")
    }

    /// Disagreements between what stat shows at `p` and the model.
    static func compare(_ p: String, _ s: FileStat, _ model: FSModel) -> String? {
        if let file = model.files[p] {
            let want = "reg 0\(String(file.mode, radix: 8)) size=\(file.content.count) nlink=\(file.links) ino=\(file.inode)"
            let got = "\(s.isRegular ? "reg" : "\(s.fileType)") 0\(String(s.mode & 0o7777, radix: 8)) size=\(s.size) nlink=\(s.nlink) ino=\(s.inode)"
            return want == got ? nil : "stat \(p): got \(got), model \(want)"
        }
        if let inode = p.isEmpty ? Optional(s.inode) : model.dirs[p] {
            let want = "dir nlink=\(2 + model.subdirectoryCount(p)) ino=\(inode)"
            let got = "\(s.isDirectory ? "dir" : "\(s.fileType)") nlink=\(s.nlink) ino=\(s.inode)"
            return want == got ? nil : "stat \(p)/: got \(got), model \(want)"
        }
        return "stat \(p): not in the model"
    }
}

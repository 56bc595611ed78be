import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// A path relative to a runner's root, as raw bytes (names need not be UTF-8). "." is the root.
struct FSPath: Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    var bytes: [UInt8]
    init(stringLiteral value: String) { bytes = Array(value.utf8) }
    init(_ value: String) { bytes = Array(value.utf8) }
    static func raw(_ bytes: [UInt8]) -> FSPath { var p = FSPath(""); p.bytes = bytes; return p }

    /// `a / b`: b appended as further components.
    static func / (lhs: FSPath, rhs: FSPath) -> FSPath { .raw(lhs.bytes + [UInt8(ascii: "/")] + rhs.bytes) }

    /// The parent's path ("." for a top-level name) and the last component.
    var split: (parent: FSPath, name: FSPath) {
        guard let slash = bytes.lastIndex(of: UInt8(ascii: "/")) else { return (".", self) }
        return (.raw(Array(bytes[..<slash])), .raw(Array(bytes[(slash + 1)...])))
    }

    var description: String {
        let shown = escaped(bytes)
        return shown.count > 60 ? "\(shown.prefix(24))...\(shown.suffix(24))(\(bytes.count)B)" : shown
    }
}

/// Bytes to write, set or compare.
struct Blob: ExpressibleByStringLiteral, CustomStringConvertible {
    var bytes: [UInt8]
    init(stringLiteral value: String) { bytes = Array(value.utf8) }
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    /// `count` bytes of a recognisable, position-dependent pattern.
    static func pattern(_ count: Int, seed: UInt8 = 0) -> Blob {
        Blob((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 8 &+ Int(seed) &* 7 &+ 1) })
    }
    static func repeating(_ byte: Character, _ count: Int) -> Blob { Blob([UInt8](repeating: byte.asciiValue!, count: count)) }
    var description: String { describeContent(bytes) }
}

/// One time argument of utimensat.
enum TimeSpec: CustomStringConvertible {
    case now, omit, at(Int, Int)
    var timespec: timespec {
        switch self {
        case .now: Glibc.timespec(tv_sec: 0, tv_nsec: Int(utimeNowValue))
        case .omit: Glibc.timespec(tv_sec: 0, tv_nsec: Int(utimeOmitValue))
        case .at(let s, let ns): Glibc.timespec(tv_sec: s, tv_nsec: ns)
        }
    }
    var description: String {
        switch self { case .now: "NOW"; case .omit: "OMIT"; case .at(let s, let ns): "\(s).\(ns)" }
    }
}

let utimeNowValue: Int = (1 << 30) - 1
let utimeOmitValue: Int = (1 << 30) - 2

/// Which stat fields an `.stat` op reports beyond type, mode, size, nlink, uid and gid.
struct StatFields: OptionSet, CustomStringConvertible {
    let rawValue: Int
    static let follow = StatFields(rawValue: 1)       // stat, not lstat
    static let mtime = StatFields(rawValue: 2)        // exact, for times set explicitly
    static let atime = StatFields(rawValue: 4)
    static let recentMtime = StatFields(rawValue: 8)  // within a minute of now
    static let recentAtime = StatFields(rawValue: 16)
    static let recentCtime = StatFields(rawValue: 32)
    static let dirSize = StatFields(rawValue: 64)     // report st_size of directories too (normally left out)
    var description: String {
        let names = [(StatFields.follow, "follow"), (.mtime, "mtime"), (.atime, "atime"), (.recentMtime, "recentMtime"),
                     (.recentAtime, "recentAtime"), (.recentCtime, "recentCtime"), (.dirSize, "dirSize")]
        return names.filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }
}

/// One file-system operation. Integer slots name descriptors the runner keeps open between ops.
enum Op: CustomStringConvertible {
    case open(FSPath, Int32, mode: UInt32 = 0o644, slot: Int)
    case close(Int)
    case write(Int, Blob)
    case pwrite(Int, Blob, at: Int64)
    case read(Int, count: Int)
    case pread(Int, count: Int, at: Int64)
    case lseek(Int, Int64, whence: Int32)
    case ftruncate(Int, Int64)
    case fstat(Int)
    case fsync(Int)
    case fdatasync(Int)
    case fchmod(Int, UInt32)
    case futimens(Int, atime: TimeSpec, mtime: TimeSpec)
    case fallocate(Int, mode: Int32, offset: Int64, length: Int64)
    case copyRange(from: Int, fromOffset: Int64?, to: Int, toOffset: Int64?, length: Int)
    case mmapWrite(Int, at: Int64, Blob)       // MAP_SHARED, memcpy, msync(MS_SYNC)
    case mmapRead(Int, at: Int64, count: Int)
    case flock(Int, Int32)
    case ofdLock(Int, type: Int32, start: Int64, length: Int64)    // F_OFD_SETLK
    case posixLock(Int, type: Int32, start: Int64, length: Int64)  // F_SETLK
    case probeFlock(FSPath)                                        // another process tries flock(LOCK_EX|LOCK_NB)
    case probePosixLock(FSPath, start: Int64, length: Int64)       // another process tries F_SETLK F_WRLCK, then F_GETLK
    case writeFile(FSPath, Blob, mode: UInt32 = 0o644)             // O_WRONLY|O_CREAT|O_TRUNC, write, close
    case readFile(FSPath)
    case truncate(FSPath, Int64)
    case fsyncDir(FSPath)
    case mkdir(FSPath, mode: UInt32 = 0o755)
    case rmdir(FSPath)
    case unlink(FSPath)
    case rename(FSPath, FSPath, flags: UInt32 = 0)
    case link(FSPath, FSPath)
    case symlink(Blob, FSPath)
    case readlink(FSPath)
    case mknod(FSPath, mode: UInt32)
    case readdir(FSPath)
    case stat(FSPath, StatFields = [])
    case chmod(FSPath, UInt32)
    case chown(FSPath, uid: UInt32, gid: UInt32)                  // lchown; UInt32.max leaves a field
    case utimens(FSPath, atime: TimeSpec, mtime: TimeSpec, follow: Bool = false)
    case setxattr(FSPath, String, Blob, flags: Int32 = 0)
    case getxattr(FSPath, String, size: Int? = nil)               // nil: ask the size, then read
    case removexattr(FSPath, String)
    case listxattr(FSPath)                                         // user.* names, sorted
    case noteInode(FSPath, String)                                 // remember the inode under a tag
    case checkInode(FSPath, String)                                // "same" or "changed" against the tag
    /// `op` whose native outcome must start with `expected` (checks the test and the runner themselves).
    indirect case expected(Op, String)

    func must(_ expected: String) -> Op { .expected(self, expected) }

    static func create(_ path: FSPath, slot: Int, mode: UInt32 = 0o644) -> Op { .open(path, O_RDWR | O_CREAT, mode: mode, slot: slot) }

    var description: String {
        switch self {
        case .open(let p, let f, let m, let s): "open(\(p), \(openFlagsName(f))\(f & O_CREAT != 0 ? ", 0" + String(m, radix: 8) : "")) -> #\(s)"
        case .close(let s): "close(#\(s))"
        case .write(let s, let b): "write(#\(s), \(b))"
        case .pwrite(let s, let b, let at): "pwrite(#\(s), \(b), at \(at))"
        case .read(let s, let n): "read(#\(s), \(n))"
        case .pread(let s, let n, let at): "pread(#\(s), \(n), at \(at))"
        case .lseek(let s, let o, let w): "lseek(#\(s), \(o), \(["SET", "CUR", "END", "DATA", "HOLE"][Int(w)]))"
        case .ftruncate(let s, let n): "ftruncate(#\(s), \(n))"
        case .fstat(let s): "fstat(#\(s))"
        case .fsync(let s): "fsync(#\(s))"
        case .fdatasync(let s): "fdatasync(#\(s))"
        case .fchmod(let s, let m): "fchmod(#\(s), 0\(String(m, radix: 8)))"
        case .futimens(let s, let a, let m): "futimens(#\(s), atime \(a), mtime \(m))"
        case .fallocate(let s, let m, let o, let l): "fallocate(#\(s), mode \(m), \(o), \(l))"
        case .copyRange(let f, let fo, let t, let to, let l):
            "copy_file_range(#\(f)@\(fo.map(String.init) ?? "pos"), #\(t)@\(to.map(String.init) ?? "pos"), \(l))"
        case .mmapWrite(let s, let at, let b): "mmap-write(#\(s), at \(at), \(b))"
        case .mmapRead(let s, let at, let n): "mmap-read(#\(s), at \(at), \(n))"
        case .flock(let s, let o): "flock(#\(s), \(o))"
        case .ofdLock(let s, let t, let st, let l): "F_OFD_SETLK(#\(s), type \(t), \(st)+\(l))"
        case .posixLock(let s, let t, let st, let l): "F_SETLK(#\(s), type \(t), \(st)+\(l))"
        case .probeFlock(let p): "other process flock -n(\(p))"
        case .probePosixLock(let p, let st, let l): "other process F_SETLK/F_GETLK(\(p), \(st)+\(l))"
        case .writeFile(let p, let b, let m): "writeFile(\(p), \(b), 0\(String(m, radix: 8)))"
        case .readFile(let p): "readFile(\(p))"
        case .truncate(let p, let n): "truncate(\(p), \(n))"
        case .fsyncDir(let p): "fsyncdir(\(p))"
        case .mkdir(let p, let m): "mkdir(\(p), 0\(String(m, radix: 8)))"
        case .rmdir(let p): "rmdir(\(p))"
        case .unlink(let p): "unlink(\(p))"
        case .rename(let a, let b, let f): "rename(\(a), \(b)\(f == 1 ? ", NOREPLACE" : f == 2 ? ", EXCHANGE" : f == 0 ? "" : ", \(f)"))"
        case .link(let a, let b): "link(\(a), \(b))"
        case .symlink(let t, let p): "symlink(\(t) <- \(p))"
        case .readlink(let p): "readlink(\(p))"
        case .mknod(let p, let m): "mknod(\(p), 0\(String(m, radix: 8)))"
        case .readdir(let p): "readdir(\(p))"
        case .stat(let p, let f): "stat(\(p)\(f.isEmpty ? "" : ", " + f.description))"
        case .chmod(let p, let m): "chmod(\(p), 0\(String(m, radix: 8)))"
        case .chown(let p, let u, let g): "lchown(\(p), \(u == .max ? "-1" : "\(u)"), \(g == .max ? "-1" : "\(g)"))"
        case .utimens(let p, let a, let m, let f): "utimensat(\(p), atime \(a), mtime \(m)\(f ? "" : ", NOFOLLOW"))"
        case .setxattr(let p, let n, let v, let f): "setxattr(\(p), \(n), \(v)\(f == 1 ? ", CREATE" : f == 2 ? ", REPLACE" : ""))"
        case .getxattr(let p, let n, let size): "getxattr(\(p), \(n)\(size.map { ", size \($0)" } ?? ""))"
        case .removexattr(let p, let n): "removexattr(\(p), \(n))"
        case .listxattr(let p): "listxattr(\(p))"
        case .noteInode(let p, let t): "noteInode(\(p) as \(t))"
        case .checkInode(let p, let t): "checkInode(\(p) is \(t))"
        case .expected(let op, _): op.description
        }
    }
}

func openFlagsName(_ flags: Int32) -> String {
    var parts = [["O_RDONLY", "O_WRONLY", "O_RDWR", "O_ACCMODE"][Int(flags & O_ACCMODE)]]
    let known: [(Int32, String)] = [(O_CREAT, "CREAT"), (O_EXCL, "EXCL"), (O_TRUNC, "TRUNC"), (O_APPEND, "APPEND"),
                                    (O_DIRECTORY, "DIRECTORY"), (O_NOFOLLOW, "NOFOLLOW"), (O_NONBLOCK, "NONBLOCK")]
    for (bit, name) in known where flags & bit != 0 { parts.append(name) }
    return parts.joined(separator: "|")
}

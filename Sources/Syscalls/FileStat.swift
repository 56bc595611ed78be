#if canImport(Glibc)
import Glibc
#endif

/// The parts of `struct stat` Estuary keeps, with times in nanoseconds since the epoch.
public struct FileStat: Sendable, Equatable {
    public var device: UInt64
    public var inode: UInt64
    public var mode: UInt32
    public var nlink: UInt64
    public var uid: UInt32
    public var gid: UInt32
    public var rdev: UInt64
    public var size: Int64
    public var blocks: Int64
    public var atimeNs: Int64
    public var mtimeNs: Int64
    public var ctimeNs: Int64

    public init(device: UInt64 = 0, inode: UInt64 = 0, mode: UInt32, nlink: UInt64 = 1, uid: UInt32 = 0, gid: UInt32 = 0,
                rdev: UInt64 = 0, size: Int64 = 0, blocks: Int64 = 0, atimeNs: Int64 = 0, mtimeNs: Int64 = 0, ctimeNs: Int64 = 0) {
        self.device = device; self.inode = inode; self.mode = mode; self.nlink = nlink; self.uid = uid; self.gid = gid
        self.rdev = rdev; self.size = size; self.blocks = blocks; self.atimeNs = atimeNs; self.mtimeNs = mtimeNs; self.ctimeNs = ctimeNs
    }

    public init(_ s: stat) {
        self.init(device: UInt64(s.st_dev), inode: UInt64(s.st_ino), mode: UInt32(s.st_mode), nlink: UInt64(s.st_nlink),
                  uid: s.st_uid, gid: s.st_gid, rdev: UInt64(s.st_rdev), size: Int64(s.st_size), blocks: Int64(s.st_blocks),
                  atimeNs: FileStat.nanoseconds(s.st_atim), mtimeNs: FileStat.nanoseconds(s.st_mtim),
                  ctimeNs: FileStat.nanoseconds(s.st_ctim))
    }

    @inlinable static func nanoseconds(_ t: timespec) -> Int64 { Int64(t.tv_sec) &* 1_000_000_000 &+ Int64(t.tv_nsec) }

    public var fileType: FileKind { FileKind(mode: mode) }
    public var isDirectory: Bool { fileType == .directory }
    public var isRegular: Bool { fileType == .regular }
    public var isSymlink: Bool { fileType == .symlink }
}

/// The type bits of a mode, as a closed set.
public enum FileKind: Int, Sendable, Equatable {
    case regular = 1, directory = 2, symlink = 3, fifo = 4, socket = 5, characterDevice = 6, blockDevice = 7, unknown = 0

    public init(mode: UInt32) {
        switch mode & UInt32(S_IFMT) {
        case UInt32(S_IFREG): self = .regular
        case UInt32(S_IFDIR): self = .directory
        case UInt32(S_IFLNK): self = .symlink
        case UInt32(S_IFIFO): self = .fifo
        case UInt32(S_IFSOCK): self = .socket
        case UInt32(S_IFCHR): self = .characterDevice
        case UInt32(S_IFBLK): self = .blockDevice
        default: self = .unknown
        }
    }

    /// The d_type value readdir reports for this kind.
    public var direntType: UInt8 {
        switch self {
        case .regular: 8; case .directory: 4; case .symlink: 10; case .fifo: 1; case .socket: 12
        case .characterDevice: 2; case .blockDevice: 6; case .unknown: 0
        }
    }
}

extension timespec {
    public init(nanoseconds ns: Int64) {
        self.init(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    }
}

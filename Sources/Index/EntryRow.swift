import Syscalls

/// Index identifiers of silos: small integers, each one bit of `EntryRow.dirSilos`.
public typealias SiloID = Int

/// The index's record of one inode and its first name.
public struct EntryRow: Sendable, Equatable {
    public var ino: UInt64
    public var parent: UInt64
    public var name: [UInt8]
    public var kind: FileKind
    public var mode: UInt32
    public var uid: UInt32
    public var gid: UInt32
    public var size: Int64
    public var blocks: Int64
    public var atimeNs: Int64
    public var mtimeNs: Int64
    public var ctimeNs: Int64
    public var nlink: UInt64
    public var rdev: UInt64
    public var silo: SiloID
    public var dirSilos: UInt64
    public var backingInode: UInt64
    public var target: [UInt8]?

    public init(ino: UInt64, parent: UInt64, name: [UInt8], stat: FileStat, silo: SiloID, target: [UInt8]? = nil) {
        self.ino = ino; self.parent = parent; self.name = name
        kind = stat.fileType; mode = stat.mode; uid = stat.uid; gid = stat.gid
        size = stat.size; blocks = stat.blocks; atimeNs = stat.atimeNs; mtimeNs = stat.mtimeNs; ctimeNs = stat.ctimeNs
        nlink = stat.nlink; rdev = stat.rdev; self.silo = silo
        dirSilos = stat.isDirectory ? (1 << UInt64(silo)) : 0
        backingInode = stat.inode; self.target = target
    }

    /// Takes the attributes of `stat`, keeping identity and placement.
    public mutating func apply(_ stat: FileStat) {
        mode = stat.mode; uid = stat.uid; gid = stat.gid; size = stat.size; blocks = stat.blocks
        atimeNs = stat.atimeNs; mtimeNs = stat.mtimeNs; ctimeNs = stat.ctimeNs; nlink = stat.nlink; rdev = stat.rdev
        backingInode = stat.inode
        kind = stat.fileType
    }

    /// Whether `stat` differs from what the index holds in any way a rescan must record.
    /// atime alone is not a change: reading a file must not cost an index write.
    public func differs(from stat: FileStat) -> Bool {
        ctimeNs != stat.ctimeNs || differsIgnoringCtime(from: stat)
    }

    /// `differs` without ctime, for noticing a file changed behind the mount: the silo moves a
    /// file's ctime on operations the index recorded with its own time (a rename, the inode
    /// hint's xattr on a new file), so with ctime every new or renamed file looked changed,
    /// and the periodic freshness check dropped the kernel's cache of all of them.
    public func differsIgnoringCtime(from stat: FileStat) -> Bool {
        mode != stat.mode || uid != stat.uid || gid != stat.gid || size != stat.size || blocks != stat.blocks
            || mtimeNs != stat.mtimeNs || nlink != stat.nlink || rdev != stat.rdev || backingInode != stat.inode
    }

    public func holds(silo id: SiloID) -> Bool {
        kind == .directory ? (dirSilos & (1 << UInt64(id))) != 0 : silo == id
    }

    public var stat: FileStat {
        FileStat(device: 0, inode: ino, mode: mode, nlink: nlink, uid: uid, gid: gid, rdev: rdev, size: size,
                 blocks: blocks, atimeNs: atimeNs, mtimeNs: mtimeNs, ctimeNs: ctimeNs)
    }
}

/// A same-named entry in another silo, hidden by the visible one.
public struct ShadowRow: Sendable, Equatable {
    public var ino: UInt64
    public var silo: SiloID
    public var kind: FileKind
    public var size: Int64
    public var mtimeNs: Int64
    public init(ino: UInt64, silo: SiloID, kind: FileKind, size: Int64, mtimeNs: Int64) {
        self.ino = ino; self.silo = silo; self.kind = kind; self.size = size; self.mtimeNs = mtimeNs
    }
}

/// The index's record of a silo.
public struct SiloRow: Sendable, Equatable {
    public var id: SiloID
    public var name: String
    public var path: String
    public var tier: String
    public var scanGeneration: Int64
    public var scannedAt: Int64?
    public var entries: Int64
    public var health: String
    public var healthReason: String?
}

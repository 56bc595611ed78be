import CFuse3
#if canImport(Glibc)
import Glibc
#endif

/// A time to set: a value, the current time, or no change.
public enum TimeChange: Sendable, Equatable {
    case omit, now
    case nanoseconds(Int64)
}

/// What a setattr request asks to change. Nil fields stay as they are.
public struct SetAttributes: Sendable, Equatable {
    public var mode: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    public var size: Int64?
    public var atime: TimeChange = .omit
    public var mtime: TimeChange = .omit
    /// The kernel asks to drop setuid/setgid (a write or truncate by someone without CAP_FSETID).
    public var killSetuid = false

    public init() {}

    init(_ attr: stat, _ toSet: Int32) {
        let set = UInt32(bitPattern: toSet)
        if set & (1 << 0) != 0 { mode = UInt32(attr.st_mode) }
        if set & (1 << 1) != 0 { uid = attr.st_uid }
        if set & (1 << 2) != 0 { gid = attr.st_gid }
        if set & (1 << 3) != 0 { size = Int64(attr.st_size) }
        if set & (1 << 7) != 0 { atime = .now }
        else if set & (1 << 4) != 0 { atime = .nanoseconds(Int64(attr.st_atim.tv_sec) * 1_000_000_000 + Int64(attr.st_atim.tv_nsec)) }
        if set & (1 << 8) != 0 { mtime = .now }
        else if set & (1 << 5) != 0 { mtime = .nanoseconds(Int64(attr.st_mtim.tv_sec) * 1_000_000_000 + Int64(attr.st_mtim.tv_nsec)) }
        killSetuid = set & ((1 << 11) | (1 << 12) | (1 << 14)) != 0
    }
}

/// The caller of a request, as the kernel identified it.
public struct Caller: Sendable, Equatable {
    public var uid: UInt32
    public var gid: UInt32
    public var pid: Int32
    public init(uid: UInt32, gid: UInt32, pid: Int32) { self.uid = uid; self.gid = gid; self.pid = pid }
}

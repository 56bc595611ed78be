import Synchronization
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// The backing descriptor behind one FUSE file handle, and its only owner: the descriptor is
/// closed once, by `deinit`, when the last reference goes.
///
/// Why a counted reference: the FUSE handle is the descriptor's number, and a tier move points
/// that number at the new copy with dup3 from the mover's thread. If release closed the number
/// while the mover held it, the number could be handed to another open (even the mover's own
/// reopen), and dup3 would repoint an unrelated file. The table holds one reference until
/// release; a move holds its own while it switches, so the number stays this file's until both
/// are done with it.
///
/// Requests on the handle (read, write, fsync, ...) use the number itself: the kernel sends a
/// handle's RELEASE only after every request carrying it has been answered, and only release
/// drops the table's reference.
public final class BackingFile: Sendable {
    public let ino: UInt64
    public let fd: Int32
    /// The flags it was opened with, to reopen it on a new copy.
    let flags: Int32
    /// The silo whose copy the descriptor reads and writes.
    let silo: Atomic<Int>

    init(ino: UInt64, fd: Int32, flags: Int32, silo: Int) {
        self.ino = ino; self.fd = fd; self.flags = flags
        self.silo = Atomic(silo)
    }

    deinit { Sys.close(fd) }
}

/// The open backing files, per inode, so a move can find and switch every one of them.
final class OpenHandles: Sendable {
    private final class Shard: Sendable { let files = Mutex<[UInt64: [Int32: BackingFile]]>([:]) }
    private let shards: [Shard] = (0..<32).map { _ in Shard() }

    @inline(__always)
    private func shard(_ ino: UInt64) -> Shard { shards[Int(ino % 32)] }

    /// Takes ownership of `fd`, an open of `ino`'s copy on `silo`.
    func add(_ ino: UInt64, fd: Int32, flags: Int32, silo: Int) {
        let file = BackingFile(ino: ino, fd: fd, flags: flags, silo: silo)
        shard(ino).files.withLock { $0[ino, default: [:]][fd] = file }
    }

    /// Drops the table's reference: the descriptor closes now, or when a move holding it lets go.
    func remove(_ ino: UInt64, fd: Int32) {
        let file = shard(ino).files.withLock { t -> BackingFile? in
            let file = t[ino]?.removeValue(forKey: fd)
            if t[ino]?.isEmpty == true { t.removeValue(forKey: ino) }
            return file
        }
        _ = file   // released here, outside the lock: a close may take a while
    }

    /// The silo whose copy the handle `fd` of `ino` uses now.
    func silo(_ ino: UInt64, fd: Int32) -> Int? {
        shard(ino).files.withLock { $0[ino]?[fd]?.silo.load(ordering: .acquiring) }
    }

    /// Every open backing file, for the recovery after a fence.
    func all() -> [BackingFile] { shards.flatMap { $0.files.withLock { $0.values.flatMap { Array($0.values) } } } }

    func files(_ ino: UInt64) -> [BackingFile] { shard(ino).files.withLock { Array(($0[ino] ?? [:]).values) } }
}

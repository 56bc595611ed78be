import CCounters
import CShims
import Index
import Silos
import Syscalls
#if canImport(Glibc)
import Glibc
#endif

/// What the mover needs from the namespace: gates on writes, the current row, directories in
/// a silo, and the switch of open handles to a new copy.
extension Namespace {
    public func beginMove(_ ino: UInt64, extentSize: Int) -> MoveGate { moves.open(ino, extentSize: extentSize) }
    public func endMove(_ ino: UInt64) { moves.close(ino) }
    public func moveGate(_ ino: UInt64) -> MoveGate? { moves.gate(ino) }
    /// A gate on `ino` for a move another node runs; nil when the file has a gate already.
    public func beginPeerMove(_ ino: UInt64, extentSize: Int) -> MoveGate? { moves.openIfAbsent(ino, extentSize: extentSize) }

    /// The current row of `ino`: memory first (it has the newest size), then the index.
    public func currentRow(_ ino: UInt64) throws(Errno) -> EntryRow { try entry(ino) }

    /// The directory holding `row`'s first name, opened (O_PATH) in `silo`, created there if asked.
    public func parentDirectory(of row: EntryRow, in silo: Silo, create: Bool) throws(Errno) -> Int32 {
        try openDirectory(try entry(row.parent), in: silo, create: create)
    }

    /// Opens the new copy once for every open handle of `ino`, with each handle's flags, through
    /// `reopen` (given the flags, returns a descriptor or throws). Runs while the move gate holds
    /// writes and opens back and before the index names the new copy: a handle that cannot be
    /// reopened stops the move while the source is still the file.
    public func prepareHandleSwitch(_ ino: UInt64, reopen: (Int32) throws(Errno) -> Int32) throws(Errno) -> HandleSwitch {
        var prepared = HandleSwitch()
        for file in handles.files(ino) {
            let fresh = try reopen(BackingOpenFlags.open(file.flags, truncate: false))
            prepared.pairs.append((file, fresh))
        }
        return prepared
    }

    /// Points every prepared handle at the new copy (dup3 onto its number, which the prepared
    /// switch keeps open however a release races with it) and takes `row`, now naming the new
    /// copy, as current. Returns how many handles could not be switched: those still read and
    /// write the old copy, which must then stay.
    public func switchHandles(_ prepared: consuming HandleSwitch, to row: EntryRow) -> Int {
        var failed = 0
        for (file, fresh) in prepared.pairs {
            if estuary_dup_cloexec(fresh, file.fd) < 0 {
                logger.error("inode \(file.ino): could not point handle \(file.fd) at the new copy: \(Errno.current)")
                failed += 1
            } else {
                file.silo.store(row.silo, ordering: .releasing)
                estuary_metrics_note_fd(file.fd, Int32(row.silo))   // bytes through it count for the new silo
            }
        }
        prepared.closeFresh()
        if let old = nodes.refresh(row), let change = Namespace.cachedChange(from: old, to: row) { report([change]) }
        return failed
    }

    /// How many open handles of `ino` still use its copy on `silo`.
    public func handles(of ino: UInt64, on silo: SiloID) -> Int {
        handles.files(ino).filter { $0.silo.load(ordering: .acquiring) == silo }.count
    }

    public func addAttributeProvider(_ provider: @escaping @Sendable (EntryRow, String) -> [UInt8]?) {
        attributeProviders.withLock { $0.append(provider) }
    }

    /// Resolves a path inside the namespace ("a/b/c", no leading slash) to its row.
    public func resolve(_ path: [UInt8]) throws(Errno) -> EntryRow {
        var row = try entry(1)
        for component in path.split(separator: UInt8(ascii: "/")) where !component.isEmpty {
            guard row.kind == .directory else { throw Errno.notDirectory }
            let name = Array(component)
            guard let next = try name.withUnsafeBufferPointer({ buffer throws(Errno) in try existing(parent: row.ino, name: buffer) }) else {
                throw Errno.noSuchFileOrDirectory
            }
            row = next
        }
        return row
    }

    /// Every regular file at or below `row`, for tree moves.
    public func files(under row: EntryRow) throws(Errno) -> [EntryRow] {
        if row.kind == .regular { return [row] }
        guard row.kind == .directory else { return [] }
        var result: [EntryRow] = []
        var pending = [row.ino]
        do {
            try index.read { tx throws(IndexError) in
                while let dir = pending.popLast() {
                    for child in try tx.firstNames(in: dir).values {
                        if child.kind == .directory { pending.append(child.ino) }
                        else if child.kind == .regular { result.append(child) }
                    }
                }
            }
        } catch { throw indexFailure(error, "tree walk") }
        return result
    }
}

/// Descriptors of a file's new copy, one per open handle, waiting for the switch. Whatever is
/// not switched is closed when this goes.
public struct HandleSwitch: ~Copyable {
    fileprivate var pairs: [(file: BackingFile, fresh: Int32)] = []

    fileprivate init() {}

    fileprivate mutating func closeFresh() {
        for pair in pairs { Sys.close(pair.fresh) }
        pairs = []
    }

    deinit { for pair in pairs { Sys.close(pair.fresh) } }
}

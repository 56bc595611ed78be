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

    /// The current row of `ino`: memory first (it has the newest size), then the index.
    public func currentRow(_ ino: UInt64) throws(Errno) -> EntryRow { try entry(ino) }

    /// The directory holding `row`'s first name, opened (O_PATH) in `silo`, created there if asked.
    public func parentDirectory(of row: EntryRow, in silo: Silo, create: Bool) throws(Errno) -> Int32 {
        try openDirectory(try entry(row.parent), in: silo, create: create)
    }

    /// Points every open handle of `ino` at `row`'s copy (now in another silo) and takes the
    /// row as current. Runs while the move gate holds writers back, so no write is lost.
    public func switchHandles(_ ino: UInt64, to row: EntryRow) throws(Errno) {
        let silo = try silo(of: row)
        let path = try relativePath(of: row)
        for (fd, flags) in handles.handles(ino) {
            let fresh = try silo.open(path, flags: BackingOpenFlags.open(flags, truncate: false))
            if estuary_dup_cloexec(fresh, fd) < 0 { let e = Errno.current; Sys.close(fresh); throw e }
            Sys.close(fresh)
        }
        if let old = nodes.refresh(row), let change = Namespace.cachedChange(from: old, to: row) { report([change]) }
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

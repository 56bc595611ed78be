import Index
import Synchronization
import Syscalls

/// One entry of a directory listing, as snapshot at opendir.
public typealias DirectoryItem = ListedName

/// Open directory handles: each holds the listing taken when it was opened, so that offsets
/// stay valid however the directory changes while it is read.
final class DirectoryHandles: Sendable {
    private let table = Mutex<[UInt64: [DirectoryItem]]>([:])
    private let next = Atomic<UInt64>(1)

    func open(_ items: [DirectoryItem]) -> UInt64 {
        let id = next.wrappingAdd(1, ordering: .relaxed).oldValue
        table.withLock { $0[id] = items }
        return id
    }

    func items(_ id: UInt64) -> [DirectoryItem]? { table.withLock { $0[id] } }
    func release(_ id: UInt64) { table.withLock { _ = $0.removeValue(forKey: id) } }
}

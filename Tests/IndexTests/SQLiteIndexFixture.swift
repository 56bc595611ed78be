import Foundation
import Index
import Syscalls

/// A SQLite index in a temporary directory of its own, removed with the fixture; rows get the
/// directory's own stat as their attributes.
final class SQLiteIndexFixture {
    let root: String
    let index: IndexStore
    let stat: FileStat

    init(_ label: String) throws {
        root = NSTemporaryDirectory() + "estuary-\(label)-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        index = try IndexStore(path: root + "/index.db")
        stat = try Sys.statPath(root)
    }

    /// A file row in the root directory.
    func row(_ name: String, ino: UInt64 = 0) -> EntryRow { EntryRow(ino: ino, parent: 1, name: Array(name.utf8), stat: stat, silo: 0) }

    func entry(_ ino: UInt64) throws -> EntryRow? { try index.query { tx throws(IndexError) in try tx.entry(ino) } }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

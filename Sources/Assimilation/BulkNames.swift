import Index

/// What a bulk load (a first scan into an empty index, nobody else writing) knows of the rows
/// it wrote, so that it asks the index for nothing by name: the index's `(parent, name)` index
/// is dropped meanwhile and built by sorting at the end, and without it a lookup by name
/// would read the whole table.
///
/// Names are kept as a 64-bit hash of (parent, name) with the inode number: about 25 bytes a
/// row. A hash only narrows: the caller reads each candidate row by its number (the table's
/// key) and compares parent and name, so a collision costs a read, never a wrong answer. A
/// row's old name after a rename stays listed and fails that comparison.
final class BulkNames {
    private var first: [Int: UInt64] = [:]
    /// Further inode numbers under a hash that `first` already holds (different names).
    private var more: [Int: [UInt64]] = [:]
    /// Names of the directory rows each directory holds: its link count is 2 + their number,
    /// as a whole listing's count would be, without counting rows in SQL. Names, not a count,
    /// so that a chunk replayed after a failed transaction adds nothing twice.
    private var subdirectories: [UInt64: Set<[UInt8]>] = [:]

    private func key(_ parent: UInt64, _ name: [UInt8]) -> Int {
        var hasher = Hasher()
        hasher.combine(parent)
        name.withUnsafeBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    func add(parent: UInt64, name: [UInt8], ino: UInt64) {
        let k = key(parent, name)
        if let existing = first.updateValue(ino, forKey: k), existing != ino {
            first[k] = existing
            more[k, default: []].append(ino)
        }
    }

    /// Inode numbers that may have `name` in `parent` (usually none or one).
    func candidates(parent: UInt64, name: [UInt8]) -> [UInt64] {
        let k = key(parent, name)
        guard let ino = first[k] else { return [] }
        return [ino] + (more[k] ?? [])
    }

    func addSubdirectory(_ name: [UInt8], of parent: UInt64) { subdirectories[parent, default: []].insert(name) }

    func linkCount(of directory: UInt64) -> UInt64 { 2 + UInt64(subdirectories[directory]?.count ?? 0) }
}

/// The columns a change of attributes (chmod, chown, truncate, utimens) writes. Why not the
/// whole row: another node may change other attributes of the same file at the same instant,
/// and a row read before that change and written after it would undo it (node A's chmod
/// reverting node B's chown). The change time is always written.
public struct AttributeColumns: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let mode = AttributeColumns(rawValue: 1)
    /// uid and gid.
    public static let owner = AttributeColumns(rawValue: 2)
    /// size and blocks.
    public static let size = AttributeColumns(rawValue: 4)
    public static let atime = AttributeColumns(rawValue: 8)
    public static let mtime = AttributeColumns(rawValue: 16)

    /// The column names and how many values each takes, in the order their values are bound.
    var names: [String] {
        var names: [String] = []
        if contains(.mode) { names.append("mode") }
        if contains(.owner) { names += ["uid", "gid"] }
        if contains(.size) { names += ["size", "blocks"] }
        if contains(.atime) { names.append("atime") }
        if contains(.mtime) { names.append("mtime") }
        names.append("ctime")
        return names
    }

    /// The values of `names` in `row`, in the same order.
    func values(of row: EntryRow) -> [Int64] {
        var values: [Int64] = []
        if contains(.mode) { values.append(Int64(row.mode)) }
        if contains(.owner) { values += [Int64(row.uid), Int64(row.gid)] }
        if contains(.size) { values += [row.size, row.blocks] }
        if contains(.atime) { values.append(row.atimeNs) }
        if contains(.mtime) { values.append(row.mtimeNs) }
        values.append(row.ctimeNs)
        return values
    }
}

extension EntryRow {
    /// Takes `columns` (and the change time) from `other`, keeping the rest of this row.
    public mutating func take(_ columns: AttributeColumns, from other: EntryRow) {
        if columns.contains(.mode) { mode = other.mode }
        if columns.contains(.owner) { uid = other.uid; gid = other.gid }
        if columns.contains(.size) { size = other.size; blocks = other.blocks }
        if columns.contains(.atime) { atimeNs = other.atimeNs }
        if columns.contains(.mtime) { mtimeNs = other.mtimeNs }
        ctimeNs = other.ctimeNs
    }
}

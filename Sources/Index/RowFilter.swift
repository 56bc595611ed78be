import Syscalls

/// Tests on an entry's own columns that an engine applies while it reads the table, so a
/// query over every entry decodes only the rows that pass: kind, size and mtime bounds, all
/// strict, each optional, and any `condition` on those and the owner, times and silo.
/// A query still applies its own tests afterwards; this only narrows.
public struct RowFilter: Sendable, Equatable {
    public var kind: FileKind?
    /// size > sizeAbove
    public var sizeAbove: Int64?
    /// size < sizeBelow
    public var sizeBelow: Int64?
    /// mtime < mtimeBeforeNs
    public var mtimeBeforeNs: Int64?
    /// mtime > mtimeAfterNs
    public var mtimeAfterNs: Int64?
    /// A further test the rows must pass (an expression's tests that have columns).
    public var condition = RowCondition.always(true)

    public init() {}

    public func holds(_ row: EntryRow) -> Bool {
        if let kind, row.kind != kind { return false }
        if let sizeAbove, row.size <= sizeAbove { return false }
        if let sizeBelow, row.size >= sizeBelow { return false }
        if let mtimeBeforeNs, row.mtimeNs >= mtimeBeforeNs { return false }
        if let mtimeAfterNs, row.mtimeNs <= mtimeAfterNs { return false }
        return condition.holds(row)
    }

    /// Keeps the tighter of each bound.
    public mutating func narrow(sizeAbove a: Int64? = nil, sizeBelow b: Int64? = nil,
                                mtimeBeforeNs c: Int64? = nil, mtimeAfterNs d: Int64? = nil) {
        if let a { sizeAbove = max(sizeAbove ?? a, a) }
        if let b { sizeBelow = min(sizeBelow ?? b, b) }
        if let c { mtimeBeforeNs = min(mtimeBeforeNs ?? c, c) }
        if let d { mtimeAfterNs = max(mtimeAfterNs ?? d, d) }
    }

    /// The conditions as SQL on the entries table's columns, with parameters numbered from
    /// `first` in `placeholder`'s style ("?" + n for SQLite, "$" + n for PostgreSQL).
    func sql(first: Int, placeholder: String) -> (condition: String, values: [Int64]) {
        var parts: [String] = []
        var values: [Int64] = []
        func add(_ column: String, _ op: String, _ value: Int64?) {
            guard let value else { return }
            values.append(value)
            parts.append("\(column) \(op) \(placeholder)\(first + values.count - 1)")
        }
        add("kind", "=", kind.map { Int64($0.rawValue) })
        add("size", ">", sizeAbove)
        add("size", "<", sizeBelow)
        add("mtime", "<", mtimeBeforeNs)
        add("mtime", ">", mtimeAfterNs)
        if condition != .always(true) {
            parts.append("(\(condition.sql(first: first, placeholder: placeholder, values: &values)))")
        }
        return (parts.isEmpty ? "1 = 1" : parts.joined(separator: " AND "), values)
    }
}

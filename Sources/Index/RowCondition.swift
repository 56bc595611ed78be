/// A test on an entry's own integer columns, with `and`, `or` and `not`, that an engine can
/// apply while it reads the table (`RowFilter.condition`): a query's expression translated as
/// far as its tests have columns, so a scan of every entry decodes only the rows that pass.
/// Comparisons are on the stored 64-bit values, exactly as `holds` evaluates them.
public indirect enum RowCondition: Sendable, Equatable {
    case always(Bool)
    case compare(Column, Operator, Int64)
    /// The column's value is one of these (none: false).
    case oneOf(Column, [Int64])
    case not(RowCondition)
    case and([RowCondition])
    case or([RowCondition])

    public enum Column: String, Sendable, CaseIterable {
        case kind, uid, gid, size, atime, mtime, ctime, silo
    }

    public enum Operator: String, Sendable, CaseIterable {
        case equal = "=", notEqual = "<>", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    }

    public func holds(_ row: EntryRow) -> Bool {
        switch self {
        case .always(let value): value
        case .compare(let column, let op, let value): op.holds(column.value(of: row), value)
        case .oneOf(let column, let values): values.contains(column.value(of: row))
        case .not(let operand): !operand.holds(row)
        case .and(let operands): operands.allSatisfy { $0.holds(row) }
        case .or(let operands): operands.contains { $0.holds(row) }
        }
    }

    /// `and`, folding constants: a false operand makes it false, true operands drop out.
    public static func all(_ operands: [RowCondition]) -> RowCondition { fold(operands, deciding: false) }

    /// `or`, folding constants: a true operand makes it true, false operands drop out.
    public static func any(_ operands: [RowCondition]) -> RowCondition { fold(operands, deciding: true) }

    /// An `and` (`deciding` false) or an `or` (true): the deciding constant decides the whole,
    /// the other drops out, and nested operations of the same kind are flattened.
    private static func fold(_ operands: [RowCondition], deciding: Bool) -> RowCondition {
        var kept: [RowCondition] = []
        for operand in operands {
            switch operand {
            case .always(let value):
                if value == deciding { return .always(deciding) }
            case .and(let inner) where !deciding: kept.append(contentsOf: inner)
            case .or(let inner) where deciding: kept.append(contentsOf: inner)
            default: kept.append(operand)
            }
        }
        if kept.isEmpty { return .always(!deciding) }
        return kept.count == 1 ? kept[0] : deciding ? .or(kept) : .and(kept)
    }

    public static func negation(_ operand: RowCondition) -> RowCondition {
        switch operand {
        case .always(let value): .always(!value)
        case .not(let inner): inner
        default: .not(operand)
        }
    }

    /// The condition as SQL on the entries table's columns; its values are appended to
    /// `values`, the one at index i named `placeholder` + (first + i).
    func sql(first: Int, placeholder: String, values: inout [Int64]) -> String {
        switch self {
        case .always(let value):
            return value ? "1 = 1" : "1 = 0"
        case .compare(let column, let op, let value):
            values.append(value)
            return "\(column.rawValue) \(op.rawValue) \(placeholder)\(first + values.count - 1)"
        case .oneOf(let column, let list):
            if list.isEmpty { return "1 = 0" }
            // Constants, not parameters: a short list of small numbers (kinds, silo ids).
            return "\(column.rawValue) IN (\(list.map(String.init).joined(separator: ", ")))"
        case .not(let operand):
            return "NOT (\(operand.sql(first: first, placeholder: placeholder, values: &values)))"
        case .and(let operands):
            return operands.isEmpty ? "1 = 1" : operands.map { "(\($0.sql(first: first, placeholder: placeholder, values: &values)))" }.joined(separator: " AND ")
        case .or(let operands):
            return operands.isEmpty ? "1 = 0" : operands.map { "(\($0.sql(first: first, placeholder: placeholder, values: &values)))" }.joined(separator: " OR ")
        }
    }
}

extension RowCondition.Column {
    /// The value as the entries table stores it.
    func value(of row: EntryRow) -> Int64 {
        switch self {
        case .kind: Int64(row.kind.rawValue)
        case .uid: Int64(row.uid)
        case .gid: Int64(row.gid)
        case .size: row.size
        case .atime: row.atimeNs
        case .mtime: row.mtimeNs
        case .ctime: row.ctimeNs
        case .silo: Int64(row.silo)
        }
    }
}

extension RowCondition.Operator {
    func holds(_ lhs: Int64, _ rhs: Int64) -> Bool {
        switch self {
        case .equal: lhs == rhs
        case .notEqual: lhs != rhs
        case .less: lhs < rhs
        case .lessOrEqual: lhs <= rhs
        case .greater: lhs > rhs
        case .greaterOrEqual: lhs >= rhs
        }
    }
}

import Index
import Syscalls
#if ADMINCLI_OBJECTIVES
import Objectives

/// A `--where` expression as a condition the index engine applies while it reads the table
/// (`RowCondition`), so a query over every entry decodes and evaluates only the rows that can
/// match. Size, owner, kind, the three times, tier and silo translate exactly; a test with no
/// column (tags, pin, heat, name, path) cannot, and the translation then bounds the expression:
/// `over` holds for every row the expression holds for (what the engine may keep), `under` for
/// none that it does not (what a `not` around it needs). Rows that pass are still evaluated
/// against the whole expression.
enum EngineCondition {
    struct Bounds: Equatable {
        var over: RowCondition
        var under: RowCondition
        static let unknown = Bounds(over: .always(true), under: .always(false))
        static func exact(_ c: RowCondition) -> Bounds { Bounds(over: c, under: c) }
    }

    static func bounds(_ e: ObjectiveExpression, now: Int64, silos: [SiloID: SiloRow]) -> Bounds {
        switch e {
        case .constant(let value): return .exact(.always(value))
        case .not(let operand):
            let inner = bounds(operand, now: now, silos: silos)
            return Bounds(over: .negation(inner.under), under: .negation(inner.over))
        case .and(let operands):
            let parts = operands.map { bounds($0, now: now, silos: silos) }
            return Bounds(over: .all(parts.map(\.over)), under: .all(parts.map(\.under)))
        case .or(let operands):
            let parts = operands.map { bounds($0, now: now, silos: silos) }
            return Bounds(over: .any(parts.map(\.over)), under: .any(parts.map(\.under)))
        case .size(let comparison, let bytes):
            return .exact(.compare(.size, op(comparison), bytes))
        case .owner(let field, let comparison, let id):
            return .exact(.compare(field == .uid ? .uid : .gid, op(comparison), Int64(id)))
        case .kind(let equality, let kind):
            let c = kindCondition(kind)
            return .exact(equality == .equal ? c : .negation(c))
        case .age(let field, let comparison, let seconds):
            return age(field, comparison, seconds, now: now).map(Bounds.exact) ?? .unknown
        case .text(.tier, let test):
            return .exact(siloCondition(silos) { test.holds(for: $0?.tier ?? "") })
        case .text(.silo, let test):
            return .exact(siloCondition(silos) { test.holds(for: $0?.name ?? "") })
        case .text, .pinned, .hasTag, .heat:
            return .unknown
        }
    }

    private static func op(_ c: Comparison) -> RowCondition.Operator {
        switch c {
        case .equal: .equal
        case .notEqual: .notEqual
        case .less: .less
        case .lessOrEqual: .lessOrEqual
        case .greater: .greater
        case .greaterOrEqual: .greaterOrEqual
        }
    }

    /// The stored kinds `ObjectiveFilter.kind` maps to `kind`; every other stored value
    /// (devices, and anything the index holds that no FileKind names) is `other`.
    private static func kindCondition(_ kind: FileFacts.Kind) -> RowCondition {
        let named: [(FileKind, FileFacts.Kind)] = [(.regular, .file), (.directory, .directory), (.symlink, .symlink),
                                                   (.fifo, .fifo), (.socket, .socket)]
        if kind == .other { return .negation(.oneOf(.kind, named.map { Int64($0.0.rawValue) })) }
        return .oneOf(.kind, named.filter { $0.1 == kind }.map { Int64($0.0.rawValue) })
    }

    /// Rows whose silo passes `test` (given the silo's row, nil for a silo the index does not
    /// list, whose facts are empty text).
    private static func siloCondition(_ silos: [SiloID: SiloRow], _ test: (SiloRow?) -> Bool) -> RowCondition {
        let ids = silos.keys.sorted()
        let passing = ids.filter { test(silos[$0]) }.map(Int64.init)
        if !test(nil) { return .oneOf(.silo, passing) }
        return .negation(.oneOf(.silo, ids.filter { !test(silos[$0]) }.map(Int64.init)))
    }

    /// `field`'s age (now minus the time in whole seconds, rounded down) compared with
    /// `seconds`, as bounds on the stored nanoseconds; nil where the arithmetic overflows.
    private static func age(_ field: TimeField, _ comparison: Comparison, _ seconds: Int64, now: Int64) -> RowCondition? {
        let column: RowCondition.Column = switch field { case .atime: .atime; case .mtime: .mtime; case .ctime: .ctime }
        // age cmp s  <=>  t cmp' k  with t the whole seconds and k = now - s; t < k <=> ns < k * 1e9.
        let (k, o1) = now.subtractingReportingOverflow(seconds)
        let (next, o2) = k.addingReportingOverflow(1)
        let (low, o3) = k.multipliedReportingOverflow(by: 1_000_000_000)
        let (high, o4) = next.multipliedReportingOverflow(by: 1_000_000_000)
        guard !(o1 || o2 || o3 || o4) else { return nil }
        let equal = RowCondition.all([.compare(column, .greaterOrEqual, low), .compare(column, .less, high)])
        switch comparison {
        case .greater: return .compare(column, .less, low)            // t < k
        case .greaterOrEqual: return .compare(column, .less, high)    // t <= k
        case .less: return .compare(column, .greaterOrEqual, high)    // t > k
        case .lessOrEqual: return .compare(column, .greaterOrEqual, low)   // t >= k
        case .equal: return equal
        case .notEqual: return .negation(equal)
        }
    }
}
#endif

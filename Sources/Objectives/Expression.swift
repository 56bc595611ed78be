/// A parsed `where` expression. Each case carries only values the parser has
/// already checked (a size in bytes, an age in seconds, a compiled glob), so
/// evaluation never has to fail or re-interpret text.
///
/// `and`/`or` hold lists rather than pairs: a long chain like
/// `a or b or c ...` then stays one level deep, and the depth of the tree is
/// bounded by the parser's nesting limit, which keeps every recursive walk
/// (evaluation, printing, equality) far from the stack's end.
public indirect enum Expression: Sendable, Equatable {
    /// `true` / `false` written as the whole expression or a part of it.
    case constant(Bool)
    case not(Expression)
    case and([Expression])
    case or([Expression])
    /// `pinned`: the file has an explicit pin.
    case pinned
    /// `has tag.NAME`
    case hasTag(String)
    /// `path`, `name`, `tier`, `silo`, `tag.NAME` against a string or glob.
    case text(TextField, TextTest)
    /// `type == dir`
    case kind(Equality, FileFacts.Kind)
    /// `size > 1G`, in bytes.
    case size(Comparison, Int64)
    /// `mtime > 30d`: compares the file's age (now minus the timestamp) with
    /// a duration in seconds, so `>` means "older than" and `<` "within".
    case age(TimeField, Comparison, Int64)
    /// `uid == 1000`, `gid == 100`
    case owner(OwnerField, Comparison, UInt32)
    /// `heat > 10.5`
    case heat(Comparison, Double)
}

public enum TextField: Sendable, Hashable {
    case path, name, tier, silo
    /// The tag's name without the "user." prefix.
    case tag(String)
}

public enum TextTest: Sendable, Equatable {
    case equal(String)
    /// Also true when a tag is missing, so that `a != b` is always
    /// `not (a == b)` and the two can be swapped without surprises.
    case notEqual(String)
    /// `~`: the whole value matches the glob.
    case matches(Glob)
}

public enum Equality: String, Sendable, CaseIterable {
    case equal = "==", notEqual = "!="
}

public enum Comparison: String, Sendable, CaseIterable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="

    func holds<T: Comparable>(_ lhs: T, _ rhs: T) -> Bool {
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

public enum TimeField: String, Sendable, CaseIterable {
    case atime, mtime, ctime
}

public enum OwnerField: String, Sendable, CaseIterable {
    case uid, gid
}

/// An unambiguous name for `Expression`: Foundation (macOS 15+, and
/// swift-foundation on Linux) also exports an `Expression` type, so a file
/// importing both must write `Objectives.Expression` or this alias.
public typealias ObjectiveExpression = Expression

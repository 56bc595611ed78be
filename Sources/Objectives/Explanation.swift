extension Expression {
    /// Why the expression matched the file or not, one line per condition,
    /// for `estuary objectives explain`:
    ///
    ///     tag.project == "apollo": true (tag.project is "apollo")
    ///     size > 1G: false (size is 12 MiB)
    ///
    /// A top-level `and`/`or` lists its operands directly (its verdict is
    /// what `evaluate` returns); nested groups and `not` get a line of their
    /// own with their operands indented below. Every operand is shown, even
    /// those evaluation would have skipped, because the question being
    /// answered is usually "which part failed?".
    public func explain(_ facts: FileFacts, now: Int64) -> [String] {
        var lines: [String] = []
        switch self {
        case .and(let operands) where !operands.isEmpty, .or(let operands) where !operands.isEmpty:
            for operand in operands { operand.explain(facts, now: now, depth: 0, into: &lines) }
        default:
            explain(facts, now: now, depth: 0, into: &lines)
        }
        return lines
    }

    /// Recursion only; the line itself is built elsewhere so that this
    /// frame stays small for deeply nested trees.
    private func explain(_ facts: FileFacts, now: Int64, depth: Int, into lines: inout [String]) {
        lines.append(line(facts, now: now, depth: depth))
        switch self {
        case .not(let operand):
            operand.explain(facts, now: now, depth: depth + 1, into: &lines)
        case .and(let operands), .or(let operands):
            for operand in operands { operand.explain(facts, now: now, depth: depth + 1, into: &lines) }
        default:
            break
        }
    }

    private func line(_ facts: FileFacts, now: Int64, depth: Int) -> String {
        let indent = String(repeating: "  ", count: depth)
        let detail = detail(facts, now: now).map { " (\($0))" } ?? ""
        return "\(indent)\(self): \(evaluate(facts, now: now))\(detail)"
    }

    /// The fact the condition looked at, or nil for pure logic.
    private func detail(_ facts: FileFacts, now: Int64) -> String? {
        switch self {
        case .constant, .not, .and, .or:
            return nil
        case .pinned:
            return facts.pinned ? "the file is pinned" : "the file is not pinned"
        case .hasTag(let name):
            return Self.describe(.tag(name), facts.tags[name])
        case .text(let field, _):
            return Self.describe(field, field.value(in: facts))
        case .kind:
            return "type is \(facts.kind.label)"
        case .size:
            return "size is \(Formatting.humanSize(facts.size))"
        case .age(let field, _, _):
            let age = field.age(of: facts, now: now)
            if age == 0 { return "\(field.rawValue) is now" }
            if age < 0 { return "\(field.rawValue) is \(Formatting.humanAge(age)) in the future" }
            return "\(field.rawValue) was \(Formatting.humanAge(age)) ago"
        case .owner(let field, _, _):
            return "\(field.rawValue) is \(field.value(in: facts))"
        case .heat:
            return "heat is \(Formatting.number(facts.heat))"
        }
    }

    private static func describe(_ field: TextField, _ value: String?) -> String {
        guard let value else { return "\(field.label) is not set" }
        return "\(field.label) is \(Formatting.quoted(value))"
    }
}

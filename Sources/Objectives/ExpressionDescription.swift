/// Prints an expression back in canonical form: single spaces, quoted
/// strings, sizes and ages in their shortest exact unit, and parentheses
/// only where they change (or came from) the grouping. Parsing the output
/// gives back an equal expression.
extension Expression: CustomStringConvertible {
    public var description: String {
        var text = ""
        write(to: &text)
        return text
    }

    // The recursive part handles only the logic nodes and appends to one
    // buffer; leaves are printed by a separate function so that their many
    // locals do not swell every recursive frame (debug builds give each
    // local its own stack slot, and a tree can be ~512 nodes deep).
    private func write(to text: inout String) {
        switch self {
        case .not(let operand):
            text += "not "
            operand.write(to: &text, parenthesized: operand.isAnd || operand.isOr)
        case .and(let operands) where !operands.isEmpty:
            // A nested `and` only arises from explicit parentheses; keeping
            // them makes printing and re-parsing an exact round trip.
            for (index, operand) in operands.enumerated() {
                if index > 0 { text += " and " }
                operand.write(to: &text, parenthesized: operand.isAnd || operand.isOr)
            }
        case .or(let operands) where !operands.isEmpty:
            for (index, operand) in operands.enumerated() {
                if index > 0 { text += " or " }
                operand.write(to: &text, parenthesized: operand.isOr)
            }
        default:
            text += leafDescription
        }
    }

    private func write(to text: inout String, parenthesized: Bool) {
        if parenthesized { text += "(" }
        write(to: &text)
        if parenthesized { text += ")" }
    }

    /// Conditions, constants, and the empty `and`/`or` (true and false).
    var leafDescription: String {
        switch self {
        case .constant(let value):
            return value ? "true" : "false"
        case .and:
            return "true"
        case .or:
            return "false"
        case .not:
            return description
        case .pinned:
            return "pinned"
        case .hasTag(let name):
            return "has tag.\(name)"
        case .text(let field, let test):
            switch test {
            case .equal(let value): return "\(field.label) == \(Formatting.quoted(value))"
            case .notEqual(let value): return "\(field.label) != \(Formatting.quoted(value))"
            case .matches(let glob): return "\(field.label) ~ \(Formatting.quoted(glob.pattern))"
            }
        case .kind(let equality, let kind):
            return "type \(equality.rawValue) \(kind.label)"
        case .size(let comparison, let bytes):
            return "size \(comparison.rawValue) \(Formatting.size(bytes))"
        case .age(let field, let comparison, let seconds):
            return "\(field.rawValue) \(comparison.rawValue) \(Formatting.duration(seconds))"
        case .owner(let field, let comparison, let id):
            return "\(field.rawValue) \(comparison.rawValue) \(id)"
        case .heat(let comparison, let value):
            return "heat \(comparison.rawValue) \(Formatting.number(value))"
        }
    }

    var isAnd: Bool { if case .and = self { true } else { false } }
    var isOr: Bool { if case .or = self { true } else { false } }
}

extension TextField {
    /// The field as written in an expression: "path", "tag.project".
    public var label: String {
        switch self {
        case .path: "path"
        case .name: "name"
        case .tier: "tier"
        case .silo: "silo"
        case .tag(let name): "tag.\(name)"
        }
    }
}

extension FileFacts.Kind {
    /// The spelling used after `type ==`.
    public var label: String {
        self == .directory ? "dir" : rawValue
    }
}

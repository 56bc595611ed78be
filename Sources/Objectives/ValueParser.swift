/// The right-hand side of `FIELD OP VALUE`, interpreted by the field: the
/// same token `30m` is 30 minutes for `mtime` and 30 MiB for `size`.
enum ValueParser {
    /// Shown with every age problem, because which way `<` and `>` point is
    /// the part people get wrong.
    static let ageSemantics = "mtime > 30d means older than 30 days, atime < 12h means within the last 12 hours"

    private static let kindNames: [String: FileFacts.Kind] = [
        "file": .file, "dir": .directory, "directory": .directory, "symlink": .symlink,
        "fifo": .fifo, "socket": .socket, "other": .other,
    ]

    /// `comparison` is nil for `~`.
    static func condition(_ stream: inout TokenStream, field: ConditionParser.Field, name: String,
                          comparison: Comparison?) throws(ObjectiveError) -> Expression {
        let token = stream.current
        let expression: Expression
        switch field {
        case .text(let textField):
            expression = .text(textField, try textTest(token, field: textField, name: name, comparison: comparison))
        case .kind:
            let word: String? = switch token.kind {
            case .word(let text), .string(let text): text
            default: nil
            }
            guard let word, let kind = kindNames[word] else {
                throw ObjectiveError(column: token.column,
                                     message: "'type' needs one of file, dir, symlink, fifo, socket or other, not \(token.described)")
            }
            expression = .kind(comparison == .notEqual ? .notEqual : .equal, kind)
        case .size:
            expression = .size(comparison ?? .equal, try size(token))
        case .age(let time):
            expression = .age(time, comparison ?? .equal, try age(token, name: name))
        case .owner(let owner):
            expression = .owner(owner, comparison ?? .equal, try ownerID(token, name: name))
        case .heat:
            expression = .heat(comparison ?? .equal, try heat(token))
        }
        try stream.advance()
        return expression
    }

    private static func textTest(_ token: Token, field: TextField, name: String,
                                 comparison: Comparison?) throws(ObjectiveError) -> TextTest {
        let value: String
        switch (token.kind, field) {
        case (.string(let text), _): value = text
        // Tier and silo names are identifiers in the pool file, so they may
        // be written bare like `place fast`; paths, names and tag values may
        // hold anything and must be quoted.
        case (.word(let text), .tier), (.word(let text), .silo): value = text
        default:
            let example = switch field {
            case .path: "a string like \"/projects/**\""
            case .name: "a string like \"*.mkv\""
            case .tier: "a tier name like fast or \"fast\""
            case .silo: "a silo name like nvme0 or \"nvme0\""
            case .tag: "a string like \"apollo\""
            }
            throw ObjectiveError(column: token.column, message: "'\(name)' needs \(example), not \(token.described)")
        }
        switch comparison {
        case .equal: return .equal(value)
        case .notEqual: return .notEqual(value)
        default:
            do {
                return .matches(try Glob(value))
            } catch {
                throw ObjectiveError(column: token.column, message: error.message)
            }
        }
    }

    private static func size(_ token: Token) throws(ObjectiveError) -> Int64 {
        guard case .number(let whole, let fraction, let unit) = token.kind else {
            throw ObjectiveError(column: token.column, message: "'size' needs a size like 10G, not \(token.described)")
        }
        guard let multiplier = Units.sizeMultiplier(unit) else {
            throw ObjectiveError(column: token.column,
                                 message: "unknown size unit '\(unit)' in \(token.described) (use K, M, G, T or P; K and KiB are 1024 bytes, KB is 1000)")
        }
        guard fraction.isEmpty || multiplier > 1 else {
            throw ObjectiveError(column: token.column,
                                 message: "a size in bytes must be a whole number, not \(token.described)")
        }
        guard let bytes = Units.scale(whole: whole, fraction: fraction, by: multiplier) else {
            throw ObjectiveError(column: token.column, message: "size \(token.described) is too large")
        }
        return bytes
    }

    private static func age(_ token: Token, name: String) throws(ObjectiveError) -> Int64 {
        guard case .number(let whole, let fraction, let unit) = token.kind, !unit.isEmpty else {
            throw ObjectiveError(column: token.column,
                                 message: "'\(name)' needs an age with a unit like 30d, not \(token.described) (\(ageSemantics))")
        }
        guard let multiplier = Units.durationMultiplier(unit) else {
            throw ObjectiveError(column: token.column,
                                 message: "unknown age unit '\(unit)' in \(token.described) (use s, m, h, d, w or y; \(ageSemantics))")
        }
        guard let seconds = Units.scale(whole: whole, fraction: fraction, by: UInt64(multiplier)) else {
            throw ObjectiveError(column: token.column, message: "age \(token.described) is too large")
        }
        return seconds
    }

    private static func ownerID(_ token: Token, name: String) throws(ObjectiveError) -> UInt32 {
        guard case .number(let whole, let fraction, let unit) = token.kind, fraction.isEmpty, unit.isEmpty else {
            throw ObjectiveError(column: token.column, message: "'\(name)' needs a number like 1000, not \(token.described)")
        }
        guard let id = UInt32(whole) else {
            throw ObjectiveError(column: token.column,
                                 message: "'\(name)' must be at most \(UInt32.max), not \(token.described)")
        }
        return id
    }

    private static func heat(_ token: Token) throws(ObjectiveError) -> Double {
        guard case .number(let whole, let fraction, let unit) = token.kind, unit.isEmpty else {
            throw ObjectiveError(column: token.column, message: "'heat' needs a number like 10.5, not \(token.described)")
        }
        guard let value = Double(fraction.isEmpty ? whole : whole + "." + fraction), value.isFinite else {
            throw ObjectiveError(column: token.column, message: "heat \(token.described) is too large")
        }
        return value
    }
}

/// One condition: `true`/`false`, `pinned`, `has tag.NAME`, or
/// `FIELD OP VALUE`. Checks that the operator and value suit the field, so a
/// parsed `Expression` can always be evaluated.
enum ConditionParser {
    /// What a field name refers to, before the operator picks a test.
    enum Field {
        case text(TextField)
        case size
        case kind
        case age(TimeField)
        case owner(OwnerField)
        case heat
    }

    static let fieldList = "path, name, size, type, uid, gid, atime, mtime, ctime, heat, tag.NAME, pinned, tier, silo"

    private static let keywords: Set<String> = ["and", "or", "not", "where", "place"]

    static func parse(_ stream: inout TokenStream, after previous: String?) throws(ObjectiveError) -> Expression {
        let token = stream.current
        guard case .word(let word) = token.kind, !keywords.contains(word) else {
            let context = previous.map { " after '\($0)'" } ?? ""
            throw ObjectiveError(column: token.column,
                                 message: "expected a condition\(context), found \(token.described)")
        }
        try stream.advance()
        switch word {
        case "true", "false":
            return .constant(word == "true")
        case "pinned":
            if case .symbol(let symbol) = stream.current.kind, symbol != "(", symbol != ")" {
                throw ObjectiveError(column: stream.current.column,
                                     message: "'pinned' is a condition by itself; write 'pinned' or 'not pinned'")
            }
            return .pinned
        case "has":
            let target = stream.current
            guard case .word(let name) = target.kind, let tag = tagName(name), !tag.isEmpty else {
                throw ObjectiveError(column: target.column,
                                     message: "expected tag.NAME after 'has', found \(target.described)")
            }
            try stream.advance()
            return .hasTag(tag)
        default:
            let field = try field(named: word, token: token)
            let comparison = try comparisonOperator(&stream, field: field, name: word)
            return try ValueParser.condition(&stream, field: field, name: word, comparison: comparison)
        }
    }

    /// The part after "tag.", or nil when the word is not a tag reference.
    static func tagName(_ word: String) -> String? {
        word.hasPrefix("tag.") ? String(word.dropFirst(4)) : nil
    }

    private static func field(named word: String, token: Token) throws(ObjectiveError) -> Field {
        let column = token.column
        switch word {
        case "path": return .text(.path)
        case "name": return .text(.name)
        case "tier": return .text(.tier)
        case "silo": return .text(.silo)
        case "size": return .size
        case "type": return .kind
        case "heat": return .heat
        default:
            if let time = TimeField(rawValue: word) { return .age(time) }
            if let owner = OwnerField(rawValue: word) { return .owner(owner) }
            if let tag = tagName(word) {
                guard !tag.isEmpty else {
                    throw ObjectiveError(column: column, message: "'tag.' needs a tag name, like tag.project")
                }
                return .text(.tag(tag))
            }
            if word == "tag" {
                throw ObjectiveError(column: column, message: "'tag' needs a tag name, like tag.project")
            }
            throw ObjectiveError(column: column, message: "unknown field \(token.described) (fields: \(fieldList))")
        }
    }

    /// Reads the operator and checks the field supports it; `~` is returned
    /// as nil because it is not an ordering.
    private static func comparisonOperator(_ stream: inout TokenStream, field: Field,
                                           name: String) throws(ObjectiveError) -> Comparison? {
        let token = stream.current
        let symbol: String
        switch token.kind {
        case .symbol(let text) where text != "(" && text != ")": symbol = text
        default:
            throw ObjectiveError(column: token.column,
                                 message: "expected a comparison operator after '\(name)', found \(token.described)")
        }
        let comparison = Comparison(rawValue: symbol)
        let allowed: String?
        switch field {
        case .text:
            allowed = comparison == .equal || comparison == .notEqual || symbol == "~" ? nil : "==, != or ~"
        case .kind:
            allowed = comparison == .equal || comparison == .notEqual ? nil : "== or !="
        case .size, .age, .owner, .heat:
            allowed = comparison != nil ? nil : "==, !=, <, <=, > or >="
        }
        if let allowed {
            throw ObjectiveError(column: token.column,
                                 message: "'\(name)' can only be compared with \(allowed), not '\(symbol)'")
        }
        try stream.advance()
        return comparison
    }
}

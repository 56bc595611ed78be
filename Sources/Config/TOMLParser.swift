/// Parses TOML 1.0 documents into position-carrying values.
///
/// Dates and times are rejected with a clear message. Nesting of tables,
/// arrays and inline tables together is capped at `maximumDepth`, so hostile
/// input meets an error rather than exhausting the stack.
public enum TOMLParser {
    public static let maximumDepth = 128

    public static func parse(_ text: String) throws(TOMLError) -> TOMLTable {
        try parse(Array(text.utf8))
    }

    public static func parse(_ bytes: [UInt8]) throws(TOMLError) -> TOMLTable {
        try TOMLUTF8Validator.validate(bytes)
        var parser = DocumentParser(bytes: bytes)
        return try parser.parseDocument()
    }

    static func nestingError(at position: TOMLPosition) -> TOMLError {
        TOMLError("nesting is deeper than \(maximumDepth) levels", at: position)
    }
}

private struct DocumentParser {
    var lexer: TOMLLexer
    let builder: TOMLTableBuilder
    /// Each header and each inline table starts a new section; dotted keys may
    /// only extend tables created by dotted keys in the same section.
    var section = 0

    init(bytes: [UInt8]) {
        lexer = TOMLLexer(bytes: bytes)
        let root = TOMLTableBuilder.TableNode(
            origin: .header, position: lexer.position, keyPosition: lexer.position, depth: 0, path: [])
        builder = TOMLTableBuilder(root: root, maximumDepth: TOMLParser.maximumDepth)
    }

    mutating func parseDocument() throws(TOMLError) -> TOMLTable {
        lexer.skipByteOrderMark()
        var table = builder.root
        while true {
            lexer.skipWhitespace()
            switch lexer.current {
            case nil:
                return TOMLTableBuilder.freeze(builder.root)
            case UInt8(ascii: "#"), UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try lexer.expectEndOfLine(after: "a comment")
            case UInt8(ascii: "["):
                table = try parseHeader()
            default:
                try parseKeyValue(into: table)
                try lexer.expectEndOfLine(after: "a value")
            }
        }
    }

    private mutating func parseHeader() throws(TOMLError) -> TOMLTableBuilder.TableNode {
        let start = lexer.position
        lexer.advance()
        let isArray = lexer.current == UInt8(ascii: "[")
        if isArray { lexer.advance() }
        let key = try lexer.parseKey()
        let closing = isArray ? "]]" : "]"
        for _ in 0..<closing.count {
            guard lexer.current == UInt8(ascii: "]") else {
                throw lexer.error("expected '\(closing)' to close the table header, found \(lexer.describeCurrent())")
            }
            lexer.advance()
        }
        section += 1
        let table = try builder.openTable(key, isArray: isArray, at: start)
        try lexer.expectEndOfLine(after: "a table header")
        return table
    }

    private mutating func parseKeyValue(into table: TOMLTableBuilder.TableNode) throws(TOMLError) {
        let key = try lexer.parseKey()
        guard lexer.current == UInt8(ascii: "=") else {
            let name = TOMLLexer.render(key.map(\.name))
            throw lexer.error("expected '=' after key '\(name)', found \(lexer.describeCurrent())")
        }
        lexer.advance()
        lexer.skipWhitespace()
        let value = try parseValue(depth: builder.depth(of: key, in: table))
        try builder.insert(key, value: value, into: table, section: section)
    }

    private mutating func parseValue(depth: Int) throws(TOMLError) -> TOMLValue {
        let start = lexer.position
        switch lexer.current {
        case UInt8(ascii: "\""), UInt8(ascii: "'"):
            return TOMLValue(.string(try lexer.parseString()), at: start)
        case UInt8(ascii: "["):
            return try parseArray(depth: depth)
        case UInt8(ascii: "{"):
            return try parseInlineTable(depth: depth)
        default:
            return TOMLValue(try lexer.parseBareValue(), at: start)
        }
    }

    private mutating func parseArray(depth: Int) throws(TOMLError) -> TOMLValue {
        let start = lexer.position
        guard depth <= TOMLParser.maximumDepth else { throw TOMLParser.nestingError(at: start) }
        lexer.advance()
        var elements: [TOMLValue] = []
        while true {
            try lexer.skipTrivia()
            if lexer.current == UInt8(ascii: "]") { break }
            if lexer.isAtEnd { throw TOMLError("unterminated array", at: start) }
            elements.append(try parseValue(depth: depth + 1))
            try lexer.skipTrivia()
            if lexer.current == UInt8(ascii: ",") {
                lexer.advance()
            } else if lexer.current == UInt8(ascii: "]") {
                break
            } else if lexer.isAtEnd {
                throw TOMLError("unterminated array", at: start)
            } else {
                throw lexer.error("expected ',' or ']' in array, found \(lexer.describeCurrent())")
            }
        }
        lexer.advance()
        return TOMLValue(.array(elements), at: start)
    }

    /// Inline tables are sealed once closed; TOML 1.0 keeps them on one line
    /// and forbids a trailing comma.
    private mutating func parseInlineTable(depth: Int) throws(TOMLError) -> TOMLValue {
        let start = lexer.position
        guard depth <= TOMLParser.maximumDepth else { throw TOMLParser.nestingError(at: start) }
        lexer.advance()
        let node = TOMLTableBuilder.TableNode(origin: .header, position: start, keyPosition: start, depth: depth, path: [])
        section += 1
        let ownSection = section
        lexer.skipWhitespace()
        if lexer.current == UInt8(ascii: "}") {
            lexer.advance()
            return TOMLValue(.table(TOMLTableBuilder.freeze(node)), at: start)
        }
        while true {
            lexer.skipWhitespace()
            if lexer.atNewline { throw lexer.error("newlines are not allowed inside an inline table") }
            if lexer.isAtEnd { throw TOMLError("unterminated inline table", at: start) }
            if lexer.current == UInt8(ascii: "}") { throw lexer.error("trailing comma is not allowed in an inline table") }
            let key = try lexer.parseKey()
            guard lexer.current == UInt8(ascii: "=") else {
                let name = TOMLLexer.render(key.map(\.name))
                throw lexer.error("expected '=' after key '\(name)', found \(lexer.describeCurrent())")
            }
            lexer.advance()
            lexer.skipWhitespace()
            let value = try parseValue(depth: builder.depth(of: key, in: node))
            try builder.insert(key, value: value, into: node, section: ownSection)
            lexer.skipWhitespace()
            switch lexer.current {
            case UInt8(ascii: ","):
                lexer.advance()
            case UInt8(ascii: "}"):
                lexer.advance()
                return TOMLValue(.table(TOMLTableBuilder.freeze(node)), at: start)
            case nil:
                throw TOMLError("unterminated inline table", at: start)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw lexer.error("newlines are not allowed inside an inline table")
            default:
                throw lexer.error("expected ',' or '}' in inline table, found \(lexer.describeCurrent())")
            }
        }
    }
}

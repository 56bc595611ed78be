/// Turns an objective into tokens on demand. It reads lazily so that the
/// first problem in reading order wins: 100,000 "(" report the nesting limit
/// at column 257 rather than the length limit, and a huge input is never
/// copied.
struct Lexer {
    static let maximumLength = ObjectiveParser.maximumLength

    private let scalars: String.UnicodeScalarView
    private var index: String.UnicodeScalarView.Index
    private var column = 1

    init(_ text: String) {
        scalars = text.unicodeScalars
        index = scalars.startIndex
    }

    mutating func next() -> Token {
        while let scalar = peek(), scalar == " " || scalar == "\t" || scalar == "\n" || scalar == "\r" {
            advance()
        }
        if let overlong = overlongToken() { return overlong }
        let start = column
        let startIndex = index
        guard let scalar = peek() else { return Token(kind: .end, column: start, text: "") }
        let kind: Token.Kind
        switch scalar {
        case "\"": kind = lexString()
        case "0"..."9": kind = lexNumber()
        case "(", ")", "~":
            advance()
            kind = .symbol(String(scalar))
        case "=", "!", "<", ">":
            advance()
            if peek() == "=" {
                advance()
                kind = .symbol(String(scalar) + "=")
            } else if scalar == "<" || scalar == ">" {
                kind = .symbol(String(scalar))
            } else if scalar == "=" {
                kind = .invalid(message: "'=' is not an operator; use '==' to compare", column: start)
            } else {
                kind = .invalid(message: "'!' is not an operator; use 'not' to negate or '!=' to compare",
                                column: start)
            }
        case "&", "|":
            advance()
            if peek() == scalar { advance() }
            let word = scalar == "&" ? "and" : "or"
            kind = .invalid(message: "'\(String(scalars[startIndex..<index]))' is not an operator; use '\(word)'",
                            column: start)
        case "/", "*":
            advance()
            kind = .invalid(message: "paths and patterns must be quoted, like \"/projects/**\"", column: start)
        case "'":
            advance()
            kind = .invalid(message: "strings need double quotes (\"...\"), not single quotes", column: start)
        default:
            if Self.startsWord(scalar) {
                while let next = peek(), Self.continuesWord(next) { advance() }
                kind = .word(String(scalars[startIndex..<index]))
            } else {
                advance()
                kind = .invalid(message: "unexpected character \(Self.describe(scalar))", column: start)
            }
        }
        // A token cut off by the length cap is reported as the cap, not as
        // whatever the truncated text happens to look like.
        if let overlong = overlongToken() { return overlong }
        return Token(kind: kind, column: start, text: String(scalars[startIndex..<index]))
    }

    /// Letters, digits, `_`, `-` and `.` make up field names, keywords and
    /// tag names (`tag.my-project.v2`), which are xattr names in practice.
    static func startsWord(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || scalar.properties.isAlphabetic
    }

    static func continuesWord(_ scalar: Unicode.Scalar) -> Bool {
        startsWord(scalar) || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "."
    }

    private func peek() -> Unicode.Scalar? {
        index < scalars.endIndex && column <= Self.maximumLength ? scalars[index] : nil
    }

    private mutating func advance() {
        index = scalars.index(after: index)
        column += 1
    }

    private func overlongToken() -> Token? {
        guard column > Self.maximumLength, index < scalars.endIndex else { return nil }
        return Token(kind: .invalid(message: "expression is longer than \(Self.maximumLength) characters",
                                    column: column),
                     column: column, text: "")
    }

    private mutating func lexString() -> Token.Kind {
        let openColumn = column
        advance()
        var value = ""
        while let scalar = peek() {
            advance()
            switch scalar {
            case "\"":
                return .string(value)
            case "\\":
                let escapeColumn = column - 1
                guard let escaped = peek() else { break }
                advance()
                switch escaped {
                case "\"", "\\": value.unicodeScalars.append(escaped)
                case "n": value += "\n"
                case "t": value += "\t"
                default:
                    return .invalid(message: "unknown escape '\\\(String(escaped))' in string (use \\\", \\\\, \\n or \\t)",
                                    column: escapeColumn)
                }
            default:
                value.unicodeScalars.append(scalar)
            }
        }
        return .invalid(message: "unterminated string starting at column \(openColumn)", column: column)
    }

    private mutating func lexNumber() -> Token.Kind {
        let wholeStart = index
        while let scalar = peek(), ("0"..."9").contains(scalar) { advance() }
        let whole = String(scalars[wholeStart..<index])
        var fraction = ""
        if peek() == ".", let after = scalar(after: index), ("0"..."9").contains(after) {
            advance()
            let fractionStart = index
            while let scalar = peek(), ("0"..."9").contains(scalar) { advance() }
            fraction = String(scalars[fractionStart..<index])
        }
        // The unit takes letters and any digits after them, so "1G5" is
        // reported as one bad unit rather than two puzzling tokens.
        let unitStart = index
        if let first = peek(), first.isASCII, first.properties.isAlphabetic {
            while let scalar = peek(), scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) {
                advance()
            }
        }
        return .number(whole: whole, fraction: fraction, unit: String(scalars[unitStart..<index]))
    }

    private func scalar(after position: String.UnicodeScalarView.Index) -> Unicode.Scalar? {
        let next = scalars.index(after: position)
        return next < scalars.endIndex && column + 1 <= Self.maximumLength ? scalars[next] : nil
    }

    /// 'x' for visible characters, U+XXXX for those a terminal would hide.
    static func describe(_ scalar: Unicode.Scalar) -> String {
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .spaceSeparator, .lineSeparator,
             .paragraphSeparator, .nonspacingMark, .spacingMark, .enclosingMark:
            let hex = String(scalar.value, radix: 16, uppercase: true)
            return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
        default:
            return "'\(String(scalar))'"
        }
    }
}

/// The four TOML string forms. Content is gathered as UTF-8 bytes; the
/// document was validated up front, so decoding cannot meet bad sequences.
extension TOMLLexer {
    private static let quote = UInt8(ascii: "\"")
    private static let apostrophe = UInt8(ascii: "'")
    private static let backslash = UInt8(ascii: "\\")

    /// Dispatches on the opening delimiter; the cursor is on `"` or `'`.
    mutating func parseString() throws(TOMLError) -> String {
        let delimiter = current
        let tripled = peek(1) == delimiter && peek(2) == delimiter
        switch (delimiter == Self.quote, tripled) {
        case (true, false): return try parseBasicString()
        case (true, true): return try parseMultilineString(delimiter: Self.quote)
        case (false, false): return try parseLiteralString()
        case (false, true): return try parseMultilineString(delimiter: Self.apostrophe)
        }
    }

    mutating func parseBasicString() throws(TOMLError) -> String {
        let start = position
        advance()
        var out: [UInt8] = []
        while true {
            guard let byte = current, !atNewline else {
                throw TOMLError("unterminated string", at: start)
            }
            switch byte {
            case Self.quote:
                advance()
                return String(decoding: out, as: UTF8.self)
            case Self.backslash:
                try parseEscape(into: &out)
            default:
                try appendContent(byte, into: &out)
            }
        }
    }

    mutating func parseLiteralString() throws(TOMLError) -> String {
        let start = position
        advance()
        var out: [UInt8] = []
        while true {
            guard let byte = current, !atNewline else {
                throw TOMLError("unterminated string", at: start)
            }
            if byte == Self.apostrophe {
                advance()
                return String(decoding: out, as: UTF8.self)
            }
            try appendContent(byte, into: &out)
        }
    }

    /// `"""…"""` (with escapes) or `'''…'''` (without).
    private mutating func parseMultilineString(delimiter: UInt8) throws(TOMLError) -> String {
        let start = position
        let escapes = delimiter == Self.quote
        advance(3)
        // A newline right after the opening delimiter is not part of the value.
        _ = try consumeNewline()
        var out: [UInt8] = []
        while true {
            guard let byte = current else {
                throw TOMLError("unterminated multi-line string", at: start)
            }
            if byte == delimiter {
                var run = 0
                while current == delimiter {
                    run += 1
                    advance()
                }
                if run < 3 {
                    out.append(contentsOf: repeatElement(delimiter, count: run))
                    continue
                }
                // Up to two delimiter characters may sit just before the closing three.
                guard run <= 5 else {
                    throw error("too many quotes at the end of a multi-line string")
                }
                out.append(contentsOf: repeatElement(delimiter, count: run - 3))
                return String(decoding: out, as: UTF8.self)
            }
            if atNewline {
                _ = try consumeNewline()
                out.append(UInt8(ascii: "\n"))
            } else if escapes && byte == Self.backslash {
                if try !skipLineEndingBackslash() {
                    try parseEscape(into: &out)
                }
            } else {
                try appendContent(byte, into: &out)
            }
        }
    }

    /// A backslash that ends a line swallows the line break and all
    /// whitespace up to the next visible character.
    private mutating func skipLineEndingBackslash() throws(TOMLError) -> Bool {
        var lookahead = 1
        while let byte = peek(lookahead), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
            lookahead += 1
        }
        let next = peek(lookahead)
        guard next == UInt8(ascii: "\n") || next == UInt8(ascii: "\r") else { return false }
        advance(lookahead)
        while true {
            skipWhitespace()
            if try !consumeNewline() { return true }
        }
    }

    private mutating func appendContent(_ byte: UInt8, into out: inout [UInt8]) throws(TOMLError) {
        if Self.isForbiddenControl(byte) {
            throw error("control character \(Self.describe(byte)) must be escaped in a string")
        }
        out.append(byte)
        advance()
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(TOMLError) {
        let start = position
        advance()
        guard let letter = current else {
            throw TOMLError("unterminated string", at: start)
        }
        let simple: UInt8?
        switch letter {
        case UInt8(ascii: "b"): simple = 0x08
        case UInt8(ascii: "t"): simple = 0x09
        case UInt8(ascii: "n"): simple = 0x0A
        case UInt8(ascii: "f"): simple = 0x0C
        case UInt8(ascii: "r"): simple = 0x0D
        case Self.quote: simple = Self.quote
        case Self.backslash: simple = Self.backslash
        case UInt8(ascii: "u"), UInt8(ascii: "U"): simple = nil
        default:
            if atNewline {
                throw TOMLError("a backslash may end a line only in a multi-line string", at: start)
            }
            throw TOMLError("invalid escape sequence '\\\(describeCurrent().trimmingQuotes())'", at: start)
        }
        if let simple {
            out.append(simple)
            advance()
            return
        }
        let digits = letter == UInt8(ascii: "u") ? 4 : 8
        advance()
        var value: UInt32 = 0
        for _ in 0..<digits {
            guard let byte = current, let digit = Self.hexValue(byte) else {
                throw TOMLError("escape '\\\(Character(Unicode.Scalar(letter)))' needs \(digits) hex digits", at: start)
            }
            value = value << 4 | UInt32(digit)
            advance()
        }
        guard let scalar = Unicode.Scalar(value) else {
            let hex = String(value, radix: 16, uppercase: true)
            throw TOMLError("escape for U+\(hex) is not a Unicode scalar value", at: start)
        }
        UTF8.encode(scalar) { out.append($0) }
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

extension String {
    fileprivate func trimmingQuotes() -> String {
        guard count >= 2, first == "'", last == "'" else { return self }
        return String(dropFirst().dropLast())
    }
}

/// A cursor over the document's bytes that keeps line and column current,
/// plus the lexical pieces shared by every construct: whitespace, comments,
/// newlines and keys. Strings and numbers live in their own extensions.
struct TOMLLexer {
    let bytes: [UInt8]
    private(set) var offset = 0
    private(set) var line = 1
    private(set) var column = 1

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    var isAtEnd: Bool { offset >= bytes.count }
    var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

    func peek(_ distance: Int) -> UInt8? {
        let index = offset + distance
        return index < bytes.count ? bytes[index] : nil
    }

    var position: TOMLPosition { TOMLPosition(line: line, column: column) }

    func error(_ message: String) -> TOMLError {
        TOMLError(message, at: position)
    }

    /// Editors may prefix UTF-8 files with a BOM; it is not a column of line 1.
    mutating func skipByteOrderMark() {
        if offset == 0, bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            offset = 3
        }
    }

    /// Moves past one byte that is not a line break.
    mutating func advance(_ count: Int = 1) {
        for _ in 0..<count where offset < bytes.count {
            // Continuation bytes belong to the scalar already counted.
            if bytes[offset] & 0xC0 != 0x80 { column += 1 }
            offset += 1
        }
    }

    /// Consumes LF or CRLF. A CR on its own is not a TOML newline.
    mutating func consumeNewline() throws(TOMLError) -> Bool {
        switch current {
        case UInt8(ascii: "\n"):
            offset += 1
        case UInt8(ascii: "\r"):
            guard peek(1) == UInt8(ascii: "\n") else {
                throw error("carriage return must be followed by a line feed")
            }
            offset += 2
        default:
            return false
        }
        line += 1
        column = 1
        return true
    }

    var atNewline: Bool {
        current == UInt8(ascii: "\n") || current == UInt8(ascii: "\r")
    }

    mutating func skipWhitespace() {
        while let byte = current, byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
            advance()
        }
    }

    /// Skips a comment up to (not including) the line break.
    mutating func skipComment() throws(TOMLError) {
        guard current == UInt8(ascii: "#") else { return }
        advance()
        while let byte = current, byte != UInt8(ascii: "\n") {
            if byte == UInt8(ascii: "\r"), peek(1) == UInt8(ascii: "\n") { return }
            if Self.isForbiddenControl(byte) {
                throw error("control character \(Self.describe(byte)) is not allowed in a comment")
            }
            advance()
        }
    }

    /// Whitespace, comments and newlines, as allowed between array elements.
    mutating func skipTrivia() throws(TOMLError) {
        while true {
            skipWhitespace()
            try skipComment()
            if try !consumeNewline() { return }
        }
    }

    /// Requires the rest of the line to be blank or a comment.
    mutating func expectEndOfLine(after what: String) throws(TOMLError) {
        skipWhitespace()
        try skipComment()
        if isAtEnd { return }
        if try consumeNewline() { return }
        throw error("expected a newline after \(what), found \(describeCurrent())")
    }

    // MARK: Keys

    struct KeyPart {
        var name: String
        var position: TOMLPosition
    }

    /// A simple or dotted key; whitespace is allowed around the dots.
    mutating func parseKey() throws(TOMLError) -> [KeyPart] {
        var parts: [KeyPart] = []
        while true {
            skipWhitespace()
            parts.append(try parseSimpleKey())
            skipWhitespace()
            guard current == UInt8(ascii: ".") else { return parts }
            advance()
        }
    }

    private mutating func parseSimpleKey() throws(TOMLError) -> KeyPart {
        let start = position
        switch current {
        case UInt8(ascii: "\""):
            if peek(1) == UInt8(ascii: "\""), peek(2) == UInt8(ascii: "\"") {
                throw error("multi-line strings cannot be used as keys")
            }
            return KeyPart(name: try parseBasicString(), position: start)
        case UInt8(ascii: "'"):
            if peek(1) == UInt8(ascii: "'"), peek(2) == UInt8(ascii: "'") {
                throw error("multi-line strings cannot be used as keys")
            }
            return KeyPart(name: try parseLiteralString(), position: start)
        default:
            let begin = offset
            while let byte = current, Self.isBareKeyByte(byte) {
                advance()
            }
            guard offset > begin else {
                throw error("expected a key, found \(describeCurrent())")
            }
            return KeyPart(name: String(decoding: bytes[begin..<offset], as: UTF8.self), position: start)
        }
    }

    // MARK: Byte classes and descriptions

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// TOML forbids control characters other than tab in strings and comments.
    static func isForbiddenControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != 0x09) || byte == 0x7F
    }

    static func describe(_ byte: UInt8) -> String {
        let hex = String(byte, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: 4 - hex.count) + hex
    }

    /// The character under the cursor as a message would name it.
    func describeCurrent() -> String {
        guard let byte = current else { return "end of file" }
        switch byte {
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"): return "end of line"
        case 0x21...0x7E: return "'\(Character(Unicode.Scalar(byte)))'"
        case 0x20: return "' '"
        case 0x80...:
            var end = offset + 1
            while end < bytes.count, bytes[end] & 0xC0 == 0x80 { end += 1 }
            return "'" + String(decoding: bytes[offset..<end], as: UTF8.self) + "'"
        default: return Self.describe(byte)
        }
    }

    /// Renders a key path as it could be written back into TOML.
    static func render(_ path: [String]) -> String {
        path.map { name in
            let bare = !name.isEmpty && name.utf8.allSatisfy(isBareKeyByte)
            return bare ? name : "\"" + name.replacingBackslashesAndQuotes() + "\""
        }.joined(separator: ".")
    }
}

extension String {
    fileprivate func replacingBackslashesAndQuotes() -> String {
        var out = ""
        for scalar in unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                out += "\\u" + TOMLLexer.describe(UInt8(scalar.value)).dropFirst(2)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// Unquoted values: booleans, integers, floats, and a clear refusal for
/// dates and times, which Estuary's configuration never needs.
extension TOMLLexer {
    private static let maximumShownTokenLength = 40

    mutating func parseBareValue() throws(TOMLError) -> TOMLValue.Kind {
        let start = position
        if looksLikeDateOrTime() {
            throw error("dates and times are not supported")
        }
        let begin = offset
        while let byte = current, !Self.endsBareValue(byte) {
            advance()
        }
        guard offset > begin else {
            throw error("expected a value, found \(describeCurrent())")
        }
        let token = Array(bytes[begin..<offset])
        let text = String(decoding: token, as: UTF8.self)
        switch text {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan": return .float(.nan)
        case "-nan": return .float(-.nan)
        default: break
        }
        if let number = try Self.number(token, text: text, at: start) {
            return number
        }
        let shown = Self.shorten(text)
        if let first = token.first, Self.isLetter(first) {
            throw TOMLError("invalid value '\(shown)' (strings must be quoted)", at: start)
        }
        throw TOMLError("invalid value '\(shown)'", at: start)
    }

    /// `1979-05-27…` or `07:32:00…`: checked before the number rules so the
    /// user learns why instead of reading "invalid number".
    private func looksLikeDateOrTime() -> Bool {
        func isDigit(_ distance: Int) -> Bool {
            guard let byte = peek(distance) else { return false }
            return byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
        }
        if (0..<4).allSatisfy(isDigit), peek(4) == UInt8(ascii: "-") { return true }
        return isDigit(0) && isDigit(1) && peek(2) == UInt8(ascii: ":")
    }

    private static func endsBareValue(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"),
             UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "#"):
            true
        default:
            false
        }
    }

    private static func isLetter(_ byte: UInt8) -> Bool {
        (byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z")
    }

    private static func shorten(_ text: String) -> String {
        text.count <= maximumShownTokenLength ? text : String(text.prefix(maximumShownTokenLength)) + "…"
    }

    // MARK: Numbers

    /// The number a token spells, nil when it is not number syntax at all,
    /// or an error when it is number syntax that TOML or Int64 cannot hold.
    private static func number(_ token: [UInt8], text: String, at start: TOMLPosition) throws(TOMLError) -> TOMLValue.Kind? {
        var body = token[...]
        var negative = false
        if let sign = body.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            body = body.dropFirst()
        }
        let signed = body.count < token.count
        if body.count >= 2, body.first == UInt8(ascii: "0"), let radix = radix(body[body.startIndex + 1]) {
            guard !signed else {
                throw TOMLError("a sign is not allowed on hexadecimal, octal or binary integers", at: start)
            }
            let digits = body.dropFirst(2)
            guard isDigitRun(digits, radix: radix) else { return nil }
            guard let value = accumulate(digits, radix: radix, negative: false) else {
                throw TOMLError("integer '\(shorten(text))' does not fit in 64 bits", at: start)
            }
            return .integer(value)
        }
        let integerEnd = body.firstIndex { $0 == UInt8(ascii: ".") || $0 | 0x20 == UInt8(ascii: "e") } ?? body.endIndex
        let integerPart = body[..<integerEnd]
        guard isDigitRun(integerPart, radix: 10) else { return nil }
        if integerPart.count > 1, integerPart.first == UInt8(ascii: "0") {
            throw TOMLError("leading zeros are not allowed in '\(shorten(text))'", at: start)
        }
        if integerEnd == body.endIndex {
            guard let value = accumulate(integerPart, radix: 10, negative: negative) else {
                throw TOMLError("integer '\(shorten(text))' does not fit in 64 bits", at: start)
            }
            return .integer(value)
        }
        guard isFloatTail(body[integerEnd...]) else { return nil }
        let cleaned = String(decoding: token.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        guard let value = Double(cleaned), value.isFinite else {
            throw TOMLError("float '\(shorten(text))' is out of range", at: start)
        }
        return .float(value)
    }

    /// `.digits`, `e[+-]digits`, or both in that order.
    private static func isFloatTail(_ tail: ArraySlice<UInt8>) -> Bool {
        var rest = tail
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            let end = rest.firstIndex { $0 | 0x20 == UInt8(ascii: "e") } ?? rest.endIndex
            guard isDigitRun(rest[..<end], radix: 10) else { return false }
            rest = rest[end...]
            if rest.isEmpty { return true }
        }
        guard let marker = rest.first, marker | 0x20 == UInt8(ascii: "e") else { return false }
        rest = rest.dropFirst()
        if let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            rest = rest.dropFirst()
        }
        return isDigitRun(rest, radix: 10)
    }

    private static func radix(_ marker: UInt8) -> Int? {
        switch marker {
        case UInt8(ascii: "x"): 16
        case UInt8(ascii: "o"): 8
        case UInt8(ascii: "b"): 2
        default: nil
        }
    }

    private static func digitValue(_ byte: UInt8, radix: Int) -> Int? {
        guard let value = hexValue(byte).map(Int.init), value < radix else { return nil }
        return value
    }

    /// Digits with single underscores strictly between them.
    private static func isDigitRun(_ run: ArraySlice<UInt8>, radix: Int) -> Bool {
        guard let first = run.first, let last = run.last,
              digitValue(first, radix: radix) != nil, digitValue(last, radix: radix) != nil
        else { return false }
        var previousWasUnderscore = false
        for byte in run {
            if byte == UInt8(ascii: "_") {
                if previousWasUnderscore { return false }
                previousWasUnderscore = true
            } else {
                guard digitValue(byte, radix: radix) != nil else { return false }
                previousWasUnderscore = false
            }
        }
        return true
    }

    /// Builds negative values downwards so that Int64.min is reachable.
    private static func accumulate(_ run: ArraySlice<UInt8>, radix: Int, negative: Bool) -> Int64? {
        var value: Int64 = 0
        for byte in run where byte != UInt8(ascii: "_") {
            guard let digit = digitValue(byte, radix: radix) else { return nil }
            let scaled = value.multipliedReportingOverflow(by: Int64(radix))
            guard !scaled.overflow else { return nil }
            let next = negative
                ? scaled.partialValue.subtractingReportingOverflow(Int64(digit))
                : scaled.partialValue.addingReportingOverflow(Int64(digit))
            guard !next.overflow else { return nil }
            value = next.partialValue
        }
        return value
    }
}

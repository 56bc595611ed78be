/// Canonical spellings used when printing an expression back. Each must
/// re-parse to the same value, so the printed form is stable under
/// parse → print → parse.
enum Formatting {
    /// A double-quoted string literal with the escapes the lexer accepts.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    /// The shortest exact form: a bare binary letter ("1G", "1536M"), else a
    /// decimal unit ("1GB"), else plain bytes.
    static func size(_ bytes: Int64) -> String {
        guard bytes > 0 else { return "\(bytes)" }
        for (letter, power) in Units.sizeLetters.reversed() {
            let unit = Int64(1) << (10 * power)
            if bytes % unit == 0 { return "\(bytes / unit)\(letter)" }
        }
        for (letter, power) in Units.sizeLetters.reversed() {
            var unit: Int64 = 1
            for _ in 0..<power { unit *= 1000 }
            if bytes % unit == 0 { return "\(bytes / unit)\(letter)B" }
        }
        return "\(bytes)"
    }

    /// The largest unit that divides exactly: "30d", "2w", "90m".
    static func duration(_ seconds: Int64) -> String {
        guard seconds != 0 else { return "0s" }
        for (unit, length) in Units.durations where seconds % length == 0 {
            return "\(seconds / length)\(unit)"
        }
        return "\(seconds)s"
    }

    /// A decimal without an exponent, because the language has no exponent
    /// syntax: 1e-05 prints as 0.00001 and 10.0 as 10.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "\(value)" }
        let text = "\(value)"
        guard let marker = text.firstIndex(of: "e") else {
            return text.hasSuffix(".0") ? String(text.dropLast(2)) : text
        }
        var mantissa = String(text[..<marker])
        let exponent = Int(text[text.index(after: marker)...]) ?? 0
        let negative = mantissa.hasPrefix("-")
        if negative { mantissa.removeFirst() }
        let point = mantissa.firstIndex(of: ".").map { mantissa.distance(from: mantissa.startIndex, to: $0) }
            ?? mantissa.count
        var digits = mantissa.filter { $0 != "." }
        while digits.count > 1, digits.hasSuffix("0") { digits.removeLast() }
        let position = point + exponent
        let body: String
        if position <= 0 {
            body = "0." + String(repeating: "0", count: -position) + digits
        } else if position >= digits.count {
            body = digits + String(repeating: "0", count: position - digits.count)
        } else {
            body = String(digits.prefix(position)) + "." + String(digits.dropFirst(position))
        }
        return (negative ? "-" : "") + body
    }

    /// "12 MiB", "1.5 GiB", "512 bytes", for explanations.
    static func humanSize(_ bytes: Int64) -> String {
        guard bytes >= 1024 else { return bytes == 1 ? "1 byte" : "\(bytes) bytes" }
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var index = 0
        while index + 1 < units.count, bytes >= Int64(1) << (10 * (index + 2)) { index += 1 }
        let tenths = Int64((Double(bytes) / Double(Int64(1) << (10 * (index + 1))) * 10).rounded())
        let whole = tenths / 10
        return tenths % 10 == 0 ? "\(whole) \(units[index])" : "\(whole).\(tenths % 10) \(units[index])"
    }

    /// "3d 4h", "45s": the two most significant units, which is as precise
    /// as anyone reading an explanation needs.
    static func humanAge(_ seconds: Int64) -> String {
        let magnitude = seconds.magnitude
        let units = Units.durations.filter { $0.unit != "w" }
        guard let major = units.firstIndex(where: { magnitude >= UInt64($0.seconds) }) else { return "0s" }
        let length = UInt64(units[major].seconds)
        var text = "\(magnitude / length)\(units[major].unit)"
        if major + 1 < units.count {
            let minor = magnitude % length / UInt64(units[major + 1].seconds)
            if minor > 0 { text += " \(minor)\(units[major + 1].unit)" }
        }
        return text
    }
}

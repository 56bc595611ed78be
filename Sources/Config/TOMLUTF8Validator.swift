/// Checks the whole document before parsing so that every later step may
/// assume well-formed UTF-8 and decode slices without surprises.
enum TOMLUTF8Validator {
    static func validate(_ bytes: [UInt8]) throws(TOMLError) {
        var line = 1
        var column = 1
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = sequenceLength(bytes, at: index)
            guard length > 0 else {
                let shown = "0x" + String(bytes[index], radix: 16, uppercase: true)
                throw TOMLError(line: line, column: column, message: "invalid UTF-8 (byte \(shown))")
            }
            if lead == 0x0A {
                line += 1
                column = 1
            } else {
                column += 1
            }
            index += length
        }
    }

    /// The length of the well-formed sequence starting at `index`, or 0.
    /// Rejects overlong forms, surrogates and values above U+10FFFF.
    private static func sequenceLength(_ bytes: [UInt8], at index: Int) -> Int {
        let lead = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
        switch lead {
        case 0x00...0x7F: return 1
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return 0
        }
        guard index + length <= bytes.count else { return 0 }
        let second = bytes[index + 1]
        guard second >= low && second <= high else { return 0 }
        for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 {
            return 0
        }
        return length
    }
}

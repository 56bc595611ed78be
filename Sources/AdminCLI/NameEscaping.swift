/// How names and other untrusted text reach a person's terminal.
///
/// A file name may hold any byte but "/" and NUL: newlines, escape sequences that recolour the
/// terminal or move its cursor, bidirectional overrides that reorder what is shown. Human output
/// must never pass those through: a name could forge a line of `estuary status` or hide itself.
///
/// The rule is `ls`'s shell-escape quoting, applied to names that need it: a name of printable
/// characters is shown as it is; a name holding anything else is written the way
/// `ls --quoting-style=shell-escape` writes it, in single quotes with the unprintable parts in
/// `$'...'` (`'evil'$'\n\033''[31mFAKE'`), so pasting it into a shell gives back the exact name.
/// `--json` and `--print0` outputs keep the exact names and never come through here.
extension Format {
    /// A name (or a path) for human output. Bytes that are not UTF-8 are unprintable too.
    static func name(_ bytes: some Collection<UInt8>) -> String {
        let units = Array(bytes)
        let pieces = classify(units)
        guard pieces.contains(where: { !$0.printable }) else { return String(decoding: units, as: UTF8.self) }
        var out = ""
        for piece in pieces {
            let slice = units[piece.range]
            if piece.printable {
                out += "'" + String(decoding: slice, as: UTF8.self).replacingAll("'", with: "'\\''") + "'"
            } else {
                out += "$'" + slice.map(escape).joined() + "'"
            }
        }
        return out
    }

    static func name(_ text: String) -> String { name(Array(text.utf8)) }

    /// Free text that may carry names (an error from the daemon, a health reason, an
    /// explanation): unprintable characters become C escapes in place (`\n`, `\033`, `\302\205`),
    /// the rest is left alone, so the sentence stays readable and can forge nothing.
    static func text(_ text: String) -> String {
        let units = Array(text.utf8)
        let pieces = classify(units)
        guard pieces.contains(where: { !$0.printable }) else { return text }
        return pieces.map { piece in
            piece.printable ? String(decoding: units[piece.range], as: UTF8.self) : units[piece.range].map(escape).joined()
        }.joined()
    }

    /// Runs of printable and unprintable characters, by byte range.
    private static func classify(_ units: [UInt8]) -> [(range: Range<Int>, printable: Bool)] {
        var pieces: [(range: Range<Int>, printable: Bool)] = []
        var i = 0
        while i < units.count {
            let (length, printable) = character(units, at: i)
            if let last = pieces.last, last.printable == printable, last.range.upperBound == i {
                pieces[pieces.count - 1].range = last.range.lowerBound..<(i + length)
            } else {
                pieces.append((i..<(i + length), printable))
            }
            i += length
        }
        return pieces
    }

    /// The UTF-8 sequence at `i`: its length, and whether a terminal shows it harmlessly. An
    /// invalid byte counts alone, as unprintable.
    private static func character(_ units: [UInt8], at i: Int) -> (Int, Bool) {
        let lead = units[i]
        if lead < 0x80 { return (1, lead >= 0x20 && lead != 0x7f) }
        let length = lead >= 0xf0 && lead < 0xf5 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 && lead < 0xe0 ? 2 : 0
        guard length > 0, i + length <= units.count,
              let scalar = String(validating: units[i..<(i + length)], as: UTF8.self)?.unicodeScalars.first else {
            return (1, false)
        }
        return (length, isPrintable(scalar))
    }

    /// C1 controls, line and paragraph separators and the bidirectional controls (which
    /// reorder the characters around them on screen) are not shown as they are.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x80...0x9f, 0x200e, 0x200f, 0x2028...0x202e, 0x2066...0x2069, 0xfeff: false
        default: true
        }
    }

    /// One byte inside `$'...'`: the C escapes bash knows, octal for the rest.
    private static func escape(_ byte: UInt8) -> String {
        switch byte {
        case 0x07: "\\a"
        case 0x08: "\\b"
        case 0x09: "\\t"
        case 0x0a: "\\n"
        case 0x0b: "\\v"
        case 0x0c: "\\f"
        case 0x0d: "\\r"
        case UInt8(ascii: "'"): "\\'"
        case UInt8(ascii: "\\"): "\\\\"
        case 0x20..<0x7f: String(UnicodeScalar(byte))
        default:
            "\\" + String(repeating: "0", count: 3 - String(byte, radix: 8).count) + String(byte, radix: 8)
        }
    }
}

private extension String {
    func replacingAll(_ target: Character, with replacement: String) -> String {
        var out = ""
        for c in self { if c == target { out += replacement } else { out.append(c) } }
        return out
    }
}

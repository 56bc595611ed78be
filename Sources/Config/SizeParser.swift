/// Byte sizes as people write them: "512", "4K", "4KiB", "1.5TiB", "20GB".
///
/// Unit letters K, M, G, T, P (any case). "K", "Ki" and "KiB" are binary
/// (1024); only the "KB" form is decimal SI (1000). A bare letter is binary
/// because disk and memory sizes people type ("4K" extents, "20G" free) almost
/// always mean powers of two, and guessing SI would silently lose space.
/// A fraction is allowed with a unit and rounds down to whole bytes.
public enum SizeParser {
    public enum Failure: Error, Sendable, Equatable {
        case empty
        case negative
        case malformed
        case tooLarge
    }

    private static let unitLetters: [Character] = ["K", "M", "G", "T", "P"]
    /// 10^19 is the largest power of ten in UInt64, so fractions stay exact.
    private static let maximumFractionDigits = 19

    public static func parse(_ text: String) throws(Failure) -> UInt64 {
        let trimmed = text.trimmingSpaces()
        guard !trimmed.isEmpty else { throw .empty }
        if trimmed.hasPrefix("-") { throw .negative }
        let digits = trimmed.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let unit = trimmed.dropFirst(digits.count).trimmingSpaces().uppercased()
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard let whole = parts.first, !whole.isEmpty, parts.count <= 2 else { throw .malformed }
        let fraction = parts.count == 2 ? parts[1] : ""
        guard parts.count == 1 || !fraction.isEmpty else { throw .malformed }
        guard let multiplier = multiplier(for: unit) else { throw .malformed }
        guard fraction.isEmpty || multiplier > 1 else { throw .malformed }
        guard fraction.count <= maximumFractionDigits else { throw .malformed }

        guard let wholeValue = UInt64(whole) else { throw .tooLarge }
        let scaled = wholeValue.multipliedReportingOverflow(by: multiplier)
        guard !scaled.overflow else { throw .tooLarge }
        guard !fraction.isEmpty, let numerator = UInt64(fraction) else { return scaled.partialValue }
        var denominator: UInt64 = 1
        for _ in 0..<fraction.count { denominator *= 10 }
        // numerator < denominator, so the quotient is below `multiplier` and fits.
        let product = numerator.multipliedFullWidth(by: multiplier)
        let extra = denominator.dividingFullWidth(product).quotient
        let total = scaled.partialValue.addingReportingOverflow(extra)
        guard !total.overflow else { throw .tooLarge }
        return total.partialValue
    }

    /// A size as short as it can be written exactly, e.g. "4MiB" or "1000".
    public static func describe(_ bytes: UInt64) -> String {
        guard bytes > 0 else { return "0" }
        for (index, letter) in unitLetters.enumerated().reversed() {
            let unit = UInt64(1) << (10 * (index + 1))
            if bytes % unit == 0 { return "\(bytes / unit)\(letter)iB" }
        }
        return "\(bytes)"
    }

    private static func multiplier(for unit: String) -> UInt64? {
        if unit.isEmpty || unit == "B" { return 1 }
        guard let letter = unit.first, let index = unitLetters.firstIndex(of: letter) else { return nil }
        let power = index + 1
        switch unit.dropFirst() {
        case "", "I", "IB": return UInt64(1) << (10 * power)
        case "B":
            var value: UInt64 = 1
            for _ in 0..<power { value *= 1000 }
            return value
        default: return nil
        }
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }),
              let last = lastIndex(where: { !isSpace($0) })
        else { return "" }
        return String(self[first...last])
    }
}

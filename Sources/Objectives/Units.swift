/// The units a size or an age may carry, and the arithmetic that turns
/// "1.5G" into bytes without going through floating point.
enum Units {
    static let sizeLetters: [(letter: String, power: Int)] = [("K", 1), ("M", 2), ("G", 3), ("T", 4), ("P", 5)]

    /// Ages in seconds. A year is 365 days: placement cares about "roughly a
    /// year", not calendar arithmetic.
    static let durations: [(unit: String, seconds: Int64)] = [
        ("y", 365 * 86_400), ("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1),
    ]

    /// Bytes per unit, case-insensitive. "K", "Ki" and "KiB" are binary and
    /// only "KB" is decimal, the same rule as the pool file's sizes: disk
    /// sizes people type ("20G free") almost always mean powers of two.
    static func sizeMultiplier(_ unit: String) -> UInt64? {
        let upper = unit.uppercased()
        if upper.isEmpty || upper == "B" { return 1 }
        guard let entry = sizeLetters.first(where: { upper.hasPrefix($0.letter) }) else { return nil }
        switch upper.dropFirst() {
        case "", "I", "IB": return UInt64(1) << (10 * entry.power)
        case "B":
            var value: UInt64 = 1
            for _ in 0..<entry.power { value *= 1000 }
            return value
        default: return nil
        }
    }

    /// Seconds per unit; lowercase only, so "M" can never be mistaken for
    /// months or mebibytes.
    static func durationMultiplier(_ unit: String) -> Int64? {
        durations.first { $0.unit == unit }?.seconds
    }

    /// `whole.fraction × multiplier`, rounded down, or nil when it does not
    /// fit an Int64.
    static func scale(whole: String, fraction: String, by multiplier: UInt64) -> Int64? {
        guard let wholeValue = UInt64(whole) else { return nil }
        let scaled = wholeValue.multipliedReportingOverflow(by: multiplier)
        guard !scaled.overflow else { return nil }
        var total = scaled.partialValue
        // 19 digits keep 10^digits inside UInt64; later digits are worth less
        // than a byte or a second at any supported unit.
        let digits = fraction.prefix(19)
        if !digits.isEmpty, let numerator = UInt64(digits) {
            var denominator: UInt64 = 1
            for _ in 0..<digits.count { denominator *= 10 }
            let extra = denominator.dividingFullWidth(numerator.multipliedFullWidth(by: multiplier)).quotient
            let sum = total.addingReportingOverflow(extra)
            guard !sum.overflow else { return nil }
            total = sum.partialValue
        }
        return total <= UInt64(Int64.max) ? Int64(total) : nil
    }
}

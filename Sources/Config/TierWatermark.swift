/// Fill percentages for a tier: above `high` the tier sheds data until it is
/// back under `low`. Both lie in 1...100 and `low < high`.
public struct TierWatermark: Sendable, Equatable {
    public var high: Int
    public var low: Int
    /// The line of the `[tiers.NAME]` header.
    public var line: Int?

    public init(high: Int, low: Int, line: Int? = nil) {
        self.high = high
        self.low = low
        self.line = line
    }
}

/// `[tiers]`: the optional fastest-first `order`, and `[tiers.NAME]`
/// tables holding fill watermarks.
enum TierSchema {
    typealias Located = ConfigTableReader.Located
    static let watermarkKeys = ["high", "low"]
    static let percentRange: ClosedRange<Int64> = 1...100

    static func readOrder(_ reader: ConfigTableReader) throws(ConfigError) -> [Located<String>]? {
        for entry in reader.table.entries where entry.key != "order" && entry.value.table == nil {
            let key = TOMLLexer.render([entry.key])
            throw reader.error("unknown key '\(key)' in [tiers] (expected 'order' or [tiers.NAME] tables)",
                               at: entry.keyPosition)
        }
        guard let order = try reader.stringArray("order") else { return nil }
        guard !order.value.isEmpty else {
            throw reader.error("'order' must list at least one tier", at: order.position)
        }
        var seen: [String: Int] = [:]
        for tier in order.value {
            guard ConfigName.isValid(tier.value) else {
                throw reader.error("tier name '\(tier.value)' is invalid: \(ConfigName.rule)", at: tier.position)
            }
            if seen[tier.value] != nil {
                throw reader.error("tier '\(tier.value)' is listed twice in 'order'", at: tier.position)
            }
            seen[tier.value] = tier.position.line
        }
        return order.value
    }

    /// Without an explicit order, tiers rank by where the file first uses them.
    static func firstAppearance(of silos: [SiloConfig]) -> [String] {
        var tiers: [String] = []
        for silo in silos where !tiers.contains(silo.tier) {
            tiers.append(silo.tier)
        }
        return tiers
    }

    static func readWatermarks(_ reader: ConfigTableReader, tiers: [String]) throws(ConfigError) -> [String: TierWatermark] {
        var watermarks: [String: TierWatermark] = [:]
        for entry in reader.table.entries {
            guard let table = entry.value.table else { continue }
            let name = "[tiers.\(TOMLLexer.render([entry.key]))]"
            guard tiers.contains(entry.key) else {
                throw reader.error("\(name) is not a tier of this pool (tiers: \(tiers.joined(separator: ", ")))",
                                   at: table.position)
            }
            let tierReader = ConfigTableReader(table: table, name: name, file: reader.file)
            try tierReader.rejectUnknownKeys(allowed: watermarkKeys)
            let high = try tierReader.required("high") { key throws(ConfigError) in
                try tierReader.integer(key, in: percentRange)
            }
            let low = try tierReader.required("low") { key throws(ConfigError) in
                try tierReader.integer(key, in: percentRange)
            }
            guard low.value < high.value else {
                throw tierReader.error("'low' (\(low.value)) must be less than 'high' (\(high.value))", at: low.position)
            }
            watermarks[entry.key] = TierWatermark(high: high.value, low: low.value, line: table.line)
        }
        return watermarks
    }
}

/// A placement rule ready to evaluate: a pool `[[objective]]` or one parsed
/// from a directory's objective xattr.
public struct ObjectiveRule: Sendable, Equatable {
    public var name: String
    public var expression: Expression
    public var tier: String
    public var priority: Int
    /// "pool", or the path of the directory whose objective this is.
    public var source: String

    public init(name: String, expression: Expression, tier: String, priority: Int = 0, source: String = "pool") {
        self.name = name
        self.expression = expression
        self.tier = tier
        self.priority = priority
        self.source = source
    }
}

public enum ObjectiveEvaluator {
    /// The rule name reported when a pin decides.
    public static let pinRuleName = "pin"

    /// Where the file belongs, and which rule said so; nil when no rule
    /// matches (the caller keeps the file where it is or uses its default).
    ///
    /// An explicit pin (non-empty) outranks everything. Then rules in the
    /// order of `ordered(directoryRules:poolRules:)`; the first match decides.
    public static func decide(_ facts: FileFacts, pin: String?, directoryRules: [ObjectiveRule],
                              poolRules: [ObjectiveRule], now: Int64) -> (tier: String, rule: String)? {
        decide(facts, pin: pin, orderedRules: ordered(directoryRules: directoryRules, poolRules: poolRules), now: now)
    }

    /// `decide` for rules already put in order by `ordered`, so a scan over
    /// many files in one directory sorts once rather than once per file.
    public static func decide(_ facts: FileFacts, pin: String?, orderedRules: [ObjectiveRule],
                              now: Int64) -> (tier: String, rule: String)? {
        if let pin, !pin.isEmpty { return (pin, pinRuleName) }
        for rule in orderedRules where rule.expression.evaluate(facts, now: now) {
            return (rule.tier, rule.name)
        }
        return nil
    }

    /// The order in which `decide` tries rules, exposed so a caller can sort
    /// once per directory instead of once per file, and so `explain` can
    /// show the same order.
    ///
    /// Directory rules come first. They must be given nearest directory
    /// first (the caller knows the ancestry; paths are not compared here);
    /// rules with the same `source` stay together in the order their
    /// directories first appear and are sorted by descending priority.
    /// Pool rules follow, by descending priority. Ties keep the given
    /// (configuration) order.
    public static func ordered(directoryRules: [ObjectiveRule], poolRules: [ObjectiveRule]) -> [ObjectiveRule] {
        var sources: [String] = []
        var bySource: [String: [ObjectiveRule]] = [:]
        for rule in directoryRules {
            if bySource[rule.source] == nil { sources.append(rule.source) }
            bySource[rule.source, default: []].append(rule)
        }
        var result: [ObjectiveRule] = []
        result.reserveCapacity(directoryRules.count + poolRules.count)
        for source in sources { result += byPriority(bySource[source] ?? []) }
        return result + byPriority(poolRules)
    }

    /// Stable: Swift's sort is not guaranteed to be, so the index breaks ties.
    private static func byPriority(_ rules: [ObjectiveRule]) -> [ObjectiveRule] {
        rules.enumerated()
            .sorted { $0.element.priority != $1.element.priority ? $0.element.priority > $1.element.priority
                                                                  : $0.offset < $1.offset }
            .map(\.element)
    }
}

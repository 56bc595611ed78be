extension Expression {
    /// Whether the file satisfies the expression at time `now` (seconds since
    /// the epoch). Ages are `now - timestamp`, so `mtime > 30d` holds for
    /// files last modified more than 30 days ago and `atime < 12h` for files
    /// read within the last 12 hours; a timestamp in the future is a
    /// negative age and counts as very recent.
    public func evaluate(_ facts: FileFacts, now: Int64) -> Bool {
        // Only the logic nodes recurse; keeping conditions in their own
        // function keeps this frame small for deeply nested trees.
        switch self {
        case .not(let operand):
            return !operand.evaluate(facts, now: now)
        case .and(let operands):
            for operand in operands where !operand.evaluate(facts, now: now) { return false }
            return true
        case .or(let operands):
            for operand in operands where operand.evaluate(facts, now: now) { return true }
            return false
        default:
            return conditionHolds(facts, now: now)
        }
    }

    private func conditionHolds(_ facts: FileFacts, now: Int64) -> Bool {
        switch self {
        case .constant(let value): value
        case .not, .and, .or: evaluate(facts, now: now)
        case .pinned: facts.pinned
        case .hasTag(let name): facts.tags[name] != nil
        case .text(let field, let test): test.holds(for: field.value(in: facts))
        case .kind(let equality, let kind): (facts.kind == kind) == (equality == .equal)
        case .size(let comparison, let bytes): comparison.holds(facts.size, bytes)
        case .age(let field, let comparison, let seconds): comparison.holds(field.age(of: facts, now: now), seconds)
        case .owner(let field, let comparison, let id): comparison.holds(field.value(in: facts), id)
        case .heat(let comparison, let value): comparison.holds(facts.heat, value)
        }
    }
}

extension TextTest {
    /// `value` is nil for a missing tag: it equals and matches nothing, and
    /// so is "not equal" to everything.
    public func holds(for value: String?) -> Bool {
        switch self {
        case .equal(let expected): value == expected
        case .notEqual(let expected): value != expected
        case .matches(let glob): value.map(glob.matches) ?? false
        }
    }
}

extension TextField {
    func value(in facts: FileFacts) -> String? {
        switch self {
        case .path: facts.path
        case .name: facts.name
        case .tier: facts.tier
        case .silo: facts.silo
        case .tag(let name): facts.tags[name]
        }
    }
}

extension TimeField {
    func timestamp(in facts: FileFacts) -> Int64 {
        switch self {
        case .atime: facts.atime
        case .mtime: facts.mtime
        case .ctime: facts.ctime
        }
    }

    /// Saturates instead of trapping on absurd timestamps from a damaged index.
    func age(of facts: FileFacts, now: Int64) -> Int64 {
        let timestamp = timestamp(in: facts)
        let (age, overflow) = now.subtractingReportingOverflow(timestamp)
        guard overflow else { return age }
        return timestamp < 0 ? .max : .min
    }
}

extension OwnerField {
    func value(in facts: FileFacts) -> UInt32 {
        self == .uid ? facts.uid : facts.gid
    }
}

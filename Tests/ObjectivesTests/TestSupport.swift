import Testing
@testable import Objectives

/// A fixed "now" so age tests do not depend on the clock.
let testNow: Int64 = 1_700_000_000

func parsed(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> Expression {
    do {
        return try ObjectiveParser.parse(text)
    } catch {
        let shown = text.count > 120 ? String(text.prefix(120)) + "..." : text
        Issue.record("\(shown) failed: \(error)", sourceLocation: sourceLocation)
        throw error
    }
}

/// Parses and evaluates in one go, so evaluation tests read like the rules.
func matches(_ text: String, _ facts: FileFacts, now: Int64 = testNow,
             sourceLocation: SourceLocation = #_sourceLocation) throws -> Bool {
    try parsed(text, sourceLocation: sourceLocation).evaluate(facts, now: now)
}

/// The error a malformed expression produces, or nil when it parses.
func parseError(_ text: String) -> ObjectiveError? {
    do {
        _ = try ObjectiveParser.parse(text)
        return nil
    } catch {
        return error
    }
}

let day: Int64 = 86_400

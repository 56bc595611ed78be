import Testing
@testable import Objectives

/// Nesting must stop at the limit with an error, never by exhausting the
/// stack, and anything within the limit must survive every recursive walk.
@Suite struct NestingTests {
    private let limit = ObjectiveParser.maximumDepth

    @Test func parenthesesUpToTheLimitParse() throws {
        let text = String(repeating: "(", count: limit) + "pinned" + String(repeating: ")", count: limit)
        #expect(try parsed(text) == .pinned)
    }

    @Test func oneParenthesisTooManyFails() {
        let text = String(repeating: "(", count: limit + 1) + "pinned" + String(repeating: ")", count: limit + 1)
        #expect(parseError(text) == ObjectiveError(column: limit + 1, message: "nesting deeper than 256"))
    }

    @Test func aHundredThousandParenthesesFailAtTheLimit() {
        let text = String(repeating: "(", count: 100_000)
        #expect(parseError(text) == ObjectiveError(column: limit + 1, message: "nesting deeper than 256"))
    }

    @Test func notsCountTowardsTheLimit() throws {
        var expected = Expression.pinned
        for _ in 0..<limit { expected = .not(expected) }
        #expect(try parsed(String(repeating: "not ", count: limit) + "pinned") == expected)
        #expect(parseError(String(repeating: "not ", count: 100_000) + "pinned")
            == ObjectiveError(column: 4 * limit + 1, message: "nesting deeper than 256"))
    }

    @Test func mixedNotsAndParenthesesShareTheLimit() {
        let text = String(repeating: "not (", count: limit / 2) + "not pinned" + String(repeating: ")", count: limit / 2)
        #expect(parseError(text) == ObjectiveError(column: 5 * (limit / 2) + 1, message: "nesting deeper than 256"))
    }

    @Test func depthIsReleasedWhenGroupsClose() throws {
        // Many groups in sequence are wide, not deep.
        let group = String(repeating: "(", count: 200) + "pinned" + String(repeating: ")", count: 200)
        let text = Array(repeating: group, count: 20).joined(separator: " or ")
        #expect(try parsed(text) == .or(Array(repeating: .pinned, count: 20)))
    }

    @Test func longChainsStayShallow() throws {
        let text = Array(repeating: "pinned", count: 6_000).joined(separator: " or ")
        let expression = try parsed(text)
        #expect(expression == .or(Array(repeating: .pinned, count: 6_000)))
        #expect(expression.evaluate(FileFacts(path: "/x", pinned: true), now: 0))
    }

    /// The deepest tree the parser can build: each parenthesis adds both an
    /// `or` and an `and` level, so the tree is twice as deep as the nesting.
    /// Every walk over it must complete.
    @Test func deepestTreeSurvivesEveryWalk() throws {
        var text = "has tag.leaf"
        for _ in 0..<limit { text = "pinned or has tag.x and (\(text))" }
        let expression = try parsed(text)
        let facts = FileFacts(path: "/x", tags: ["leaf": "", "x": ""])
        #expect(expression.evaluate(facts, now: 0))
        #expect(expression.explain(facts, now: 0).count > 2 * limit)
        #expect(try parsed(expression.description) == expression)
        #expect(expression == expression)
        #expect(parseError("(" + text + ")")?.message == "nesting deeper than 256")
    }
}

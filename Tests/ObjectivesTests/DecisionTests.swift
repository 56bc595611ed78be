import Testing
@testable import Objectives

@Suite struct DecisionTests {
    private func rule(_ name: String, _ condition: String, _ tier: String, priority: Int = 0,
                      source: String = "pool") throws -> ObjectiveRule {
        ObjectiveRule(name: name, expression: try parsed(condition), tier: tier, priority: priority, source: source)
    }

    let video = FileFacts(path: "/projects/apollo/a.mkv", size: 2 << 30, tags: ["project": "apollo"])

    private func decide(pin: String? = nil, directory: [ObjectiveRule] = [], pool: [ObjectiveRule] = [])
        -> (tier: String, rule: String)? {
        ObjectiveEvaluator.decide(video, pin: pin, directoryRules: directory, poolRules: pool, now: testNow)
    }

    @Test func pinOutranksEverything() throws {
        let decision = decide(pin: "slow", directory: [try rule("d", "true", "fast", source: "/projects")],
                              pool: [try rule("p", "true", "fast", priority: 100)])
        #expect(decision?.tier == "slow")
        #expect(decision?.rule == "pin")
    }

    @Test func emptyPinIsNoPin() throws {
        #expect(decide(pin: "", pool: [try rule("p", "true", "fast")])?.rule == "p")
    }

    @Test func directoryRulesOutrankPoolRulesWhateverTheirPriority() throws {
        let decision = decide(directory: [try rule("d", "size > 1G", "archive", priority: -5, source: "/projects")],
                              pool: [try rule("p", "true", "fast", priority: 1_000)])
        #expect(decision?.tier == "archive")
        #expect(decision?.rule == "d")
    }

    @Test func nearestDirectoryFirstThenPriorityWithinIt() throws {
        let directory = [
            try rule("near-low", "true", "t1", priority: 0, source: "/projects/apollo"),
            try rule("far-high", "true", "t2", priority: 99, source: "/projects"),
            try rule("near-high", "true", "t3", priority: 5, source: "/projects/apollo"),
        ]
        #expect(decide(directory: directory)?.rule == "near-high")
        let order = ObjectiveEvaluator.ordered(directoryRules: directory, poolRules: []).map(\.name)
        #expect(order == ["near-high", "near-low", "far-high"])
    }

    @Test func poolRulesByPriorityThenConfigurationOrder() throws {
        let pool = [
            try rule("first", "true", "a"),
            try rule("second", "true", "b"),
            try rule("urgent", #"tag.project == "zeus""#, "c", priority: 10),
            try rule("third", "true", "d", priority: -1),
        ]
        #expect(decide(pool: pool)?.rule == "first")
        let order = ObjectiveEvaluator.ordered(directoryRules: [], poolRules: pool).map(\.name)
        #expect(order == ["urgent", "first", "second", "third"])
    }

    @Test func firstMatchingRuleDecides() throws {
        let pool = [
            try rule("small", "size < 1G", "fast", priority: 5),
            try rule("apollo", #"tag.project == "apollo""#, "bulk", priority: 5),
            try rule("all", "true", "archive"),
        ]
        #expect(decide(pool: pool)! == (tier: "bulk", rule: "apollo"))
    }

    @Test func preorderedRulesDecideTheSame() throws {
        let directory = [try rule("d", "size < 1G", "fast", source: "/projects")]
        let pool = [try rule("a", "true", "bulk"), try rule("b", "true", "cold", priority: 3)]
        let ordered = ObjectiveEvaluator.ordered(directoryRules: directory, poolRules: pool)
        let decision = ObjectiveEvaluator.decide(video, pin: nil, orderedRules: ordered, now: testNow)
        #expect(decision! == (tier: "cold", rule: "b"))
        #expect(ObjectiveEvaluator.decide(video, pin: "x", orderedRules: ordered, now: testNow)! == (tier: "x", rule: "pin"))
    }

    @Test func noMatchIsNil() throws {
        #expect(decide(directory: [try rule("d", "pinned", "x", source: "/p")], pool: [try rule("p", "false", "y")]) == nil)
        #expect(decide() == nil)
    }
}

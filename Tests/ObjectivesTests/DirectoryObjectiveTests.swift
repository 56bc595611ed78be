import Testing
@testable import Objectives

@Suite struct DirectoryObjectiveTests {
    @Test func placeWithCondition() throws {
        let objective = try ObjectiveParser.parseDirectoryObjective(#"place fast where tag.project == "apollo""#)
        #expect(objective.tier == "fast")
        #expect(objective.expression == .text(.tag("project"), .equal("apollo")))
    }

    @Test func placeAloneMeansEverything() throws {
        let objective = try ObjectiveParser.parseDirectoryObjective("  place archive  ")
        #expect(objective.tier == "archive")
        #expect(objective.expression == .constant(true))
    }

    @Test func quotedTier() throws {
        let objective = try ObjectiveParser.parseDirectoryObjective(#"place "cold-2" where size > 1G or pinned"#)
        #expect(objective.tier == "cold-2")
        #expect(objective.expression == .or([.size(.greater, 1 << 30), .pinned]))
    }

    @Test(arguments: [
        ("", 1, "empty directory objective"),
        ("fast where pinned", 1, "expected 'place' at the start of a directory objective, found 'fast'"),
        ("place", 6, "expected a tier name after 'place', found the end of the expression"),
        ("place where pinned", 7, "expected a tier name after 'place', found 'where'"),
        (#"place "" where pinned"#, 7, #"expected a tier name after 'place', found the string """#),
        ("place fast pinned", 12, "expected 'where' or the end of the objective after the tier name, found 'pinned'"),
        ("place fast where", 17, "expected a condition after 'where', found the end of the expression"),
        ("place fast where size >", 24, "'size' needs a size like 10G, not the end of the expression"),
        ("place fast where (pinned", 25, "unclosed parenthesis opened at column 18"),
    ])
    func malformed(text: String, column: Int, message: String) {
        do {
            _ = try ObjectiveParser.parseDirectoryObjective(text)
            Issue.record("\(text) parsed")
        } catch {
            #expect(error == ObjectiveError(column: column, message: message))
        }
    }
}

import Testing
@testable import Objectives
import TestSupport

/// Random input must either parse or throw a located `ObjectiveError`:
/// no trap, no hang, no column outside the text. Whatever parses must print
/// back to something that parses to the same tree.
@Suite struct FuzzTests {
    private static let tokens: [String] = [
        "path", "name", "size", "type", "uid", "gid", "atime", "mtime", "ctime", "heat", "tag.project", "tag.",
        "tag", "pinned", "tier", "silo", "has", "and", "or", "not", "true", "false", "place", "where", "fast",
        "file", "dir", "(", ")", "==", "!=", "<", "<=", ">", ">=", "~", "=", "!", "&&", "||", "\"", "\\",
        "\"apollo\"", "\"/projects/**\"", "\"*.mkv\"", "\"[a-\"", "\"a\\\"b\"", "\"\\q\"", "1G", "500MiB", "1.5",
        "10", "30d", "12h", "4294967296", "99999999999999999999P", "1e5", ".", "-", "'", "@", "é", "日本",
        "\u{0}", "\u{A0}", "\n", "\t", " ", "  ",
    ]

    private static let facts = [
        FileFacts(path: "/projects/apollo/a.mkv", size: 1 << 31, uid: 1000, mtime: 0, heat: 12,
                  tags: ["project": "apollo"], pinned: true, tier: "fast", silo: "nvme0"),
        FileFacts(path: "/x", kind: .directory),
    ]

    @Test func randomTokenSequencesParseOrFailCleanly() {
        var generator = SplitMix64(seed: 0x0B1E_C71F_0001)
        var parsedCount = 0
        for iteration in 0..<3_000 {
            let count = Int.random(in: 0...14, using: &generator)
            var text = ""
            for _ in 0..<count {
                text += Self.tokens.randomElement(using: &generator)!
                if Int.random(in: 0..<4, using: &generator) != 0 { text += " " }
            }
            if check(text, iteration: iteration) { parsedCount += 1 }
            checkDirectoryObjective("place fast where " + text, iteration: iteration)
        }
        #expect(parsedCount > 5, "the generator should reach the parser's success paths")
    }

    @Test func randomByteStringsParseOrFailCleanly() {
        var generator = SplitMix64(seed: 0x0B1E_C71F_0002)
        for iteration in 0..<3_000 {
            let count = Int.random(in: 0...64, using: &generator)
            var bytes: [UInt8] = []
            for _ in 0..<count {
                // Half printable ASCII so the lexer gets past the first byte.
                bytes.append(Bool.random(using: &generator)
                    ? UInt8.random(in: 0x20...0x7E, using: &generator) : UInt8.random(in: 0...255, using: &generator))
            }
            let text = String(decoding: bytes, as: UTF8.self)
            check(text, iteration: iteration)
            checkDirectoryObjective(text, iteration: iteration)
        }
    }

    /// Returns whether the text parsed.
    @discardableResult
    private func check(_ text: String, iteration: Int) -> Bool {
        let length = text.unicodeScalars.count
        do {
            let expression = try ObjectiveParser.parse(text)
            for facts in Self.facts {
                _ = expression.evaluate(facts, now: testNow)
                #expect(!expression.explain(facts, now: testNow).isEmpty)
            }
            let printed = expression.description
            #expect((try? ObjectiveParser.parse(printed)) == expression,
                    "iteration \(iteration): \(text.debugDescription) printed as \(printed.debugDescription)")
            return true
        } catch {
            #expect((1...length + 1).contains(error.column) && !error.message.isEmpty,
                    "iteration \(iteration): \(text.debugDescription) -> \(error)")
            return false
        }
    }

    private func checkDirectoryObjective(_ text: String, iteration: Int) {
        do {
            let objective = try ObjectiveParser.parseDirectoryObjective(text)
            #expect(!objective.tier.isEmpty)
        } catch {
            #expect((1...text.unicodeScalars.count + 1).contains(error.column),
                    "iteration \(iteration): \(text.debugDescription) -> \(error)")
        }
    }

    /// Valid-by-construction expressions reach the success paths that
    /// random tokens rarely do: all must parse and print back identically.
    @Test func randomValidExpressionsRoundTrip() throws {
        var generator = SplitMix64(seed: 0x0B1E_C71F_0004)
        for iteration in 0..<3_000 {
            let text = RandomExpression.make(depth: 4, using: &generator)
            let expression = try parsed(text)
            #expect(try parsed(expression.description) == expression, "iteration \(iteration): \(text)")
            for facts in Self.facts {
                _ = expression.evaluate(facts, now: testNow)
                _ = expression.explain(facts, now: testNow)
            }
        }
    }

    /// The state-set matcher against a naive backtracking reference on
    /// small random patterns and paths.
    @Test func globMatchesTheReferenceMatcher() throws {
        let patternPieces = ["a", "b", "/", "*", "**", "**/", "?", "[ab]", "[!a]", "\\*"]
        let textPieces = ["a", "b", "/", "*"]
        var generator = SplitMix64(seed: 0x0B1E_C71F_0003)
        for iteration in 0..<3_000 {
            var pattern = ""
            for _ in 0..<Int.random(in: 0...6, using: &generator) { pattern += patternPieces.randomElement(using: &generator)! }
            var text = ""
            for _ in 0..<Int.random(in: 0...8, using: &generator) { text += textPieces.randomElement(using: &generator)! }
            let expected = ReferenceGlob.matches(Array(pattern), 0, Array(text), 0)
            let glob = try Glob(pattern)
            #expect(glob.matches(text) == expected,
                    "iteration \(iteration): \(pattern.debugDescription) vs \(text.debugDescription)")
            #expect(glob.matchesWide(text) == expected, "iteration \(iteration), wide matcher")
        }
    }
}

/// A direct transcription of the glob rules, exponential but obviously
/// right, for the fuzz comparison. Classes are the simple `[ab]`/`[!a]`
/// forms the generator emits.
private enum ReferenceGlob {
    static func matches(_ pattern: [Character], _ p: Int, _ text: [Character], _ t: Int) -> Bool {
        guard p < pattern.count else { return t == text.count }
        switch pattern[p] {
        case "*" where p + 2 < pattern.count && pattern[p + 1] == "*" && pattern[p + 2] == "/":
            if matches(pattern, p + 3, text, t) { return true }
            return (t..<text.count).contains { text[$0] == "/" && matches(pattern, p + 3, text, $0 + 1) }
        case "*" where p + 1 < pattern.count && pattern[p + 1] == "*":
            return (t...text.count).contains { matches(pattern, p + 2, text, $0) }
        case "*":
            var end = t
            while end < text.count && text[end] != "/" { end += 1 }
            return (t...end).contains { matches(pattern, p + 1, text, $0) }
        case "?":
            return t < text.count && text[t] != "/" && matches(pattern, p + 1, text, t + 1)
        case "\\":
            return t < text.count && text[t] == pattern[p + 1] && matches(pattern, p + 2, text, t + 1)
        case "[":
            let close = pattern[(p + 1)...].firstIndex(of: "]")!
            var members = pattern[(p + 1)..<close]
            let negated = members.first == "!"
            if negated { members = members.dropFirst() }
            return t < text.count && text[t] != "/" && members.contains(text[t]) != negated
                && matches(pattern, close + 1, text, t + 1)
        default:
            return t < text.count && text[t] == pattern[p] && matches(pattern, p + 1, text, t + 1)
        }
    }
}

/// A tiny grammar walk producing well-formed `where` expressions.
private enum RandomExpression {
    static let conditions = [
        #"path ~ "/projects/**/*.mkv""#, #"name == "a b\"c""#, "size > 1.5G", "size <= 500MiB", "size == 1000",
        "type == dir", #"type != "file""#, "uid == 1000", "gid >= 100", "mtime > 30d", "atime < 12h",
        "ctime != 90m", "heat > 10.5", "heat < 0.001", #"tag.project == "apollo""#, #"tag.owner ~ "ops*""#,
        #"tag.x != """#, "has tag.keep", "pinned", "tier == fast", #"silo != "nvme0""#, "true", "false",
    ]

    static func make(depth: Int, using generator: inout SplitMix64) -> String {
        let choice = depth == 0 ? 0 : Int.random(in: 0..<5, using: &generator)
        switch choice {
        case 1: return "not " + make(depth: depth - 1, using: &generator)
        case 2: return "(" + make(depth: depth - 1, using: &generator) + ")"
        case 3: return make(depth: depth - 1, using: &generator) + " and " + make(depth: depth - 1, using: &generator)
        case 4: return make(depth: depth - 1, using: &generator) + " or " + make(depth: depth - 1, using: &generator)
        default: return conditions.randomElement(using: &generator)!
        }
    }
}

import Testing
@testable import Objectives

@Suite struct GlobTests {
    @Test(arguments: [
        ("/projects/apollo/**", "/projects/apollo/a.mkv", true),
        ("/projects/apollo/**", "/projects/apollo/x/y/z.mkv", true),
        ("/projects/apollo/**", "/projects/apollo", false),
        ("/projects/apollo/**", "/projects/apollonia/a", false),
        ("/projects/*", "/projects/a", true),
        ("/projects/*", "/projects/a/b", false),
        ("/projects/*/b", "/projects/a/b", true),
        ("/projects/*/b", "/projects/a/c/b", false),
        ("/**/*.mkv", "/a.mkv", true),
        ("/**/*.mkv", "/a/b/c.mkv", true),
        ("/**/x", "/ax", false),
        ("/**/x", "/a/x", true),
        ("/p/**/x", "/p/x", true),
        ("/p/**/x", "/p/a/b/x", true),
        ("/p/**/x", "/px", false),
        ("**/x", "/a/x", true),
        ("**", "/anything/at/all", true),
        ("/a/**.log", "/a/b/c.log", true),
        ("/a/**.log", "/a/b/c.txt", false),
        ("?", "a", true),
        ("?", "/", false),
        ("?", "", false),
        ("a?c", "abc", true),
        ("a?c", "ac", false),
        ("[abc].txt", "b.txt", true),
        ("[abc].txt", "d.txt", false),
        ("[a-z]1", "q1", true),
        ("[a-z]1", "Q1", false),
        ("[!a-z]1", "Q1", true),
        ("[!a-z]1", "q1", false),
        ("[^0-9]", "x", true),
        ("[]x]", "]", true),
        ("[a-]", "-", true),
        ("a[/]b", "a/b", false),
        ("\\*", "*", true),
        ("\\*", "x", false),
        ("[\\]]", "]", true),
        ("*", "", true),
        ("", "", true),
        ("", "x", false),
        ("*.mkv", "movie.mkv", true),
        ("*.mkv", "movie.mkv.part", false),
        ("*.MKV", "movie.mkv", false),
        ("ops*", "ops-team", true),
        ("ops*", "devops", false),
        ("*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ("日*", "日本", true),
    ])
    func matching(pattern: String, text: String, expected: Bool) throws {
        #expect(try Glob(pattern).matches(text) == expected)
    }

    /// Patterns of 64 pieces or more take the array-based matcher.
    @Test func longPatterns() throws {
        let directory = "/" + String(repeating: "d", count: 80)
        let glob = try Glob(directory + "/**/*.mkv")
        #expect(glob.matches(directory + "/a/b/c.mkv"))
        #expect(glob.matches(directory + "/c.mkv"))
        #expect(!glob.matches(directory + "x/c.mkv"))
        #expect(!glob.matches(directory + "/c.mp4"))
        let literal = try Glob(directory)
        #expect(literal.matches(directory))
        #expect(!literal.matches(directory + "/"))
    }

    @Test func malformedPatterns() {
        #expect(throws: ObjectiveError(column: 3, message: #"unclosed '[' in pattern "ab[cd""#)) {
            try Glob("ab[cd")
        }
        #expect(throws: ObjectiveError(column: 3, message: #"pattern "ab\\" ends with a lone backslash"#)) {
            try Glob("ab\\")
        }
        #expect(throws: ObjectiveError(column: 1, message: #"unclosed '[' in pattern "[]""#)) {
            try Glob("[]")
        }
    }

    @Test func reversedRangeMatchesNothing() throws {
        #expect(try !Glob("[z-a]").matches("m"))
        #expect(try Glob("[!z-a]").matches("m"))
    }
}

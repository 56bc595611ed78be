import Testing
@testable import Objectives

/// A malformed expression and the exact diagnostic it must produce.
struct BadExpression: CustomTestStringConvertible, Sendable {
    var text: String
    var column: Int
    var message: String

    init(_ text: String, _ column: Int, _ message: String) {
        self.text = text
        self.column = column
        self.message = message
    }

    var testDescription: String { "column \(column): \(message)" }
}

private let fields = "path, name, size, type, uid, gid, atime, mtime, ctime, heat, tag.NAME, pinned, tier, silo"
private let ages = "mtime > 30d means older than 30 days, atime < 12h means within the last 12 hours"

@Suite struct ErrorTests {
    static let cases: [BadExpression] = [
        // Structure
        BadExpression("", 1, "empty expression"),
        BadExpression(" \t\n ", 1, "empty expression"),
        BadExpression("true or szie > 1G", 9, "unknown field 'szie' (fields: \(fields))"),
        BadExpression("pinned and size apollo", 17, "expected a comparison operator after 'size', found 'apollo'"),
        BadExpression("size", 5, "expected a comparison operator after 'size', found the end of the expression"),
        BadExpression("not (size > 1G", 15, "unclosed parenthesis opened at column 5"),
        BadExpression("((pinned)", 10, "unclosed parenthesis opened at column 1"),
        BadExpression("pinned)", 7, "')' has no matching '('"),
        BadExpression("size > 1G size", 11, "expected 'and', 'or' or the end of the expression, found 'size'"),
        BadExpression("(size > 1G size)", 12, "expected 'and', 'or' or ')', found 'size'"),
        BadExpression("size > 10 G", 11, "expected 'and', 'or' or the end of the expression, found 'G'"),
        BadExpression("pinned and", 11, "expected a condition after 'and', found the end of the expression"),
        BadExpression("pinned or or pinned", 11, "expected a condition after 'or', found 'or'"),
        BadExpression("not", 4, "expected a condition after 'not', found the end of the expression"),
        BadExpression("()", 2, "expected a condition after '(', found ')'"),
        BadExpression("== 5", 1, "expected a condition, found '=='"),
        BadExpression("and pinned", 1, "expected a condition, found 'and'"),
        BadExpression("1G > size", 1, "expected a condition, found '1G'"),
        BadExpression(#""x" == name"#, 1, #"expected a condition, found the string "x""#),
        // Operators
        BadExpression("size = 1G", 6, "'=' is not an operator; use '==' to compare"),
        BadExpression("! pinned", 1, "'!' is not an operator; use 'not' to negate or '!=' to compare"),
        BadExpression("pinned && true", 8, "'&&' is not an operator; use 'and'"),
        BadExpression("pinned | true", 8, "'|' is not an operator; use 'or'"),
        BadExpression(#"size ~ "1G""#, 6, "'size' can only be compared with ==, !=, <, <=, > or >=, not '~'"),
        BadExpression(#"path < "/a""#, 6, "'path' can only be compared with ==, != or ~, not '<'"),
        BadExpression("type > file", 6, "'type' can only be compared with == or !=, not '>'"),
        BadExpression("pinned == true", 8, "'pinned' is a condition by itself; write 'pinned' or 'not pinned'"),
        // Strings and patterns
        BadExpression("name == 'x'", 9, #"strings need double quotes ("..."), not single quotes"#),
        BadExpression(#"name == "abc"#, 13, "unterminated string starting at column 9"),
        BadExpression(#"name == "a\qb""#, 11, #"unknown escape '\q' in string (use \", \\, \n or \t)"#),
        BadExpression("path ~ /a/**", 8, #"paths and patterns must be quoted, like "/projects/**""#),
        BadExpression(#"name ~ "[ab""#, 8, #"unclosed '[' in pattern "[ab""#),
        BadExpression(#"name ~ "ab\\""#, 8, #"pattern "ab\\" ends with a lone backslash"#),
        BadExpression("tag.project == apollo", 16, #"'tag.project' needs a string like "apollo", not 'apollo'"#),
        BadExpression("path == 5", 9, #"'path' needs a string like "/projects/**", not '5'"#),
        BadExpression("tier == ", 9, #"'tier' needs a tier name like fast or "fast", not the end of the expression"#),
        // Sizes
        BadExpression(#"size > "big""#, 8, #"'size' needs a size like 10G, not the string "big""#),
        BadExpression("size >", 7, "'size' needs a size like 10G, not the end of the expression"),
        BadExpression("size > 10X", 8,
                      "unknown size unit 'X' in '10X' (use K, M, G, T or P; K and KiB are 1024 bytes, KB is 1000)"),
        BadExpression("size > 1G5", 8,
                      "unknown size unit 'G5' in '1G5' (use K, M, G, T or P; K and KiB are 1024 bytes, KB is 1000)"),
        BadExpression("size > 1.5", 8, "a size in bytes must be a whole number, not '1.5'"),
        BadExpression("size > 99999999P", 8, "size '99999999P' is too large"),
        BadExpression("size > 99999999999999999999", 8, "size '99999999999999999999' is too large"),
        // Ages
        BadExpression("mtime > 30", 9, "'mtime' needs an age with a unit like 30d, not '30' (\(ages))"),
        BadExpression(#"atime < "yesterday""#, 9,
                      #"'atime' needs an age with a unit like 30d, not the string "yesterday" (\#(ages))"#),
        BadExpression("atime < 12x", 9, "unknown age unit 'x' in '12x' (use s, m, h, d, w or y; \(ages))"),
        BadExpression("mtime > 3M", 9, "unknown age unit 'M' in '3M' (use s, m, h, d, w or y; \(ages))"),
        BadExpression("mtime > 999999999999y", 9, "age '999999999999y' is too large"),
        // Numbers and names
        BadExpression("uid == alice", 8, "'uid' needs a number like 1000, not 'alice'"),
        BadExpression("gid == 1.5", 8, "'gid' needs a number like 1000, not '1.5'"),
        BadExpression("uid == 4294967296", 8, "'uid' must be at most 4294967295, not '4294967296'"),
        BadExpression("heat > hot", 8, "'heat' needs a number like 10.5, not 'hot'"),
        BadExpression("heat > 10G", 8, "'heat' needs a number like 10.5, not '10G'"),
        BadExpression("type == blob", 9, "'type' needs one of file, dir, symlink, fifo, socket or other, not 'blob'"),
        BadExpression(#"tag == "x""#, 1, "'tag' needs a tag name, like tag.project"),
        BadExpression(#"tag. == "x""#, 1, "'tag.' needs a tag name, like tag.project"),
        BadExpression("has keep", 5, "expected tag.NAME after 'has', found 'keep'"),
        BadExpression("has", 4, "expected tag.NAME after 'has', found the end of the expression"),
        // Characters
        BadExpression("size @ 1G", 6, "unexpected character '@'"),
        BadExpression("pinned \u{0}", 8, "unexpected character U+0000"),
        BadExpression("pinned\u{A0}", 7, "unexpected character U+00A0"),
        BadExpression("é == 1", 1, "unknown field 'é' (fields: \(fields))"),
        BadExpression("日本 > 1G and x", 1, "unknown field '日本' (fields: \(fields))"),
        BadExpression(String(repeating: "a", count: 50) + " == 1", 1,
                      "unknown field '\(String(repeating: "a", count: 37))...' (fields: \(fields))"),
    ]

    @Test(arguments: cases)
    func diagnostic(_ bad: BadExpression) {
        #expect(parseError(bad.text) == ObjectiveError(column: bad.column, message: bad.message), "\(bad.text)")
    }

    @Test func descriptionLeadsWithTheColumn() {
        let error = ObjectiveError(column: 12, message: "expected a comparison operator after 'size', found 'apollo'")
        #expect(error.description == "column 12: expected a comparison operator after 'size', found 'apollo'")
    }

    @Test func overlongInputReportsTheCap() {
        let text = String(repeating: "pinned or ", count: 7_000) + "pinned"
        #expect(parseError(text) == ObjectiveError(column: 65_537, message: "expression is longer than 65536 characters"))
    }

    @Test func overlongStringLiteralReportsTheCapNotTheMissingQuote() {
        let text = "name == \"" + String(repeating: "x", count: 70_000) + "\""
        #expect(parseError(text) == ObjectiveError(column: 65_537, message: "expression is longer than 65536 characters"))
    }

    @Test func exactlyAtTheCapStillParses() throws {
        let body = "pinned"
        let padding = String(repeating: " ", count: Lexer.maximumLength - body.count)
        #expect(try parsed(padding + body) == .pinned)
        #expect(parseError(padding + body + " ") != nil)
    }

    @Test func errorsComeInReadingOrder() {
        // The parse error at 'size' precedes the unterminated string.
        #expect(parseError(#"size size "abc"#)
            == ObjectiveError(column: 6, message: "expected a comparison operator after 'size', found 'size'"))
    }
}

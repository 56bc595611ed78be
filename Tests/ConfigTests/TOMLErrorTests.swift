import Testing
@testable import Config

/// Each case: document, expected line, column and message.
private struct ErrorCase: CustomTestStringConvertible, Sendable {
    var text: String
    var line: Int
    var column: Int
    var message: String

    init(_ text: String, _ line: Int, _ column: Int, _ message: String) {
        self.text = text
        self.line = line
        self.column = column
        self.message = message
    }

    var testDescription: String { message }
}

@Suite struct TOMLErrorTests {
    private static let syntaxCases: [ErrorCase] = [
        ErrorCase("a = \"abc", 1, 5, "unterminated string"),
        ErrorCase("a = 'abc\nb = 1", 1, 5, "unterminated string"),
        ErrorCase("\n\na = \"\"\"abc\n", 3, 5, "unterminated multi-line string"),
        ErrorCase("a = \"\"\"x\"\"\"\"\"\"", 1, 15, "too many quotes at the end of a multi-line string"),
        ErrorCase(#"a = "x\qy""#, 1, 7, #"invalid escape sequence '\q'"#),
        ErrorCase("a = \"\"\"x\\ y\"\"\"", 1, 9, #"invalid escape sequence '\ '"#),
        ErrorCase(#"a = "x\u12""#, 1, 7, #"escape '\u' needs 4 hex digits"#),
        ErrorCase(#"a = "\UD800D800""#, 1, 6, "escape for U+D800D800 is not a Unicode scalar value"),
        ErrorCase(#"a = "\uD800""#, 1, 6, "escape for U+D800 is not a Unicode scalar value"),
        ErrorCase("a = \"x\\\ny\"", 1, 7, "a backslash may end a line only in a multi-line string"),
        ErrorCase("a = \"x\u{01}\"", 1, 7, "control character U+0001 must be escaped in a string"),
        ErrorCase("# bad \u{7F} comment", 1, 7, "control character U+007F is not allowed in a comment"),
        ErrorCase("a = 1\rb = 2", 1, 6, "carriage return must be followed by a line feed"),
        ErrorCase("a = 1 b = 2", 1, 7, "expected a newline after a value, found 'b'"),
        ErrorCase("[t] x = 1", 1, 5, "expected a newline after a table header, found 'x'"),
        ErrorCase("a 1", 1, 3, "expected '=' after key 'a', found '1'"),
        ErrorCase("\"a b\".c\n", 1, 8, "expected '=' after key '\"a b\".c', found end of line"),
        ErrorCase("= 1", 1, 1, "expected a key, found '='"),
        ErrorCase("a.= 1", 1, 3, "expected a key, found '='"),
        ErrorCase("\"\"\"k\"\"\" = 1", 1, 1, "multi-line strings cannot be used as keys"),
        ErrorCase("a =", 1, 4, "expected a value, found end of file"),
        ErrorCase("a = # nothing", 1, 5, "expected a value, found '#'"),
        ErrorCase("name = media", 1, 8, "invalid value 'media' (strings must be quoted)"),
        ErrorCase("p = /mnt/x", 1, 5, "invalid value '/mnt/x'"),
        ErrorCase("a = 1.", 1, 5, "invalid value '1.'"),
        ErrorCase("a = 1__0", 1, 5, "invalid value '1__0'"),
        ErrorCase("a = _1", 1, 5, "invalid value '_1'"),
        ErrorCase("a = 0x", 1, 5, "invalid value '0x'"),
        ErrorCase("a = 1e", 1, 5, "invalid value '1e'"),
        ErrorCase("a = .5", 1, 5, "invalid value '.5'"),
        ErrorCase("a = 0X1F", 1, 5, "invalid value '0X1F'"),
        ErrorCase("a = 0b102", 1, 5, "invalid value '0b102'"),
        ErrorCase("a = truex", 1, 5, "invalid value 'truex' (strings must be quoted)"),
        ErrorCase("a = 012", 1, 5, "leading zeros are not allowed in '012'"),
        ErrorCase("a = -01.5", 1, 5, "leading zeros are not allowed in '-01.5'"),
        ErrorCase("a = +0x10", 1, 5, "a sign is not allowed on hexadecimal, octal or binary integers"),
        ErrorCase("a = 9223372036854775808", 1, 5, "integer '9223372036854775808' does not fit in 64 bits"),
        ErrorCase("a = -9223372036854775809", 1, 5, "integer '-9223372036854775809' does not fit in 64 bits"),
        ErrorCase("a = 0x1_0000_0000_0000_0000", 1, 5, "integer '0x1_0000_0000_0000_0000' does not fit in 64 bits"),
        ErrorCase("a = 99999999999999999999999999999999", 1, 5,
                  "integer '99999999999999999999999999999999' does not fit in 64 bits"),
        ErrorCase("a = 1e400", 1, 5, "float '1e400' is out of range"),
        ErrorCase("d = 1979-05-27", 1, 5, "dates and times are not supported"),
        ErrorCase("d = 1979-05-27T07:32:00Z", 1, 5, "dates and times are not supported"),
        ErrorCase("t = 07:32:00", 1, 5, "dates and times are not supported"),
        ErrorCase("a = [1, 2", 1, 5, "unterminated array"),
        ErrorCase("a = [1 2]", 1, 8, "expected ',' or ']' in array, found '2'"),
        ErrorCase("a = [,]", 1, 6, "expected a value, found ','"),
        ErrorCase("a = {x = 1", 1, 5, "unterminated inline table"),
        ErrorCase("a = {x = 1,}", 1, 12, "trailing comma is not allowed in an inline table"),
        ErrorCase("a = {x = 1\n}", 1, 11, "newlines are not allowed inside an inline table"),
        ErrorCase("a = {\nx = 1}", 1, 6, "newlines are not allowed inside an inline table"),
        ErrorCase("a = {x = 1 y = 2}", 1, 12, "expected ',' or '}' in inline table, found 'y'"),
        ErrorCase("[a", 1, 3, "expected ']' to close the table header, found end of file"),
        ErrorCase("[[a]", 1, 5, "expected ']]' to close the table header, found end of file"),
        ErrorCase("[[a] ]", 1, 5, "expected ']]' to close the table header, found ' '"),
        ErrorCase("[]", 1, 2, "expected a key, found ']'"),
    ]

    @Test(arguments: syntaxCases)
    fileprivate func syntaxErrors(_ testCase: ErrorCase) {
        let error = syntaxError(testCase.text)
        #expect(error == TOMLError(line: testCase.line, column: testCase.column, message: testCase.message))
    }

    private static let redefinitionCases: [ErrorCase] = [
        ErrorCase("a = 1\na = 2", 2, 1, "duplicate key 'a' (first defined on line 1)"),
        ErrorCase("a = 1\n\"a\" = 2", 2, 1, "duplicate key 'a' (first defined on line 1)"),
        ErrorCase("[t]\nx.y = 1\nx.y = 2", 3, 3, "duplicate key 't.x.y' (first defined on line 2)"),
        ErrorCase("a = {x = 1, x = 2}", 1, 13, "duplicate key 'x' (first defined on line 1)"),
        ErrorCase("[a]\n[b]\n[a]", 3, 1, "table [a] is already defined on line 1"),
        ErrorCase("[a.b]\n[a]\n[a]", 3, 1, "table [a] is already defined on line 2"),
        ErrorCase("[fruit]\napple.color = 1\n[fruit.apple]", 3, 1, "table [fruit.apple] is already defined on line 2"),
        ErrorCase("[a]\nb = 1\n[a.b]", 3, 1, "key 'a.b' is already defined as a value on line 2"),
        ErrorCase("a = 1\n[a.b]", 2, 2, "key 'a' is already defined as a value on line 1"),
        ErrorCase("a = {}\n[a.b]", 2, 2, "cannot extend inline table 'a' defined on line 1"),
        ErrorCase("a = {x = 1}\na.y = 2", 2, 1, "cannot extend inline table 'a' defined on line 1"),
        ErrorCase("a = []\n[[a]]", 2, 1, "cannot extend array 'a' defined on line 1"),
        ErrorCase("[[a]]\n[a]", 2, 1, "cannot define [a]: it is already an array of tables (line 1)"),
        ErrorCase("[a]\n[[a]]", 2, 1, "cannot define [[a]]: [a] is already a table (line 1)"),
        ErrorCase("[a.b.c]\nz = 9\n[a]\nb.c.t = 1", 4, 3,
                  "cannot add to table 'a.b.c' with dotted keys: it is defined on line 1"),
        ErrorCase("[product]\ntype.name = 1\n[x]\n[product.type]", 4, 1, "table [product.type] is already defined on line 2"),
        ErrorCase("[[a]]\n[b]\na.x = 1\n[[b.a]]", 4, 1, "cannot define [[b.a]]: [b.a] is already a table (line 3)"),
        ErrorCase("[[x.t]]\n[x]\nt.q = 1", 3, 1, "cannot add to 'x.t' with dotted keys: it is an array of tables (line 1)"),
        ErrorCase("[[t]]\n[x]\n[[x.t]]\n[x]", 4, 1, "table [x] is already defined on line 2"),
    ]

    @Test(arguments: redefinitionCases)
    fileprivate func redefinitionErrors(_ testCase: ErrorCase) {
        let error = syntaxError(testCase.text)
        #expect(error == TOMLError(line: testCase.line, column: testCase.column, message: testCase.message))
    }

    @Test func invalidUTF8IsReportedWithItsLine() {
        let bytes = Array("a = 1\nb = \"".utf8) + [0xC3, 0x28] + Array("\"\n".utf8)
        #expect(syntaxError(bytes: bytes) == TOMLError(line: 2, column: 6, message: "invalid UTF-8 (byte 0xC3)"))
        #expect(syntaxError(bytes: [0xED, 0xA0, 0x80])?.message == "invalid UTF-8 (byte 0xED)")
        #expect(syntaxError(bytes: [0xC0, 0x80])?.message == "invalid UTF-8 (byte 0xC0)")
        #expect(syntaxError(bytes: Array("x = 'é".utf8.dropLast()))?.message == "invalid UTF-8 (byte 0xC3)")
    }

    @Test func deepArraysAndInlineTablesAreCappedNotCrashing() {
        let arrays = "a = " + String(repeating: "[", count: 100_000)
        #expect(syntaxError(arrays) == TOMLError(line: 1, column: 5 + 128, message: "nesting is deeper than 128 levels"))
        let tables = "a = " + String(repeating: "{b = ", count: 100_000)
        #expect(syntaxError(tables)?.message == "nesting is deeper than 128 levels")
        let dotted = Array(repeating: "k", count: 200).joined(separator: ".") + " = 1"
        #expect(syntaxError(dotted) == TOMLError(line: 1, column: 2 * 128 + 1, message: "nesting is deeper than 128 levels"))
        let header = "[" + Array(repeating: "k", count: 100_000).joined(separator: ".") + "]"
        #expect(syntaxError(header)?.message == "nesting is deeper than 128 levels")
        let mixed = "[" + Array(repeating: "k", count: 120).joined(separator: ".") + "]\nv = " + String(repeating: "[", count: 20)
        #expect(syntaxError(mixed) == TOMLError(line: 2, column: 5 + 8, message: "nesting is deeper than 128 levels"))
    }

    @Test func errorDescriptionIsLineColonColumn() {
        #expect(TOMLError(line: 3, column: 9, message: "boom").description == "3:9: boom")
    }
}

@Suite struct TOMLKeyRenderingTests {
    @Test func messagesQuoteKeysThatAreNotBare() {
        #expect(TOMLLexer.render(["a", "b-c_1"]) == "a.b-c_1")
        #expect(TOMLLexer.render(["a b", "", "q\"\\", "\u{1}"]) == #""a b".""."q\"\\"."\u0001""#)
    }
}

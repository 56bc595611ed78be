import Testing
@testable import Config

@Suite struct TOMLScalarTests {
    @Test func basicStringEscapes() {
        let doc = document(#"s = "tab\tnl\nq\"bs\\b\bf\fr\r e\u00E9 g\U0001F600""#)
        #expect(doc["s"]?.string == "tab\tnl\nq\"bs\\b\u{08}f\u{0C}r\r e\u{E9} g\u{1F600}")
    }

    @Test func literalStringsKeepBackslashes() {
        let doc = document(#"p = 'C:\Users\n'"#)
        #expect(doc["p"]?.string == #"C:\Users\n"#)
    }

    @Test func multilineBasicStringTrimsFirstNewlineAndJoinsLines() {
        let text = "s = \"\"\"\nRoses \\\n    are red\nand \"quoted\" \"\"\"\n"
        #expect(document(text)["s"]?.string == "Roses are red\nand \"quoted\" ")
    }

    @Test func multilineStringsAllowQuotesBeforeTheClosingDelimiter() {
        #expect(document("a = \"\"\"x\"\"\"\"\"\n")["a"]?.string == "x\"\"")
        #expect(document("b = '''y'''''\n")["b"]?.string == "y''")
        #expect(document("c = '''\n  raw \\n ''\n'''")["c"]?.string == "  raw \\n ''\n")
    }

    @Test func multilineStringNormalisesCRLF() {
        #expect(document("s = \"\"\"a\r\nb\"\"\"\r\n")["s"]?.string == "a\nb")
    }

    @Test func emptyStrings() {
        let doc = document("a = \"\"\nb = ''\nc = \"\"\"\"\"\"\nd = ''''''")
        #expect(doc["a"]?.string == "")
        #expect(doc["b"]?.string == "")
        #expect(doc["c"]?.string == "")
        #expect(doc["d"]?.string == "")
    }

    @Test func integersInEveryBase() {
        let doc = document("""
            a = 42
            b = +17
            c = -0
            d = 1_000_000
            e = 0xDEAD_beef
            f = 0o755
            g = 0b1101
            h = 9223372036854775807
            i = -9223372036854775808
            j = 0x7FFFFFFFFFFFFFFF
            """)
        #expect(doc["a"]?.integer == 42)
        #expect(doc["b"]?.integer == 17)
        #expect(doc["c"]?.integer == 0)
        #expect(doc["d"]?.integer == 1_000_000)
        #expect(doc["e"]?.integer == 0xDEAD_BEEF)
        #expect(doc["f"]?.integer == 0o755)
        #expect(doc["g"]?.integer == 13)
        #expect(doc["h"]?.integer == .max)
        #expect(doc["i"]?.integer == .min)
        #expect(doc["j"]?.integer == .max)
    }

    @Test func floats() {
        let doc = document("""
            a = 3.1415
            b = -0.01
            c = 5e+22
            d = 1e06
            e = -2E-2
            f = 6.626e-34
            g = 224_617.445_991
            h = inf
            i = -inf
            j = nan
            k = +nan
            l = 0.0
            """)
        #expect(doc["a"]?.float == 3.1415)
        #expect(doc["b"]?.float == -0.01)
        #expect(doc["c"]?.float == 5e22)
        #expect(doc["d"]?.float == 1e6)
        #expect(doc["e"]?.float == -0.02)
        #expect(doc["f"]?.float == 6.626e-34)
        #expect(doc["g"]?.float == 224_617.445_991)
        #expect(doc["h"]?.float == .infinity)
        #expect(doc["i"]?.float == -.infinity)
        #expect(doc["j"]?.float?.isNaN == true)
        #expect(doc["k"]?.float?.isNaN == true)
        #expect(doc["l"]?.float == 0)
        #expect(doc["a"]?.typeName == "float")
    }

    @Test func booleans() {
        let doc = document("t = true\nf = false")
        #expect(doc["t"]?.boolean == true)
        #expect(doc["f"]?.boolean == false)
        #expect(doc["t"]?.typeName == "boolean")
    }

    @Test func keysBareQuotedAndDotted() {
        let doc = document("""
            bare_key-1 = 1
            1234 = 2
            "quoted key" = 3
            'literal "key"' = 4
            "" = 5
            site."google.com".ok = true
            a . b . c = 6
            3.14159 = "pi"
            """)
        #expect(doc["bare_key-1"]?.integer == 1)
        #expect(doc["1234"]?.integer == 2)
        #expect(doc["quoted key"]?.integer == 3)
        #expect(doc["literal \"key\""]?.integer == 4)
        #expect(doc[""]?.integer == 5)
        #expect(value(doc, "site", "google.com", "ok")?.boolean == true)
        #expect(value(doc, "a", "b", "c")?.integer == 6)
        #expect(value(doc, "3", "14159")?.string == "pi")
        #expect(doc.keys == ["bare_key-1", "1234", "quoted key", "literal \"key\"", "", "site", "a", "3"])
    }

    @Test func commentsAndBlankLinesAndBOM() {
        let text = "\u{FEFF}# header comment\n\n  \t\na = 1 # trailing\r\n# end"
        let doc = document(text)
        #expect(doc["a"]?.integer == 1)
        #expect(doc["a"]?.position == TOMLPosition(line: 4, column: 5))
    }
}

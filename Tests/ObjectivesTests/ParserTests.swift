import Testing
@testable import Objectives
import TestSupport

@Suite struct ParserTests {
    @Test func comparisonsOnEveryField() throws {
        #expect(try parsed(#"path ~ "/projects/apollo/**""#) == .text(.path, .matches(try Glob("/projects/apollo/**"))))
        #expect(try parsed(#"path == "/a/b""#) == .text(.path, .equal("/a/b")))
        #expect(try parsed(#"name != "x.tmp""#) == .text(.name, .notEqual("x.tmp")))
        #expect(try parsed(#"name ~ "*.mkv""#) == .text(.name, .matches(try Glob("*.mkv"))))
        #expect(try parsed("size > 1G") == .size(.greater, 1 << 30))
        #expect(try parsed("size <= 500MiB") == .size(.lessOrEqual, 500 << 20))
        #expect(try parsed("type == dir") == .kind(.equal, .directory))
        #expect(try parsed(#"type != "symlink""#) == .kind(.notEqual, .symlink))
        #expect(try parsed("uid == 1000") == .owner(.uid, .equal, 1000))
        #expect(try parsed("gid >= 100") == .owner(.gid, .greaterOrEqual, 100))
        #expect(try parsed("mtime > 30d") == .age(.mtime, .greater, 30 * day))
        #expect(try parsed("atime < 12h") == .age(.atime, .less, 12 * 3_600))
        #expect(try parsed("ctime != 90s") == .age(.ctime, .notEqual, 90))
        #expect(try parsed("heat > 10.5") == .heat(.greater, 10.5))
        #expect(try parsed(#"tag.project == "apollo""#) == .text(.tag("project"), .equal("apollo")))
        #expect(try parsed(#"tag.owner ~ "ops*""#) == .text(.tag("owner"), .matches(try Glob("ops*"))))
        #expect(try parsed("has tag.keep") == .hasTag("keep"))
        #expect(try parsed("pinned") == .pinned)
        #expect(try parsed(#"tier == "fast""#) == .text(.tier, .equal("fast")))
        #expect(try parsed("silo == nvme0") == .text(.silo, .equal("nvme0")))
        #expect(try parsed("true") == .constant(true))
        #expect(try parsed("false") == .constant(false))
    }

    @Test func sizeUnits() throws {
        let cases: [(String, Int64)] = [
            ("0", 0), ("512", 512), ("512B", 512), ("1K", 1024), ("1k", 1024), ("1KiB", 1024), ("1Ki", 1024),
            ("1KB", 1000), ("1kb", 1000), ("2M", 2 << 20), ("2MB", 2_000_000), ("1G", 1 << 30),
            ("1GB", 1_000_000_000), ("1T", 1 << 40), ("1TB", 1_000_000_000_000), ("1P", 1 << 50),
            ("1PB", 1_000_000_000_000_000), ("1.5G", 3 << 29), ("0.5K", 512), ("1.0001K", 1024),
        ]
        for (text, bytes) in cases {
            #expect(try parsed("size == \(text)") == .size(.equal, bytes), "\(text)")
        }
    }

    @Test func ageUnits() throws {
        let cases: [(String, Int64)] = [
            ("45s", 45), ("5m", 300), ("2h", 7_200), ("3d", 3 * day), ("2w", 14 * day), ("1y", 365 * day),
            ("1.5d", 36 * 3_600), ("0s", 0),
        ]
        for (text, seconds) in cases {
            #expect(try parsed("mtime > \(text)") == .age(.mtime, .greater, seconds), "\(text)")
        }
    }

    @Test func tagNamesAllowDotsDashesAndUnderscores() throws {
        #expect(try parsed(#"tag.my-project.v2_x == "a""#) == .text(.tag("my-project.v2_x"), .equal("a")))
        #expect(try parsed("has tag.2024") == .hasTag("2024"))
    }

    @Test func stringEscapes() throws {
        #expect(try parsed(#"name == "a\"b\\c\nd\te""#) == .text(.name, .equal("a\"b\\c\nd\te")))
        #expect(try parsed(#"name == """#) == .text(.name, .equal("")))
        #expect(try parsed(#"name == "日本語 ✓""#) == .text(.name, .equal("日本語 ✓")))
    }

    @Test func notBindsTighterThanAndWhichBindsTighterThanOr() throws {
        #expect(try parsed("pinned or has tag.a and not has tag.b")
            == .or([.pinned, .and([.hasTag("a"), .not(.hasTag("b"))])]))
        #expect(try parsed("not pinned and has tag.a")
            == .and([.not(.pinned), .hasTag("a")]))
        #expect(try parsed("has tag.a and has tag.b or has tag.c and has tag.d")
            == .or([.and([.hasTag("a"), .hasTag("b")]), .and([.hasTag("c"), .hasTag("d")])]))
    }

    @Test func parenthesesOverridePrecedence() throws {
        #expect(try parsed("(pinned or has tag.a) and has tag.b")
            == .and([.or([.pinned, .hasTag("a")]), .hasTag("b")]))
        #expect(try parsed("not (pinned or has tag.a)") == .not(.or([.pinned, .hasTag("a")])))
        #expect(try parsed("((pinned))") == .pinned)
        #expect(try parsed("not not pinned") == .not(.not(.pinned)))
    }

    @Test func chainsStayFlat() throws {
        #expect(try parsed("pinned or true or false") == .or([.pinned, .constant(true), .constant(false)]))
        #expect(try parsed("pinned and true and false") == .and([.pinned, .constant(true), .constant(false)]))
    }

    @Test func whitespaceIsFlexible() throws {
        #expect(try parsed("size>1G") == .size(.greater, 1 << 30))
        #expect(try parsed("\t(pinned)\nand\r\nsize<=1K  ") == .and([.pinned, .size(.lessOrEqual, 1024)]))
        #expect(try parsed(#"name~"*.mkv""#) == .text(.name, .matches(try Glob("*.mkv"))))
    }

    @Test func canonicalPrinting() throws {
        let cases: [(String, String)] = [
            (#"tag.project=="apollo"  and   size>1024M"#, #"tag.project == "apollo" and size > 1G"#),
            ("size >= 1000", "size >= 1KB"),
            ("size < 1536K", "size < 1536K"),
            ("size < 1.5G", "size < 1536M"),
            ("size == 1001", "size == 1001"),
            ("mtime > 14d", "mtime > 2w"),
            ("mtime > 30d", "mtime > 30d"),
            ("atime < 720m", "atime < 12h"),
            ("ctime > 365d", "ctime > 1y"),
            ("heat > 10.50", "heat > 10.5"),
            ("heat > 10.0", "heat > 10"),
            ("heat > 0.00001", "heat > 0.00001"),
            ("heat >= 100000000000000000000", "heat >= 100000000000000000000"),
            (#"type == "directory""#, "type == dir"),
            ("tier == fast", #"tier == "fast""#),
            (#"name == "a\"b\\c\nd\te""#, #"name == "a\"b\\c\nd\te""#),
            ("(pinned or has tag.a) and not (has tag.b and true)",
             "(pinned or has tag.a) and not (has tag.b and true)"),
            ("pinned or (has tag.a or has tag.b)", "pinned or (has tag.a or has tag.b)"),
            ("pinned or (has tag.a and has tag.b)", "pinned or has tag.a and has tag.b"),
            ("(((pinned)))", "pinned"),
        ]
        for (input, expected) in cases {
            let expression = try parsed(input)
            #expect(expression.description == expected)
            #expect(try parsed(expression.description) == expression, "round trip of \(input)")
        }
    }

    /// Every value prints in a form that parses back to the same value.
    @Test func printedValuesRoundTrip() throws {
        var generator = SplitMix64(seed: 0x0B1E_C71F_0005)
        for _ in 0..<2_000 {
            let shift = Int.random(in: 0...62, using: &generator)
            let bytes = Int64.random(in: 0...(Int64(1) << shift), using: &generator)
            let seconds = Int64.random(in: 0...(Int64(1) << shift), using: &generator)
            let heat = Double(Int64.random(in: 0...1_000_000, using: &generator))
                / Double(Int64(1) << Int.random(in: 0...40, using: &generator))
            for expression in [Expression.size(.greater, bytes), .age(.mtime, .less, seconds), .heat(.equal, heat)] {
                #expect(try parsed(expression.description) == expression, "\(expression)")
            }
        }
    }

    @Test func numbersPrintWithoutExponents() {
        #expect(Formatting.number(0.0000001) == "0.0000001")
        #expect(Formatting.number(1.5e-7) == "0.00000015")
        #expect(Formatting.number(1.2345e16) == "12345000000000000")
        #expect(Formatting.number(42) == "42")
        #expect(Formatting.number(3.25) == "3.25")
        #expect(Formatting.number(-2.5e-5) == "-0.000025")
    }

    @Test func constructedEmptyListsPrintAsTheirIdentity() {
        #expect(Expression.and([]).description == "true")
        #expect(Expression.or([]).description == "false")
        #expect(Expression.and([]).evaluate(FileFacts(path: "/x"), now: 0))
        #expect(!Expression.or([]).evaluate(FileFacts(path: "/x"), now: 0))
    }
}

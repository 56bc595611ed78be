import Testing
@testable import Config

@Suite struct TOMLStructureTests {
    @Test func arraysMayBeMultilineMixedAndEndInAComma() {
        let doc = document("""
            a = [
              1, # one
              "two",
              [3.0, true],
              { x = 4 },
            ]
            e = []
            """)
        let elements = doc["a"]?.array ?? []
        #expect(elements.count == 4)
        #expect(elements[0].integer == 1)
        #expect(elements[1].string == "two")
        #expect(elements[2].array?.map(\.typeName) == ["float", "boolean"])
        #expect(elements[3].table?["x"]?.integer == 4)
        #expect(doc["e"]?.array == [])
        #expect(elements[1].position == TOMLPosition(line: 3, column: 3))
    }

    @Test func inlineTablesWithDottedKeys() {
        let doc = document(#"p = { name = "x", a.b = 1, a.c = 2 }"#)
        #expect(value(doc, "p", "name")?.string == "x")
        #expect(value(doc, "p", "a", "b")?.integer == 1)
        #expect(value(doc, "p", "a", "c")?.integer == 2)
        #expect(doc["p"]?.table?.position == TOMLPosition(line: 1, column: 5))
        #expect(document("e = {}")["e"]?.table?.isEmpty == true)
    }

    @Test func tablesAndSubtables() {
        let doc = document("""
            top = 0
            [a]
            x = 1
            [a.b]
            y = 2
            [c.d.e]
            z = 3
            [c]
            w = 4
            """)
        #expect(value(doc, "a", "x")?.integer == 1)
        #expect(value(doc, "a", "b", "y")?.integer == 2)
        #expect(value(doc, "c", "d", "e", "z")?.integer == 3)
        #expect(value(doc, "c", "w")?.integer == 4)
        #expect(doc["a"]?.table?.line == 2)
        #expect(value(doc, "a", "b")?.table?.line == 4)
        // [c] was implied by [c.d.e] on line 6 and defined on line 8.
        #expect(doc["c"]?.table?.line == 8)
        #expect(value(doc, "c", "d")?.table?.line == 6)
        #expect(doc.keys == ["top", "a", "c"])
    }

    @Test func arraysOfTablesCarryTheirHeaderLines() {
        let doc = document("""
            [[silo]]
            name = "a"

            [[silo]]
            name = "b"
            [silo.extra]
            k = true
            [[silo.disk]]
            n = 1
            """)
        let silos = doc["silo"]?.array ?? []
        #expect(silos.count == 2)
        #expect(silos.map { $0.table?.line } == [1, 4])
        #expect(silos.map { $0.line } == [1, 4])
        #expect(silos[1].table?["extra"]?.table?["k"]?.boolean == true)
        #expect(silos[1].table?["disk"]?.array?.first?.table?["n"]?.integer == 1)
        #expect(silos[0].table?["extra"] == nil)
        #expect(doc["silo"]?.line == 1)
    }

    @Test func valuesAndKeysCarryPositions() {
        let doc = document("""
            [pool]
              name   =   "media"
            n."é" = 'x'
            """)
        let pool = doc["pool"]?.table
        #expect(pool?.position == TOMLPosition(line: 1, column: 1))
        #expect(pool?.entry("name")?.keyPosition == TOMLPosition(line: 2, column: 3))
        #expect(pool?["name"]?.position == TOMLPosition(line: 2, column: 14))
        #expect(pool?["n"]?.table?.position == TOMLPosition(line: 3, column: 1))
        // Columns count scalars, not bytes: the value starts at column 9, not 10.
        #expect(pool?["n"]?.table?["é"]?.position == TOMLPosition(line: 3, column: 9))
        #expect(pool?["n"]?.table?.entry("é")?.keyPosition == TOMLPosition(line: 3, column: 3))
    }

    @Test func dottedKeysMayBeExtendedWithSubtableHeaders() {
        let doc = document("""
            [fruit]
            apple.color = "red"
            apple.taste.sweet = true
            [fruit.apple.texture]
            smooth = true
            """)
        #expect(value(doc, "fruit", "apple", "taste", "sweet")?.boolean == true)
        #expect(value(doc, "fruit", "apple", "texture", "smooth")?.boolean == true)
    }

    @Test func implicitTablesMayBeFilledByDottedKeysOrAHeaderOnce() {
        let doc = document("""
            [ a . "b c" . d ]
            z = 9
            [a]
            "b c".e = 1
            [[x]]
            [x.y]
            n = 1
            [[x]]
            [x.y]
            n = 2
            """)
        #expect(value(doc, "a", "b c", "d", "z")?.integer == 9)
        #expect(value(doc, "a", "b c", "e")?.integer == 1)
        #expect(doc["x"]?.array?.compactMap { $0.table?["y"]?.table?["n"]?.integer } == [1, 2])
    }

    @Test func linesStayRightAfterMultilineValues() {
        let doc = document("s = \"\"\"\na\r\nb\"\"\"\na = [\n  1,\n\t2 ]\nt = 'x'")
        #expect(doc["a"]?.array?.last?.position == TOMLPosition(line: 6, column: 2))
        #expect(doc["t"]?.position == TOMLPosition(line: 7, column: 5))
    }

    @Test func nestingUpToTheLimitIsFine() {
        let depth = TOMLParser.maximumDepth - 1
        let text = "a = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var current = document(text)["a"]
        var levels = 0
        while let next = current?.array?.first {
            current = next
            levels += 1
        }
        #expect(levels == depth - 1)
    }

    @Test func parsesFromBytesAndStringAlike() throws {
        let text = "a = \"é\"\n[b]\nc = [1, 2]\n"
        #expect(try TOMLParser.parse(text) == TOMLParser.parse(Array(text.utf8)))
    }
}

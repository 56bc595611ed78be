import Foundation
import Index
import Syscalls
import Testing

/// The Index interface, engine by engine: entries, names, hard links, tags and shadows behave
/// the same whichever engine keeps them.
struct NamespaceConformanceTests {
    @Test(arguments: EngineUnderTest.all)
    func entriesAreInsertedFoundUpdatedAndDeleted(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let ino = try f.insert(f.file("a.txt", size: 10))
        #expect(ino > 1, "inode 1 is the root")
        var row = try #require(try f.entry(ino))
        #expect(row.name.text == "a.txt" && row.parent == 1 && row.kind == .regular && row.size == 10 && row.backingInode == 77)
        #expect(try f.entry("a.txt")?.ino == ino)
        #expect(try f.entry(1)?.kind == .directory, "the root exists from the start")

        row.size = 20; row.mode = UInt32(S_IFREG) | 0o600; row.target = nil
        try f.index.write { tx throws(IndexError) in try tx.update(row) }
        #expect(try f.entry(ino) == row)

        // updateData leaves name and placement alone.
        var data = row
        data.size = 30; data.name = Array("ignored".utf8); data.silo = 5
        try f.index.write { tx throws(IndexError) in try tx.updateData(data) }
        let updated = try #require(try f.entry(ino))
        #expect(updated.size == 30 && updated.name.text == "a.txt" && updated.silo == 0)

        try f.index.write { tx throws(IndexError) in try tx.setName(ino, parent: 1, name: Array("b.txt".utf8), ctime: 5) }
        #expect(try f.entry("a.txt") == nil)
        #expect(try f.entry("b.txt")?.ctimeNs == 5)

        // A symlink keeps its target, bytes as they are.
        var link = f.file("l")
        link.kind = .symlink; link.target = [0x2f, 0xff, 0x00, 0x41]
        let linkIno = try f.insert(link)
        #expect(try f.entry(linkIno)?.target == [0x2f, 0xff, 0x00, 0x41])

        try f.index.write { tx throws(IndexError) in
            try tx.setXattr(of: ino, name: Array("user.k".utf8), value: Array("v".utf8))
            try tx.setHeat(ino: ino, score: 3, updated: 100, extents: [1])
            try tx.setChecksums(ino: ino, silo: 0, size: 30, mtime: 1, extentSize: 4096, hashes: [1, 2])
            try tx.delete(ino)
        }
        #expect(try f.entry(ino) == nil)
        try f.reading { tx throws in
            #expect(try tx.xattrs(of: ino).isEmpty && tx.heatRow(ino) == nil && tx.checksums(of: ino) == nil,
                    "a deleted inode leaves no tags, heat or checksums behind")
        }
        #expect(try f.index.query { tx throws(IndexError) in try tx.entryCount() } == 1)
    }

    @Test(arguments: EngineUnderTest.all)
    func namesAreUniquePerDirectoryAndListedInOrder(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let dir = try f.insert(f.directory("d"))
        for name in ["b", "a", "c"] { try f.insert(f.file(name, in: dir)) }
        let sub = try f.insert(f.directory("sub", in: dir))
        // Names are bytes: not UTF-8, not normalised, case kept.
        let odd: [UInt8] = [0xff, 0x41]
        var oddRow = f.file("x", in: dir)
        oddRow.name = odd
        let oddIno = try f.insert(oddRow)
        #expect(try f.index.query { tx throws(IndexError) in try tx.entry(parent: dir, name: odd) }?.ino == oddIno)
        #expect(try f.entry("A", in: dir) == nil)

        let taken = #expect(throws: IndexError.self) { try f.insert(f.file("b", in: dir)) }
        #expect(taken?.kind == .conflict && taken?.errno == .fileExists)
        #expect(try f.insert(f.file("b", in: sub)) > 0, "the same name in another directory is free")

        let listing = try f.index.query { tx throws(IndexError) in try tx.listing(of: dir) }
        #expect(listing.map(\.name) == [Array("a".utf8), Array("b".utf8), Array("c".utf8), Array("sub".utf8), odd])
        #expect(listing.first { $0.name == Array("sub".utf8) }?.kind == .directory)
        let children = try f.index.read { tx throws(IndexError) in try tx.children(of: dir) }
        #expect(children.map(\.name) == listing.map(\.name))
        let byName = try f.index.query { tx throws(IndexError) in try tx.firstNames(in: dir) }
        #expect(Set(byName.keys) == Set(listing.map(\.name)))

        try f.index.write { tx throws(IndexError) in try tx.recountLinks(ofDirectory: dir) }
        #expect(try f.entry(dir)?.nlink == 3, "2 + one subdirectory")
        try f.index.write { tx throws(IndexError) in try tx.setLinkCount(dir, 7) }
        #expect(try f.entry(dir)?.nlink == 7)

        try f.reading { tx throws in
            #expect(try tx.resolve(path: Array("d/sub/b".utf8))?.parent == sub)
            #expect(try tx.resolve(path: Array("d/sub/../a".utf8))?.name.text == "a")
            #expect(try tx.resolve(path: Array("d/nope".utf8)) == nil)
            #expect(try tx.path(of: sub).map(\.text) == "d/sub")
            #expect(try tx.regularFiles(on: 0).count == 5)
        }
    }

    @Test(arguments: EngineUnderTest.all)
    func hardLinksAreFoundListedAndRemovedWithTheirInode(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        // A shared index (several daemons) cannot know that no other daemon added a link.
        #expect(f.index.mayHoldLinks == f.index.engine.isShared)
        let dir = try f.insert(f.directory("d"))
        let ino = try f.insert(f.file("first"))
        try f.index.write { tx throws(IndexError) in
            try tx.insertLink(parent: dir, name: Array("second".utf8), ino: ino)
            try tx.insertLink(parent: 1, name: Array("third".utf8), ino: ino)
        }
        #expect(f.index.mayHoldLinks)
        #expect(try f.entry("second", in: dir)?.ino == ino)
        try f.reading { tx throws in
            let found = try Array("second".utf8).withUnsafeBufferPointer { name throws(IndexError) in try tx.entry(parent: dir, name: name, links: false) }
            #expect(found == nil, "links: false consults first names only")
            #expect(try tx.isLink(parent: dir, name: Array("second".utf8)))
            #expect(try !tx.isLink(parent: 1, name: Array("first".utf8)))
            #expect(try tx.linkNames(in: dir) == [Array("second".utf8): ino])
            #expect(try tx.anyLink(of: ino) != nil)
            #expect(try tx.listing(of: dir).map(\.ino) == [ino])
            let linked = try tx.children(of: dir)
            #expect(linked.count == 1 && linked[0].parent == dir && linked[0].name.text == "second" && linked[0].ino == ino)
        }
        var visited: [String] = []
        try ReadTransaction.readOnly(engine: try f.engine.make(f.root)) { tx throws in
            try tx.walk(under: 1) { visited.append($0.path.text + ($0.isLinkName ? "@" : "")) }
        }
        #expect(visited == ["d", "d/second@", "first", "third@"])
        let taken = #expect(throws: IndexError.self) {
            try f.index.write { tx throws(IndexError) in try tx.insertLink(parent: dir, name: Array("second".utf8), ino: ino) }
        }
        #expect(taken?.kind == .conflict)

        try f.index.write { tx throws(IndexError) in try tx.deleteLink(parent: 1, name: Array("third".utf8)) }
        #expect(try f.entry("third") == nil)
        try f.index.write { tx throws(IndexError) in try tx.delete(ino) }
        #expect(try f.entry("second", in: dir) == nil, "deleting the inode removes its other names")
        #expect(try f.index.query { tx throws(IndexError) in try tx.anyLink(of: ino) } == nil)
    }

    @Test(arguments: EngineUnderTest.all)
    func tagsAreSetQueriedAndReplaced(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let a = try f.insert(f.file("a")), b = try f.insert(f.file("b"))
        let project = Array("user.project".utf8)
        try f.index.write { tx throws(IndexError) in
            try tx.setXattr(of: a, name: project, value: Array("x".utf8))
            try tx.setXattr(of: b, name: project, value: Array("y".utf8))
            try tx.setXattr(of: a, name: Array("user.b".utf8), value: [])
            try tx.setXattr(of: a, name: project, value: Array("z".utf8))   // replaces
        }
        try f.reading { tx throws in
            #expect(try tx.xattrs(of: a).map(\.name.text) == ["user.b", "user.project"])
            #expect(try project.withUnsafeBufferPointer { n throws(IndexError) in try tx.xattr(of: a, name: n) } == Array("z".utf8))
            #expect(try Array("user.b".utf8).withUnsafeBufferPointer { n throws(IndexError) in try tx.xattr(of: a, name: n) } == [],
                    "an empty value is a value, not a missing tag")
            #expect(try tx.inodes(withXattr: project) == [a, b])
            #expect(try tx.inodes(withXattr: project, value: Array("y".utf8)) == [b])
            #expect(try tx.xattrValues(named: project) == [a: Array("z".utf8), b: Array("y".utf8)])
            #expect(try tx.hasTagIndex())
            var all: [String] = []
            try tx.forEachXattr { ino, name, value in all.append("\(ino == a ? "a" : "b") \(name.text)=\(value.text)") }
            #expect(all.sorted() == ["a user.b=", "a user.project=z", "b user.project=y"])
        }
        let removed = try f.index.write { tx throws(IndexError) in
            (try tx.deleteXattr(of: a, name: Array("user.b".utf8)), try tx.deleteXattr(of: a, name: Array("user.b".utf8)))
        }
        #expect(removed == (true, false))
        try f.index.write { tx throws(IndexError) in try tx.replaceXattrs(of: b, with: [(Array("user.n".utf8), [1])]) }
        #expect(try f.index.query { tx throws(IndexError) in try tx.xattrs(of: b).map(\.name.text) } == ["user.n"])
    }

    /// Tag values of any length (PostgreSQL's btree refuses index rows over about 2.7 KB, so
    /// its tag index holds a hash of the value): set, read, queried by value and replaced.
    @Test(arguments: EngineUnderTest.all)
    func largeTagValuesAreStoredAndQueried(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let a = try f.insert(f.file("a")), b = try f.insert(f.file("b"))
        let name = Array("user.notes".utf8)
        // Incompressible (PostgreSQL would compress a pattern below the limit): xorshift bytes.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let big = (0..<(64 << 10)).map { _ -> UInt8 in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state >> 24)
        }
        var other = big
        other[other.count - 1] ^= 0xff
        try f.index.write { tx throws(IndexError) in
            try tx.setXattr(of: a, name: name, value: big)
            try tx.setXattr(of: b, name: name, value: other)
        }
        try f.reading { tx throws in
            #expect(try name.withUnsafeBufferPointer { n throws(IndexError) in try tx.xattr(of: a, name: n) } == big)
            #expect(try tx.inodes(withXattr: name, value: big) == [a])
            #expect(try tx.inodes(withXattr: name, value: other) == [b])
            #expect(try tx.inodes(withXattr: name) == [a, b])
            #expect(try tx.hasTagIndex())
        }
        try f.index.write { tx throws(IndexError) in try tx.setXattr(of: a, name: name, value: other) }
        #expect(try f.index.query { tx throws(IndexError) in try tx.inodes(withXattr: name, value: other) } == [a, b])
        #expect(try f.index.query { tx throws(IndexError) in try tx.inodes(withXattr: name, value: big) } == [])
    }

    @Test(arguments: EngineUnderTest.all)
    func shadowsAreKeptPerSiloAndCounted(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        #expect(f.index.mayHoldShadows == f.index.engine.isShared)
        let dir = try f.insert(f.directory("d"))
        let ino = try f.insert(f.file("a", in: dir))
        let older = ShadowRow(ino: ino, silo: 1, kind: .regular, size: 3, mtimeNs: 10)
        let newer = ShadowRow(ino: ino, silo: 2, kind: .regular, size: 4, mtimeNs: 20)
        try f.index.write { tx throws(IndexError) in
            try tx.upsertShadow(older); try tx.upsertShadow(newer)
            var changed = older; changed.size = 5
            try tx.upsertShadow(changed)
        }
        #expect(f.index.mayHoldShadows)
        try f.reading { tx throws in
            #expect(try tx.shadows(of: ino).map(\.silo) == [2, 1], "newest first")
            #expect(try tx.shadows(of: ino).last?.size == 5)
            #expect(try tx.shadows(in: dir, silo: 2) == [ino: newer])
            #expect(try tx.shadowCount() == 2)
            #expect(try tx.allShadows().map { $0.path.text } == ["d/a", "d/a"])
        }
        try f.index.write { tx throws(IndexError) in try tx.deleteShadow(ino: ino, silo: 1) }
        #expect(try f.index.query { tx throws(IndexError) in try tx.shadowCount() } == 1)
        try f.index.write { tx throws(IndexError) in try tx.delete(ino) }
        #expect(try f.index.query { tx throws(IndexError) in try tx.shadowCount() } == 0, "shadows go with their inode")
    }

    @Test(arguments: EngineUnderTest.all)
    func silosKeepTheirIdsAndState(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let (fast, slow) = try f.index.write { tx throws(IndexError) in
            (try tx.registerSilo(name: "fast", path: "/f", tier: "ssd"), try tx.registerSilo(name: "slow", path: "/s", tier: "hdd"))
        }
        #expect(fast != slow)
        let again = try f.reopen().write { tx throws(IndexError) in try tx.registerSilo(name: "slow", path: "/s2", tier: "hdd") }
        #expect(again == slow, "a known name keeps its id")
        try f.index.write { tx throws(IndexError) in
            try tx.recordScan(silo: fast, generation: 3, entries: 9, at: 1234)
            try tx.setHealth(silo: slow, health: "offline", reason: "unplugged")
            try tx.setDraining(silo: slow, true)
            try tx.setMeta("k", "v1"); try tx.setMeta("k", "v2")
        }
        let rows = try f.index.query { tx throws(IndexError) in try tx.silos() }
        #expect(rows.map(\.name) == ["fast", "slow"])
        #expect(rows[0].scanGeneration == 3 && rows[0].entries == 9 && rows[0].scannedAt == 1234 && rows[0].health == "unknown")
        #expect(rows[1].path == "/s2" && rows[1].health == "offline" && rows[1].healthReason == "unplugged" && rows[1].scannedAt == nil)
        #expect(try f.index.query { tx throws(IndexError) in try tx.drainingSilos() } == [slow])
        #expect(try f.index.query { tx throws(IndexError) in try tx.meta("k") } == "v2")

        try f.insert(f.file("on-fast", silo: fast))
        var dir = f.directory("both", silo: fast)
        dir.dirSilos |= 1 << UInt64(slow)
        try f.insert(dir)
        #expect(try f.index.query { tx throws(IndexError) in (try tx.entryCount(silo: fast), try tx.entryCount(silo: slow)) } == (2, 1))
        #expect(try f.index.query { tx throws(IndexError) in try tx.entryCounts() } == [fast: 2, slow: 1])

        let full = #expect(throws: IndexError.self) {
            try f.index.write { tx throws(IndexError) in
                for i in 0..<63 { _ = try tx.registerSilo(name: "s\(i)", path: "/\(i)", tier: "t") }
            }
        }
        #expect(full?.kind == .invalid, "a pool holds at most 64 silos")
    }

    /// The scan's and `estuary status`'s one-pass counts agree with the per-silo count: files by
    /// the silo holding their data, directories once per silo they merge (bit 63 included),
    /// the root never.
    @Test(arguments: EngineUnderTest.all)
    func entryCountsAgreeWithTheCountOfEachSilo(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        for (k, silo) in [0, 0, 1, 2, 2, 2, 63].enumerated() { try f.insert(f.file("f\(k)", silo: silo)) }
        var link = f.file("l", silo: 1)
        link.kind = .symlink; link.target = Array("f0".utf8)
        try f.insert(link)
        for (k, silos) in [[0], [1, 2], [0, 1, 2, 63], [63], [2]].enumerated() {
            var dir = f.directory("d\(k)", silo: silos[0])
            dir.dirSilos = silos.reduce(0) { $0 | 1 << UInt64($1) }
            try f.insert(dir)
        }
        var root = try #require(try f.entry(1))
        root.dirSilos = 0b111
        try f.index.write { tx throws(IndexError) in try tx.update(root) }

        let counts = try f.index.query { tx throws(IndexError) in try tx.entryCounts() }
        #expect(counts == [0: 4, 1: 4, 2: 6, 63: 3])
        for silo in [0, 1, 2, 3, 62, 63] {
            #expect(try f.index.query { tx throws(IndexError) in try tx.entryCount(silo: silo) } == counts[silo] ?? 0, "silo \(silo)")
        }
    }
}

import Foundation
@testable import Index
import Syscalls
import Testing

/// `search(names:)` (the name index of migration 0007-name-search) against `walk` filtered by
/// the same test: the same names, the same paths, the same order, on every engine.
@Suite(.serialized)
struct NameSearchConformanceTests {
    static let names: [[UInt8]] = [
        Array("f249".utf8), Array("f2490".utf8), Array("xf249".utf8), Array("a.mkv".utf8), Array("b.MKV".utf8),
        Array(".mkv".utf8), Array("mkv".utf8), Array("movie.mkv.part".utf8), [0x6e, 0x61, 0xef, 0xff, 0x76, 0x65],
        [0x66, 0xff], [0x66, 0xff, 0xff, 0x01], [0x66], Array("g%_*?[x]".utf8), Array("é.mkv".utf8),
    ]

    static let matches: [NameMatch] = [
        .exact(Array("f249".utf8)), .exact([0x66, 0xff]), .exact(Array("nothing".utf8)), .exact(Array("g%_*?[x]".utf8)),
        .prefix(Array("f2".utf8)), .prefix([0x66, 0xff]), .prefix([0x66]), .prefix(Array("g%".utf8)),
        .suffix(Array(".mkv".utf8)), .suffix(Array("a.mkv".utf8)), .suffix(Array("f249".utf8)), .suffix(Array("249".utf8)), .suffix([0xff, 0x76, 0x65]), .suffix(Array("mkv".utf8)),
        .contains(Array("249".utf8)), .contains(Array("mkv".utf8)), .contains([0xef, 0xff]), .contains(Array("_*?".utf8)),
    ]

    @Test(arguments: EngineUnderTest.all)
    func nameSearchesFindWhatAWalkFinds(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        var directories: [UInt64] = [1]
        for d in ["a", "b", "f249"] {
            let dir = try f.insert(f.directory(d))
            directories.append(dir)
            directories.append(try f.insert(f.directory("sub", in: dir)))
        }
        var files: [UInt64] = []
        for (i, name) in Self.names.enumerated() {
            for (k, dir) in directories.enumerated() where (i + k) % 3 != 0 {
                var row = f.file("", in: dir, size: Int64(i * 10 + k))
                row.name = name
                files.append(try f.insert(row))
            }
        }
        // Hard-link names are found by their own name, in their own directory.
        try f.index.write { tx throws(IndexError) in
            try tx.insertLink(parent: directories[2], name: Array("link.mkv".utf8), ino: files[0])
            try tx.insertLink(parent: directories[3], name: Array("f249".utf8), ino: files[1])
        }
        try f.reading { tx throws in
            for root in [1, directories[1], directories[5]] {
                for match in Self.matches {
                    var walked: [String] = []
                    try tx.walk(under: root, includeRoot: true, matching: { match.holds($0.name) }) {
                        walked.append(displayName($0.path) + ($0.isLinkName ? "@" : ""))
                    }
                    var searched: [String] = []
                    try tx.search(under: root, includeRoot: true, names: match) {
                        searched.append(displayName($0.path) + ($0.isLinkName ? "@" : ""))
                    }
                    #expect(searched == walked, "\(engine) under \(root), \(match)")
                    #expect(!walked.isEmpty || match == .exact(Array("nothing".utf8)), "\(match) finds something under \(root)")
                }
            }
            // A row test applies before a path is built, as in walk.
            var small: [String] = []
            try tx.search(under: 1, names: .suffix(Array(".mkv".utf8)), matching: { $0.size < 40 }) { small.append(displayName($0.path)) }
            var want: [String] = []
            try tx.walk(under: 1, matching: { $0.size < 40 && NameMatch.suffix(Array(".mkv".utf8)).holds($0.name) }) { want.append(displayName($0.path)) }
            #expect(small == want && !small.isEmpty)
        }
    }

    @Test(arguments: EngineUnderTest.all)
    func aScanOfTheTableFindsWhatAWalkFinds(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let a = try f.insert(f.directory("a"))
        let b = try f.insert(f.directory("b", in: a))
        var inodes: [UInt64] = []
        for i in 0..<40 {
            inodes.append(try f.insert(f.file("f\(i)", in: [1, a, b][i % 3], size: Int64(i * 100), mtime: Int64(i) * 1_000_000_000)))
        }
        try f.index.write { tx throws(IndexError) in try tx.insertLink(parent: b, name: Array("again".utf8), ino: inodes[5]) }
        var filters: [RowFilter] = [RowFilter()]
        var big = RowFilter(); big.sizeAbove = 1_500; filters.append(big)
        var band = RowFilter(); band.narrow(sizeAbove: 700, sizeBelow: 3_000, mtimeBeforeNs: 25_000_000_000, mtimeAfterNs: 9_000_000_000); filters.append(band)
        var dirs = RowFilter(); dirs.kind = .directory; filters.append(dirs)
        var none = RowFilter(); none.sizeAbove = 1 << 40; filters.append(none)
        try f.reading { tx throws in
            for root in [1, a, b] {
                for filter in filters {
                    var walked: [String] = []
                    try tx.walk(under: root, includeRoot: true, matching: filter.holds) { walked.append(displayName($0.path) + ($0.isLinkName ? "@" : "")) }
                    var scanned: [String] = []
                    try tx.scan(under: root, includeRoot: true, filter: filter) { scanned.append(displayName($0.path) + ($0.isLinkName ? "@" : "")) }
                    #expect(scanned == walked, "\(engine) under \(root), \(filter)")
                }
            }
        }
    }

    /// A `RowCondition` applied by the engine (as SQL) keeps exactly the rows its `holds` keeps,
    /// whatever the nesting and with the fixed bounds beside it (their parameters come first).
    @Test(arguments: EngineUnderTest.all)
    func aConditionScanFindsWhatAWalkFinds(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let a = try f.insert(f.directory("a"))
        let b = try f.insert(f.directory("b", in: a, silo: 1))
        for i in 0..<60 {
            var row = f.file("f\(i)", in: [1, a, b][i % 3], size: Int64(i * 100), mtime: Int64(i) * 1_000_000_000, silo: i % 4)
            row.uid = UInt32(1000 + i % 5); row.gid = UInt32(i % 7); row.atimeNs = Int64(60 - i) * 1_000_000_000
            if i % 11 == 0 { row.kind = .symlink; row.target = Array("x".utf8) }
            try f.insert(row)
        }
        let conditions: [RowCondition] = [
            .compare(.uid, .equal, 1003),
            .compare(.uid, .equal, 4242),
            .not(.compare(.gid, .less, 3)),
            .and([.compare(.size, .greaterOrEqual, 1000), .compare(.mtime, .less, 40_000_000_000)]),
            .or([.compare(.uid, .equal, 1001), .oneOf(.silo, [2, 3]), .compare(.atime, .greater, 55_000_000_000)]),
            .not(.or([.oneOf(.kind, [Int64(FileKind.symlink.rawValue)]), .compare(.ctime, .notEqual, 7_000_000_000)])),
            .oneOf(.silo, []),
            .not(.oneOf(.silo, [])),
            .and([.not(.compare(.uid, .equal, 1000)), .or([.compare(.gid, .lessOrEqual, 1), .compare(.size, .greater, 5000)])]),
        ]
        try f.reading { tx throws in
            for condition in conditions {
                for bounded in [false, true] {
                    var filter = RowFilter()
                    filter.condition = condition
                    if bounded { filter.narrow(sizeAbove: 250, mtimeBeforeNs: 50_000_000_000) }
                    var walked: [String] = []
                    try tx.walk(under: 1, includeRoot: true, matching: filter.holds) { walked.append(displayName($0.path)) }
                    var scanned: [String] = []
                    try tx.scan(under: 1, includeRoot: true, filter: filter) { scanned.append(displayName($0.path)) }
                    #expect(scanned == walked, "\(engine): \(condition), bounded \(bounded)")
                }
            }
        }
    }

    @Test func prefixBoundsStepPastTrailingFF() {
        #expect(NameMatch.upperBound(ofPrefix: [0x61, 0x62]) == [0x61, 0x63])
        #expect(NameMatch.upperBound(ofPrefix: [0x61, 0xff, 0xff]) == [0x62])
        #expect(NameMatch.upperBound(ofPrefix: [0xff]) == nil)
        #expect(NameMatch.contains([]).holds([]) && NameMatch.suffix(Array("ab".utf8)).holds(Array("ab".utf8)))
        #expect(!NameMatch.suffix(Array("xab".utf8)).holds(Array("ab".utf8)))
    }

    /// What a first scan leaves out (`setSearchIndexes(false)`), `buildSearchIndexes` builds
    /// once, on PostgreSQL concurrently, on a connection of its own: the same answers after.
    @Test(arguments: EngineUnderTest.all)
    func searchIndexesLeftOutAreBuiltOnce(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        try f.index.write { tx throws(IndexError) in try tx.setSearchIndexes(false) }
        for i in 0..<300 { _ = try f.insert(f.file("f\(i).mkv")) }
        #expect(try !f.index.query { tx throws(IndexError) in try tx.hasSearchIndexes() })
        #expect(try f.index.buildSearchIndexes(), "\(engine): missing, so built")
        #expect(try f.index.query { tx throws(IndexError) in try tx.hasSearchIndexes() })
        #expect(try !f.index.buildSearchIndexes(), "\(engine): there already")
        var found: [String] = []
        try f.reading { tx throws in
            try tx.search(under: 1, includeRoot: true, names: .suffix(Array("99.mkv".utf8))) { found.append(displayName($0.path)) }
        }
        #expect(found == ["f199.mkv", "f299.mkv", "f99.mkv"], "\(engine)")
    }

    /// `entries(inodes:)` (a statement per block of inodes) returns what `entry` returns one
    /// by one, across block edges and with inodes that do not exist; a walk of a few hundred
    /// candidates (`find --tag`) places each under the same path as a full walk.
    @Test(arguments: EngineUnderTest.all)
    func inodesReadInBlocksAgreeWithOneByOne(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        var directories: [UInt64] = [1]
        for d in 0..<7 { directories.append(try f.insert(f.directory("d\(d)", in: directories[d / 2]))) }
        var files: [UInt64] = []
        for i in 0..<700 { files.append(try f.insert(f.file("f\(i)", in: directories[i % directories.count], size: Int64(i)))) }
        let asked = stride(from: 0, to: files.count, by: 2).map { files[$0] } + [999_999, 1_000_001] + directories
        try f.reading { tx throws in
            var oneByOne: [UInt64: EntryRow] = [:]
            for ino in asked { if let row = try tx.entry(ino) { oneByOne[ino] = row } }
            let rows = try tx.session.entries(inodes: asked.sorted())
            #expect(rows.count == oneByOne.count, "\(engine)")
            for row in rows { #expect(oneByOne[row.ino] == row, "\(engine): inode \(row.ino)") }

            let candidates = Set(asked.filter { $0 % 3 != 0 })
            var walked: [String] = []
            try tx.walk(under: directories[1], includeRoot: true, matching: { candidates.contains($0.ino) && $0.size % 5 != 0 }) { walked.append(displayName($0.path)) }
            var placed: [String] = []
            try tx.walk(under: directories[1], includeRoot: true, only: candidates, matching: { $0.size % 5 != 0 }) { placed.append(displayName($0.path)) }
            #expect(placed == walked && !placed.isEmpty, "\(engine)")
        }
    }
}

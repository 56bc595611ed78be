import Foundation
import Index
import Syscalls
import Testing

/// `updateAttributes` on every engine: a setattr writes the columns it changed and the change
/// time, and leaves every other column as the index holds it (another node's change of them).
struct AttributeConformanceTests {
    @Test(arguments: EngineUnderTest.all)
    func aSetattrWritesOnlyItsColumns(_ engine: EngineUnderTest) throws {
        let f = try ConformanceFixture(engine)
        let ino = try f.insert(f.file("f", size: 10, mtime: 1_000))
        let stored = try #require(try f.entry(ino))
        // This node's copy differs from the index in every attribute.
        var copy = stored
        copy.mode = UInt32(S_IFREG) | 0o600; copy.uid = 7; copy.gid = 8; copy.size = 99; copy.blocks = 3
        copy.atimeNs = 5_000; copy.mtimeNs = 6_000; copy.ctimeNs = 7_000; copy.nlink = 4
        let cases: [(AttributeColumns, (inout EntryRow) -> Void)] = [
            (.mode, { $0.mode = copy.mode }),
            (.owner, { $0.uid = copy.uid; $0.gid = copy.gid }),
            (.size, { $0.size = copy.size; $0.blocks = copy.blocks }),
            ([.atime, .mtime], { $0.atimeNs = copy.atimeNs; $0.mtimeNs = copy.mtimeNs }),
        ]
        for (columns, change) in cases {
            try f.index.write { tx throws(IndexError) in try tx.updateAttributes(copy, columns) }
            var expected = stored
            change(&expected)
            expected.ctimeNs = copy.ctimeNs
            let now = try #require(try f.entry(ino))
            #expect(now == expected, "\(engine) \(columns): \(now) is not \(expected)")
            // Back to the stored row for the next case.
            try f.index.write { tx throws(IndexError) in try tx.update(stored) }
        }
        var merged = stored
        merged.take([.owner, .mtime], from: copy)
        #expect(merged.uid == 7 && merged.gid == 8 && merged.mtimeNs == 6_000 && merged.ctimeNs == 7_000)
        #expect(merged.mode == stored.mode && merged.size == stored.size && merged.atimeNs == stored.atimeNs && merged.nlink == stored.nlink)
    }
}

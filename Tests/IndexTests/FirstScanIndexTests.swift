import Assimilation
import Foundation
import Index
import Syscalls
import Testing

/// A first scan loads without the name-search indexes and leaves them to
/// `IndexStore.buildSearchIndexes` (the daemon calls it once it serves); a rescan neither
/// drops nor needs them.
struct FirstScanIndexTests {
    @Test func aFirstScanLeavesTheNameIndexesToBeBuiltAfter() throws {
        let f = try ScannerTests.Fixture()
        for i in 0..<50 { try f.write(i % 2 == 0 ? "fast" : "bulk", "d\(i % 5)/f\(i).mkv", "x") }
        _ = try f.scan()
        #expect(try !f.index.query { tx throws(IndexError) in try tx.hasSearchIndexes() }, "left out of the first scan")
        #expect(try f.index.buildSearchIndexes())
        var found: [String] = []
        try ReadTransaction.readOnly(path: f.root + "/index.db") { tx in
            #expect(try tx.hasSearchIndexes())
            try tx.search(under: 1, names: .suffix(Array("3.mkv".utf8))) { found.append(displayName($0.path)) }
        }
        #expect(found == ["d3/f13.mkv", "d3/f23.mkv", "d3/f3.mkv", "d3/f33.mkv", "d3/f43.mkv"])

        try f.write("fast", "d9/late.mkv", "y")
        _ = try f.scan()
        #expect(try f.index.query { tx throws(IndexError) in try tx.hasSearchIndexes() }, "a rescan keeps them")
        found = []
        try ReadTransaction.readOnly(path: f.root + "/index.db") { tx in
            try tx.search(under: 1, names: .exact(Array("late.mkv".utf8))) { found.append(displayName($0.path)) }
        }
        #expect(found == ["d9/late.mkv"])
    }
}

import Assimilation
import Foundation
import Index
import Silos
import Syscalls
import Testing

/// A scan merges the listing of a directory it added without looking names up and inserts its
/// rows in blocks (`IndexMerger.freshDirectories`). The index it leaves must be the one the
/// name-by-name merge leaves: both scan the same silos into indexes of their own, and every
/// row, tag and shadow is compared by path.
struct FreshDirectoryScanTests {
    /// Silos with what the merge has rules for: directories in several silos, a file in two
    /// silos (a shadow), a file and a directory of one name, tags, inode hints, symlinks,
    /// empty and deep directories, and listings longer than an insert block.
    static func populate(_ f: ScannerTests.Fixture) throws {
        for i in 0..<70 { try f.write("fast", "big/f\(i)", String(repeating: "x", count: i)) }
        for i in 0..<40 { try f.write(["fast", "bulk", "cold"][i % 3], "shared/s\(i % 7)/g\(i)", "\(i)") }
        try f.write("fast", "shared/dup.txt", "old", mtime: 1_000_000)
        try f.write("bulk", "shared/dup.txt", "newer", mtime: 2_000_000)
        try f.write("cold", "shared/dup.txt", "oldest", mtime: 500_000)
        try f.write("fast", "clash", "a file")
        try f.write("bulk", "clash/inside", "under the directory")
        try f.write("cold", "a/b/c/d/e/deep.txt", "deep")
        try FileManager.default.createDirectory(atPath: f.root + "/bulk/empty/dir", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: f.root + "/fast/big/link", withDestinationPath: "f1")
        try f.write("fast", "tagged/red.txt", "r")
        try f.write("bulk", "tagged/hinted.txt", "h")
        try f.write("bulk", "tagged/hinted2.txt", "h2")
        try Sys.setXattr(path: f.root + "/fast/tagged/red.txt", name: "user.color", value: Array("red".utf8))
        // On a directory of one silo: which silo's tags a directory in several takes depends on
        // which walker lists its parent first, in either path.
        try Sys.setXattr(path: f.root + "/fast/big", name: "user.project", value: Array("x".utf8))
        try Sys.setXattr(path: f.root + "/bulk/tagged/hinted.txt", name: "user.estuary.ino", value: Array("5000".utf8))
        try Sys.setXattr(path: f.root + "/bulk/tagged/hinted2.txt", name: "user.estuary.ino", value: Array("5000".utf8))
        try Sys.setXattr(path: f.root + "/fast/big/f3", name: "user.estuary.ino", value: Array("4000".utf8))
        try Sys.setXattr(path: f.root + "/fast/big/f5", name: "user.color", value: Array("blue".utf8))
    }

    /// Every row of `index` by path: its columns (inode numbers only where a hint chose them),
    /// tags and shadows, with silo ids given as names.
    static func dump(_ index: IndexStore) throws -> [String: String] {
        var rows: [String: String] = [:]
        try index.read { tx throws(IndexError) in
            let names = Dictionary(uniqueKeysWithValues: try tx.silos().map { ($0.id, $0.name) })
            func visit(_ row: EntryRow, _ path: String) throws(IndexError) {
                let tags = try tx.xattrs(of: row.ino).map { "\(String(decoding: $0.name, as: UTF8.self))=\(String(decoding: $0.value, as: UTF8.self))" }.sorted()
                let shadows = try tx.shadows(of: row.ino).map { "\(names[$0.silo] ?? "?"):\($0.kind):\($0.size):\($0.mtimeNs)" }.sorted()
                let dirSilos = names.keys.sorted().filter { row.dirSilos & (1 << UInt64($0)) != 0 }.map { names[$0] ?? "?" }
                let ino = row.ino == 4000 || row.ino == 5000 ? " ino \(row.ino)" : ""
                rows[path] = "\(row.kind) mode \(row.mode) \(row.uid):\(row.gid) size \(row.size) blocks \(row.blocks) "
                    + "mtime \(row.mtimeNs) ctime \(row.ctimeNs) nlink \(row.nlink) silo \(names[row.silo] ?? "?") dirs \(dirSilos) "
                    + "bino \(row.backingInode) target \(row.target.map { String(decoding: $0, as: UTF8.self) } ?? "-")\(ino) "
                    + "tags \(tags) shadows \(shadows)"
                guard row.kind == .directory else { return }
                for (name, child) in try tx.firstNames(in: row.ino) { try visit(child, path + "/" + String(decoding: name, as: UTF8.self)) }
            }
            guard let root = try tx.entry(1) else { throw IndexError(.notFound, "no root") }
            try visit(root, "")
        }
        return rows
    }

    /// A second index over the fixture's silos, with the same silo ids.
    static func secondIndex(_ f: ScannerTests.Fixture, _ names: [String]) throws -> (IndexStore, SiloSet) {
        let index = try IndexStore(path: f.root + "/second.db")
        let ids = try index.write { tx throws(IndexError) in
            try names.map { name throws(IndexError) in try tx.registerSilo(name: name, path: f.root + "/" + name, tier: name) }
        }
        var silos: [Silo] = []
        for (order, (name, id)) in zip(names, ids).enumerated() {
            #expect(id == f.silos.all[order].id)
            let silo = Silo(id: id, name: name, path: f.root + "/" + name, tier: name, tierRank: order, order: order, minFree: 0, readOnly: false, pool: "test")
            try silo.attach()
            silos.append(silo)
        }
        return (index, SiloSet(silos))
    }

    @Test func aFirstScanLeavesTheIndexTheNameByNameMergeLeaves() throws {
        let names = ["fast", "bulk", "cold"]
        let f = try ScannerTests.Fixture(names)
        try Self.populate(f)
        let fresh = try Scanner(index: f.index, silos: f.silos).scan()
        let (index, silos) = try Self.secondIndex(f, names)
        var scanner = Scanner(index: index, silos: silos)
        scanner.freshDirectories = false
        let byName = try scanner.scan()
        #expect(fresh.problems.isEmpty && byName.problems.isEmpty)
        #expect(fresh.added == byName.added && fresh.updated == byName.updated && fresh.unchanged == byName.unchanged)
        #expect(fresh.shadowed == byName.shadowed && fresh.shadowed == 3)
        let a = try Self.dump(f.index), b = try Self.dump(index)
        #expect(a.count == 136, "root, big + 70 files + link, shared + 7 + 40 + dup.txt, clash + inside, a...e + deep.txt, empty + dir, tagged + 3")
        for path in Set(a.keys).union(b.keys).sorted() where a[path] != b[path] {
            Issue.record("\(path): fresh path \(a[path] ?? "missing"), name by name \(b[path] ?? "missing")")
        }
        // What the rules say, so that two equally wrong merges do not pass.
        #expect(a["/tagged/hinted.txt"]?.contains(" ino 5000 ") == true || a["/tagged/hinted2.txt"]?.contains(" ino 5000 ") == true)
        #expect(a["/big/f3"]?.contains(" ino 4000 ") == true)
        #expect(a["/tagged/red.txt"]?.contains("user.color=red") == true)
        #expect(a["/big"]?.contains("user.project=x") == true)
        #expect(a["/big/f5"]?.contains("user.color=blue") == true)
        #expect(a["/shared/dup.txt"]?.contains("silo bulk") == true)
        #expect(a["/shared"]?.contains("nlink 9") == true, "2 + s0...s6: \(a["/shared"] ?? "")")
        #expect(a["/clash"]?.hasPrefix("directory") == true)
        #expect(a[""]?.contains("nlink 8") == true, "big, shared, clash, a, empty, tagged: \(a[""] ?? "")")
    }

    /// A first scan that only adds counts each silo's entries as it merges (no pass over the
    /// table); one that meets shadows counts the table. Both record what the table holds.
    @Test func aFirstScanRecordsEachSilosEntryCount() throws {
        func check(_ f: ScannerTests.Fixture, _ what: String) throws {
            let (rows, counted) = try f.index.read { tx throws(IndexError) in
                let rows = try tx.silos()
                return (rows, try rows.map { row throws(IndexError) in try tx.entryCount(silo: row.id) })
            }
            #expect(rows.map(\.entries) == counted, "\(what)")
            #expect(counted.allSatisfy { $0 > 0 }, "\(what)")
        }
        let adding = try ScannerTests.Fixture(["fast", "bulk", "cold"])
        for i in 0..<70 { try adding.write("fast", "big/f\(i)", "\(i)") }
        for i in 0..<40 { try adding.write(["fast", "bulk", "cold"][i % 3], "shared/s\(i % 7)/g\(i)", "\(i)") }
        try adding.write("cold", "a/b/c/deep.txt", "deep")
        try FileManager.default.createDirectory(atPath: adding.root + "/bulk/empty/dir", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: adding.root + "/cold/empty", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: adding.root + "/bulk/shared/link", withDestinationPath: "s0")
        #expect(try adding.scan().shadowed == 0)
        try check(adding, "a first scan that only adds")
        try adding.write("bulk", "shared/s1/later", "l")
        _ = try adding.scan()
        try check(adding, "a rescan")

        let shadowing = try ScannerTests.Fixture(["fast", "bulk", "cold"])
        try Self.populate(shadowing)
        #expect(try shadowing.scan().shadowed == 3)
        try check(shadowing, "a first scan with shadows")
    }

    @Test func aRescanAfterAFreshScanChangesNothing() throws {
        let f = try ScannerTests.Fixture(["fast", "bulk", "cold"])
        try Self.populate(f)
        _ = try f.scan()
        let before = try Self.dump(f.index)
        let again = try f.scan()
        #expect(again.added == 0 && again.updated == 0 && again.removed == 0)
        #expect(try Self.dump(f.index) == before)
    }

    @Test func directoriesNewToARescanTakeTheFreshPath() throws {
        let names = ["fast", "bulk"]
        let f = try ScannerTests.Fixture(names)
        try f.write("fast", "old/one", "1")
        _ = try f.scan()
        let (index, silos) = try Self.secondIndex(f, names)
        var scanner = Scanner(index: index, silos: silos)
        scanner.freshDirectories = false
        _ = try scanner.scan()
        for i in 0..<50 { try f.write(i % 2 == 0 ? "fast" : "bulk", "old/new\(i % 3)/f\(i)", "\(i)") }
        try f.write("bulk", "old/one", "shadowed or not")
        _ = try f.scan()
        _ = try scanner.scan()
        let a = try Self.dump(f.index), b = try Self.dump(index)
        #expect(a.count == 1 + 1 + 1 + 3 + 50)
        for path in Set(a.keys).union(b.keys).sorted() where a[path] != b[path] {
            Issue.record("\(path): fresh path \(a[path] ?? "missing"), name by name \(b[path] ?? "missing")")
        }
    }
}

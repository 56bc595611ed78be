import Assimilation
import Foundation
import Index
import Silos
import Syscalls
import Testing

/// The scanner's merge rules and incremental behaviour, on temporary silos without a mount.
struct ScannerTests {
    final class Fixture {
        let root = NSTemporaryDirectory() + "estuary-scan-" + UUID().uuidString.prefix(8)
        let index: IndexStore
        let silos: SiloSet

        init(_ names: [String] = ["fast", "bulk"]) throws {
            let root = self.root
            for name in names { try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true) }
            let index = try IndexStore(path: root + "/index.db")
            let ids = try index.write { tx throws(IndexError) in
                try names.map { name throws(IndexError) in try tx.registerSilo(name: name, path: root + "/" + name, tier: name) }
            }
            var silos: [Silo] = []
            for (order, (name, id)) in zip(names, ids).enumerated() {
                let silo = Silo(id: id, name: name, path: root + "/" + name, tier: name, tierRank: order, order: order, minFree: 0, readOnly: false, pool: "test")
                try silo.attach()
                silos.append(silo)
            }
            self.index = index
            self.silos = SiloSet(silos)
        }

        func write(_ silo: String, _ path: String, _ content: String, mtime: Int? = nil) throws {
            let full = root + "/" + silo + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try content.write(toFile: full, atomically: false, encoding: .utf8)
            if let mtime { try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: Double(mtime))], ofItemAtPath: full) }
        }

        func scan() throws -> ScanSummary { try Scanner(index: index, silos: silos).scan() }

        func entry(_ path: String) throws -> EntryRow? {
            try index.read { tx throws(IndexError) -> EntryRow? in
                var current: EntryRow? = try tx.entry(1)
                for component in path.split(separator: "/") {
                    guard let parent = current else { return nil }
                    current = try tx.entry(parent: parent.ino, name: Array(component.utf8))
                }
                return current
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }
    }

    @Test func firstScanImportsAndRescanWritesNothing() throws {
        let f = try Fixture()
        try f.write("fast", "a/one.txt", "1")
        try f.write("bulk", "a/two.txt", "22")
        try f.write("bulk", "b/c/three.txt", "333")
        let first = try f.scan()
        #expect(first.entries == 7 && first.added == 6, "\(first)")   // a twice (merged), one, two, b, c, three
        let second = try f.scan()
        #expect(second.added == 0 && second.updated == 0 && second.removed == 0 && second.unchanged == 7, "\(second)")
        let a = try #require(try f.entry("a"))
        #expect(a.kind == .directory && a.dirSilos == 0b11)
        #expect(try f.entry("a/two.txt")?.size == 2)
    }

    @Test func newestCopyIsVisibleAndTheOtherIsAShadow() throws {
        let f = try Fixture()
        try f.write("fast", "doc.txt", "old", mtime: 1_000)
        try f.write("bulk", "doc.txt", "newer", mtime: 2_000)
        let summary = try f.scan()
        #expect(summary.shadowed == 1)
        let doc = try #require(try f.entry("doc.txt"))
        #expect(doc.silo == f.silos.named("bulk")!.id && doc.size == 5)
        let shadows = try f.index.query { tx throws(IndexError) in try tx.shadows(of: doc.ino) }
        #expect(shadows.map(\.silo) == [f.silos.named("fast")!.id])
    }

    @Test func removedWinnerPromotesTheShadowWithTheSameInode() throws {
        let f = try Fixture()
        try f.write("fast", "doc.txt", "fast copy, newer", mtime: 2_000)
        try f.write("bulk", "doc.txt", "bulk copy", mtime: 1_000)
        _ = try f.scan()
        let before = try #require(try f.entry("doc.txt"))
        try FileManager.default.removeItem(atPath: f.root + "/fast/doc.txt")
        let summary = try f.scan()
        let after = try #require(try f.entry("doc.txt"))
        #expect(after.ino == before.ino && after.silo == f.silos.named("bulk")!.id && after.size == 9)
        #expect(summary.shadowed == 0)
    }

    @Test func fileMovedBetweenSilosKeepsItsInode() throws {
        let f = try Fixture()
        try f.write("fast", "media/film.mov", "frames")
        _ = try f.scan()
        let before = try #require(try f.entry("media/film.mov"))
        try FileManager.default.createDirectory(atPath: f.root + "/bulk/media", withIntermediateDirectories: true)
        try FileManager.default.moveItem(atPath: f.root + "/fast/media/film.mov", toPath: f.root + "/bulk/media/film.mov")
        _ = try f.scan()
        let after = try #require(try f.entry("media/film.mov"))
        #expect(after.ino == before.ino)
        #expect(after.silo == f.silos.named("bulk")!.id)
        #expect(try f.index.query { tx throws(IndexError) in try tx.shadowCount() } == 0, "no copy is left behind in fast")
        // And back again: the move toward the silo first in order (which wins mtime ties).
        try FileManager.default.moveItem(atPath: f.root + "/bulk/media/film.mov", toPath: f.root + "/fast/media/film.mov")
        _ = try f.scan()
        #expect(try f.entry("media/film.mov")?.ino == before.ino)
        #expect(try f.entry("media/film.mov")?.silo == f.silos.named("fast")!.id)
        #expect(try f.index.query { tx throws(IndexError) in try tx.shadowCount() } == 0)
    }

    @Test func directoryGoneFromOneSiloKeepsTheOtherSilosPart() throws {
        let f = try Fixture()
        try f.write("fast", "p/x.txt", "x")
        try f.write("bulk", "p/y.txt", "y")
        _ = try f.scan()
        try FileManager.default.removeItem(atPath: f.root + "/fast/p")
        let summary = try f.scan()
        #expect(try f.entry("p/x.txt") == nil)
        #expect(try f.entry("p/y.txt") != nil)
        #expect(try f.entry("p")?.dirSilos == 1 << UInt64(f.silos.named("bulk")!.id))
        #expect(summary.removed == 1)
        try FileManager.default.removeItem(atPath: f.root + "/bulk/p")
        _ = try f.scan()
        #expect(try f.entry("p") == nil)
        #expect(try f.index.query { tx throws(IndexError) in try tx.entryCount() } == 0)
    }

    @Test func directoryWinsOverAFileOfTheSameName() throws {
        let f = try Fixture()
        try f.write("fast", "thing", "a file")
        try f.write("bulk", "thing/inside.txt", "in a dir")
        let summary = try f.scan()
        #expect(try f.entry("thing")?.kind == .directory)
        #expect(try f.entry("thing/inside.txt") != nil)
        #expect(summary.shadowed == 1)
    }

    @Test func offlineSiloRemovesNothing() throws {
        let f = try Fixture()
        try f.write("bulk", "keep/me.txt", "precious")
        _ = try f.scan()
        try FileManager.default.moveItem(atPath: f.root + "/bulk", toPath: f.root + "/bulk-unplugged")
        let summary = try Scanner(index: f.index, silos: f.silos).scan([f.silos.named("bulk")!])
        #expect(summary.problems.count == 1)
        // The silo is unreachable, not empty: its entries stay in the namespace.
        #expect(try f.entry("keep/me.txt") != nil)
    }

    @Test func migrationsAreNamedAndRecorded() throws {
        let f = try Fixture()
        #expect(try f.index.appliedMigrations() == f.index.engine.migrations)
        // Reopening applies nothing twice.
        let again = try IndexStore(path: f.root + "/index.db")
        #expect(try again.appliedMigrations() == f.index.engine.migrations)
    }
}

/// The silo marker protects the namespace from a disk that is not mounted.
struct SiloMarkerTests {
    @Test func emptyMountPointInPlaceOfAScannedSiloIsOfflineNotEmpty() throws {
        let f = try ScannerTests.Fixture()
        try f.write("bulk", "movies/a.mkv", "a")
        _ = try f.scan()
        let bulk = f.silos.named("bulk")!
        #expect(FileManager.default.fileExists(atPath: f.root + "/bulk/.estuary/silo"))
        // The disk "unmounts": the path is now an empty directory.
        try FileManager.default.moveItem(atPath: f.root + "/bulk", toPath: f.root + "/bulk-disk")
        try FileManager.default.createDirectory(atPath: f.root + "/bulk", withIntermediateDirectories: true)
        let summary = try Scanner(index: f.index, silos: f.silos).scan([bulk])
        #expect(summary.problems.first?.message.contains("marker .estuary/silo is missing") == true, "\(summary.problems)")
        #expect(try f.entry("movies/a.mkv") != nil)
        #expect(!bulk.isOnline)
        // Adopting the directory on purpose makes it the silo, empty as it is.
        bulk.adopt()
        let adopted = try Scanner(index: f.index, silos: f.silos).scan([bulk])
        #expect(adopted.problems.isEmpty)
        #expect(try f.entry("movies/a.mkv") == nil)
    }

    @Test func directoryOfAnotherSiloIsRefused() throws {
        let f = try ScannerTests.Fixture()
        _ = try f.scan()
        let fast = f.silos.named("fast")!
        try FileManager.default.removeItem(atPath: f.root + "/fast/.estuary/silo")
        try FileManager.default.copyItem(atPath: f.root + "/bulk/.estuary/silo", toPath: f.root + "/fast/.estuary/silo")
        #expect(throws: SiloError.self) { try fast.attach() }
        #expect(fast.health.reason?.contains("belongs to silo 'bulk'") == true)
    }
}

import Foundation
@testable import Index
import Syscalls
import Testing

/// What only the SQLite engine does: its result codes become meanings in one place, and a
/// damaged or missing index file says so.
struct SQLiteEngineTests {
    /// SQLite's primary result codes (sqlite3.h), extended codes carrying them in the low byte.
    @Test func resultCodesBecomeMeanings() {
        let expected: [(Int32, IndexError.Kind)] = [
            (5, .busy), (6, .busy), (5 | (1 << 8), .busy), (19, .conflict), (19 | (8 << 8), .conflict), (14, .unavailable),
            (11, .corrupt), (26, .corrupt), (13, .full), (8, .readOnly), (3, .permissionDenied), (23, .permissionDenied),
            (18, .tooBig), (7, .noMemory), (20, .invalid), (1, .failed), (10, .failed),
        ]
        for (code, kind) in expected { #expect(SQLiteErrors.kind(for: code) == kind, "code \(code)") }
        #expect(SQLiteErrors.error(13, "disk").errno == .noSpace)
        #expect(SQLiteErrors.error(13, "disk").message.contains("SQLite code 13"), "the code stays in the message for logs")
    }

    @Test func kindsBecomeErrnoValues() {
        let expected: [(IndexError.Kind, Errno)] = [
            (.full, .noSpace), (.readOnly, .readOnlyFileSystem), (.busy, .resourceBusy), (.noMemory, .noMemory),
            (.conflict, .fileExists), (.notFound, .noSuchFileOrDirectory), (.tooBig, .fileTooLarge),
            (.permissionDenied, .permissionDenied), (.corrupt, .ioError), (.unavailable, .ioError), (.failed, .ioError),
        ]
        for (kind, errno) in expected { #expect(IndexError(kind, "x").errno == errno, "\(kind)") }
    }

    @Test func aFileThatIsNoIndexIsCorrupt() throws {
        let root = NSTemporaryDirectory() + "estuary-sqlite-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: root + "/index.db"))
        let error = #expect(throws: IndexError.self) { _ = try IndexStore(path: root + "/index.db") }
        #expect(error?.isCorrupt == true, "\(error.map(String.init(describing:)) ?? "")")
    }

    @Test func aMissingIndexOpenedReadOnlyIsUnavailable() throws {
        let path = NSTemporaryDirectory() + "estuary-missing-" + UUID().uuidString.prefix(8) + "/index.db"
        let error = #expect(throws: IndexError.self) { try ReadTransaction.readOnly(path: path) { tx in try tx.entryCount() } }
        #expect(error?.kind == .unavailable)
        #expect(!FileManager.default.fileExists(atPath: path), "reading creates nothing")
    }
}

extension SQLiteEngineTests {
    /// The admin CLI reads an index a newer Estuary wrote: a clear refusal, not a misreading.
    @Test func aReadOnlyReaderRefusesANewerSchema() throws {
        let root = NSTemporaryDirectory() + "estuary-sqlite-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        _ = try IndexStore(engine: EngineUnderTest.sqlite.makeNewer(root))
        let error = #expect(throws: IndexError.self) { try ReadTransaction.readOnly(path: root + "/index.db") { tx in try tx.entryCount() } }
        #expect(error?.kind == .versionMismatch)
    }
}

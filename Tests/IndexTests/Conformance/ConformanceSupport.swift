import Foundation
@testable import Index
import TestSupport
import Syscalls

/// An engine the Index conformance suite runs against. Every conformance test takes one as
/// its argument, so adding an engine (PostgreSQL) is one more element of `all`.
struct EngineUnderTest: Sendable, CustomStringConvertible {
    let description: String
    /// The engine of a fresh, empty index kept under `directory` (the same index each call).
    let make: @Sendable (_ directory: String) throws -> any IndexEngine
    /// The same index as a newer build of Estuary sees it: one more migration than this build.
    let makeNewer: @Sendable (_ directory: String) throws -> any IndexEngine

    static let sqlite = EngineUnderTest(
        description: "sqlite",
        make: { SQLiteEngine(path: $0 + "/index.db") },
        makeNewer: { SQLiteEngine(path: $0 + "/index.db", schema: SQLiteMigrations.all + [("9999-from-the-future", "CREATE TABLE future(x INTEGER)")]) })

    /// A database of its own per index, on the test process's throwaway server. A missing
    /// server fails the case with the reason (see `PostgresServer`).
    static let postgresql = EngineUnderTest(
        description: "postgresql",
        make: { PostgresEngine(conninfo: try postgresDatabase(for: $0)) },
        makeNewer: {
            PostgresEngine(conninfo: try postgresDatabase(for: $0),
                           schema: PGMigrations.all + [("9999-from-the-future", "CREATE TABLE future(x bigint)")])
        })

    /// The database holding the index of `directory`, created on first use.
    private static func postgresDatabase(for directory: String) throws -> String {
        let server = try PostgresServer.get()
        let name = "idx_" + directory.split(separator: "/").last!.map { $0.isLetter || $0.isNumber ? String($0).lowercased() : "_" }.joined()
        try server.ensureDatabase(name)
        return server.conninfo(name)
    }

    static let all: [EngineUnderTest] = [sqlite, postgresql]
}

/// A fresh index of one engine in a temporary directory, removed afterwards.
final class ConformanceFixture: Sendable {
    let root = NSTemporaryDirectory() + "estuary-conformance-" + UUID().uuidString.prefix(8)
    let engine: EngineUnderTest
    let index: IndexStore

    init(_ engine: EngineUnderTest) throws {
        self.engine = engine
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        index = try IndexStore(engine: try engine.make(root))
    }

    /// Another store over the same index: another process (or host) using it.
    func reopen() throws -> IndexStore { try IndexStore(engine: try engine.make(root)) }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func file(_ name: String, in parent: UInt64 = 1, size: Int64 = 0, mtime: Int64 = 1_000, silo: SiloID = 0) -> EntryRow {
        EntryRow(ino: 0, parent: parent, name: Array(name.utf8),
                 stat: FileStat(inode: 77, mode: UInt32(S_IFREG) | 0o644, size: size, mtimeNs: mtime, ctimeNs: mtime), silo: silo)
    }

    func directory(_ name: String, in parent: UInt64 = 1, silo: SiloID = 0) -> EntryRow {
        EntryRow(ino: 0, parent: parent, name: Array(name.utf8), stat: FileStat(mode: UInt32(S_IFDIR) | 0o755, nlink: 2), silo: silo)
    }

    @discardableResult
    func insert(_ row: EntryRow) throws -> UInt64 { try index.write { tx throws(IndexError) in try tx.insert(row) } }

    /// Runs `body` in one read transaction of the store. `#expect` throws untyped errors, which
    /// a typed-throws transaction body cannot, so they are carried out around it.
    func reading(_ body: (ReadTransaction) throws -> Void) throws {
        var thrown: (any Error)?
        try index.read { tx throws(IndexError) in
            do { try body(tx) } catch let error as IndexError { throw error } catch { thrown = error }
        }
        if let thrown { throw thrown }
    }

    func entry(_ ino: UInt64) throws -> EntryRow? { try index.query { tx throws(IndexError) in try tx.entry(ino) } }

    func entry(_ name: String, in parent: UInt64 = 1) throws -> EntryRow? {
        try index.query { tx throws(IndexError) in try tx.entry(parent: parent, name: Array(name.utf8)) }
    }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

import Foundation
@testable import Index
import Testing

/// What the conformance suite cannot see from above the seam: the PostgreSQL engine's
/// messages, its error mapping and its test server's refusal to pass without a server.
struct PostgresEngineTests {
    @Test func bothEnginesShareTheMigrationNames() {
        #expect(PGMigrations.all.map(\.name) == SQLiteMigrations.all.map(\.name),
                "a schema version means the same on both engines")
    }

    @Test func theLocationNeverShowsThePassword() {
        #expect(PostgresEngine(conninfo: "postgresql://estuary:s3cret@db.example:5432/pool?sslmode=require").location
                == "postgresql://estuary@db.example:5432/pool?sslmode=require")
        #expect(PostgresEngine(conninfo: "postgres://u@h/db?password=s3cret&sslmode=disable").location == "postgres://u@h/db?sslmode=disable")
        let keywords = PostgresEngine(conninfo: "host=h user=u password='s3 cret' dbname=d").location
        #expect(!keywords.contains("s3") && keywords.contains("host=h") && keywords.contains("dbname=d"))
    }

    @Test func sqlStatesMapToKinds() {
        let cases: [(String, IndexError.Kind)] = [
            ("23505", .conflict), ("40001", .busy), ("40P01", .busy), ("55P03", .busy), ("08006", .unavailable),
            ("57P01", .unavailable), ("53100", .full), ("25006", .readOnly), ("28P01", .permissionDenied),
            ("42501", .permissionDenied), ("XX001", .corrupt), ("XX002", .corrupt), ("54000", .tooBig), ("P0001", .failed),
        ]
        for (state, kind) in cases { #expect(PGErrors.kind(forSQLState: state) == kind, "\(state)") }
    }

    @Test func anUnreachableServerIsUnavailableAndNamesNoPassword() throws {
        let directory = NSTemporaryDirectory() + "estuary-pg-none-" + UUID().uuidString.prefix(8)
        let engine = PostgresEngine(conninfo: "postgresql://u:s3cret@/db?host=\(directory)&connect_timeout=2")
        let error = #expect(throws: IndexError.self) { _ = try engine.openWriter() }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("s3cret") == false, "\(error?.message ?? "")")
    }

    @Test func missingServerBinariesFailWithTheReason() throws {
        let empty = NSTemporaryDirectory() + "estuary-pg-bin-" + UUID().uuidString.prefix(8)
        try FileManager.default.createDirectory(atPath: empty + "/15/bin", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: empty) }
        let error = #expect(throws: PostgresServerError.self) { _ = try PostgresServer.findBinaries(under: empty) }
        #expect(error?.description.contains("postgresql") == true)
    }
}

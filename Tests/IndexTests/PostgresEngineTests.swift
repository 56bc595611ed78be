import Foundation
@testable import Index
import TestSupport
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

    /// A server that dropped the connections (restarted, or an administrator terminated them):
    /// the statement that meets the break fails as `unavailable`, and the sessions reconnect
    /// by themselves, inside a transaction only after it ended.
    @Test func sessionsReconnectAfterTheServerDroppedThem() throws {
        let f = try ConformanceFixture(.postgresql)
        let ino = try f.insert(f.file("a"))
        let server = try PostgresServer.get()
        let database = try #require((try f.engine.make(f.root) as? PostgresEngine)?.conninfo.split(separator: "=").last.map(String.init))
        func dropConnections() throws {
            let admin = try PGConnection(conninfo: server.conninfo("postgres"), location: "test server")
            try admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '\(database)'")
        }
        try dropConnections()
        let met = #expect(throws: IndexError.self) { _ = try f.entry(ino) }
        #expect(met?.kind == .unavailable)
        #expect(try f.entry(ino)?.name.text == "a", "the next call reconnected")
        #expect(try f.insert(f.file("b")) > ino, "prepared statements are prepared again on the new connection")

        // Inside a transaction the break ends it: nothing of it lands, and the store goes on.
        let lost = #expect(throws: IndexError.self) {
            try f.index.write { tx throws(IndexError) in
                try tx.insert(f.file("half"))
                try? dropConnections()
                try tx.insert(f.file("other-half"))
            }
        }
        #expect(lost?.kind == .unavailable)
        #expect(try f.entry("half") == nil && f.entry("other-half") == nil)
        #expect(try f.insert(f.file("after")) > ino)
    }

    /// A fresh database of its own on the test server.
    private func database(_ label: String) throws -> (PostgresServer, String) {
        let server = try PostgresServer.get()
        let name = "\(label)_" + UUID().uuidString.prefix(8).lowercased()
        try server.ensureDatabase(name)
        return (server, name)
    }

    @Test func aDatabaseThatDoesNotExistIsNamedInTheError() throws {
        let server = try PostgresServer.get()
        let error = #expect(throws: IndexError.self) {
            _ = try PostgresEngine(conninfo: server.uri("no_such_db", password: "s3cret")).openWriter()
        }
        #expect(error?.kind == .unavailable)
        #expect(error?.message.contains("\"no_such_db\" does not exist") == true, "\(error?.message ?? "")")
        #expect(error?.message.contains("s3cret") == false)
    }

    /// A URI naming some other application's database: the daemon creates nothing in it.
    @Test func aDatabaseHoldingOtherTablesIsRefused() throws {
        let (server, name) = try database("foreign")
        try server.sql("CREATE TABLE invoices(id int); CREATE TABLE customers(id int)", database: name)
        let error = #expect(throws: IndexError.self) { _ = try PostgresEngine(conninfo: server.conninfo(name)).openWriter() }
        #expect(error?.kind == .invalid)
        #expect(error?.message.contains("not an Estuary index (customers, invoices)") == true, "\(error?.message ?? "")")
        #expect(try server.sql("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", database: name)
                    .trimmingCharacters(in: .whitespacesAndNewlines) == "2", "nothing was created")
    }

    /// The admin tool reads an unmounted pool through a reader: an empty database is no index,
    /// and an index a newer build wrote is refused as the writer refuses it.
    @Test func aReaderChecksTheSchema() throws {
        let (server, name) = try database("reader")
        let empty = #expect(throws: IndexError.self) { _ = try PostgresEngine(conninfo: server.conninfo(name)).openReader() }
        #expect(empty?.kind == .notFound)
        #expect(empty?.message.contains("holds no Estuary index") == true)
        _ = try PostgresEngine(conninfo: server.conninfo(name)).openWriter()
        _ = try PostgresEngine(conninfo: server.conninfo(name)).openReader()
        try server.sql("INSERT INTO migrations(name, applied_at) VALUES ('9999-from-the-future', 0)", database: name)
        let newer = #expect(throws: IndexError.self) { _ = try PostgresEngine(conninfo: server.conninfo(name)).openReader() }
        #expect(newer?.kind == .versionMismatch)
        #expect(newer?.message.contains("9999-from-the-future") == true)
    }

    /// A create inside a group-commit batch (the namespace's: the new entry and its parent's
    /// times, as one change) costs at most two round trips: its savepoint and the release
    /// travel with its statements instead of on their own.
    @Test func aCreateInABatchCostsAtMostTwoRoundTrips() throws {
        let f = try ConformanceFixture(.postgresql)
        let root = try #require(try f.entry(1))
        let count = 200
        let (trips, seconds) = try f.index.writer.withLock { state throws -> (Int, Double) in
            let connection = try #require((state.session as? PostgresSession)?.connection)
            func create(_ name: String) throws(IndexError) {
                _ = try state.asChange { tx throws(IndexError) in
                    _ = try tx.insert(f.file(name))
                    try tx.update(root)
                }
            }
            try state.begin()
            try create("warm-up")   // prepares the statements
            let before = connection.roundTrips
            let started = Date()
            for i in 0..<count { try create("f\(i)") }
            let elapsed = Date().timeIntervalSince(started)
            let trips = connection.roundTrips - before
            try state.commit()
            return (trips, elapsed)
        }
        print("postgresql create in a batch: \(Double(trips) / Double(count)) round trips, \(Int(seconds / Double(count) * 1e6)) µs each")
        #expect(trips <= 2 * count, "\(trips) round trips for \(count) creates")
        #expect(try f.entry("f\(count - 1)") != nil)
    }

    /// A change that fails undoes only itself, with its savepoint sent ahead of its statements.
    @Test func aFailedChangeInABatchUndoesOnlyItself() throws {
        let f = try ConformanceFixture(.postgresql)
        try f.index.writer.withLock { state throws in
            try state.begin()
            _ = try state.asChange { tx throws(IndexError) in try tx.insert(f.file("kept")) }
            let clash = #expect(throws: IndexError.self) {
                _ = try state.asChange { tx throws(IndexError) in
                    _ = try tx.insert(f.file("undone"))
                    _ = try tx.insert(f.file("kept"))
                }
            }
            #expect(clash?.kind == .conflict)
            _ = try state.asChange { tx throws(IndexError) in }
            _ = try state.asChange { tx throws(IndexError) in try tx.insert(f.file("after")) }
            try state.commit()
        }
        #expect(try f.entry("kept") != nil && f.entry("after") != nil)
        #expect(try f.entry("undone") == nil)
    }

    /// Two daemons on one index take inode numbers from its one counter, in blocks: however
    /// their batches interleave, and across the end of a block, no number is taken twice.
    @Test func twoWritersNeverTakeTheSameInodeNumber() throws {
        let f = try ConformanceFixture(.postgresql)
        let other = try f.reopen()
        var seen = Set<UInt64>()
        for round in 0..<3 {
            for (label, store) in [("a", f.index), ("b", other)] {
                let numbers = try store.write { tx throws(IndexError) -> [UInt64] in
                    try (0..<2500).map { i throws(IndexError) in try tx.insert(f.file("\(label)\(round)-\(i)")) }
                }
                for n in numbers { #expect(seen.insert(n).inserted, "inode \(n) taken twice") }
            }
        }
        #expect(seen.count == 15_000)
    }

    /// What one writer commits reaches the other's listener (its inode and its name), and a
    /// writer's own batches do not come back to it.
    @Test func committedChangesReachTheOtherWritersListener() throws {
        let f = try ConformanceFixture(.postgresql)
        let other = try f.reopen()
        let received = NSLockedValue<[RemoteChange]>([])
        let listener = try #require(try f.index.followOtherWriters { change in received.withLock { $0.append(change) } })
        defer { listener.stop() }
        _ = try f.insert(f.file("mine"))
        let theirs = try other.write { tx throws(IndexError) in try tx.insert(f.file("theirs")) }
        let deadline = Date().addingTimeInterval(10)
        while received.withLock({ $0.isEmpty }) && Date() < deadline { usleep(10_000) }
        let changes = received.withLock { $0 }
        #expect(changes.count == 1, "\(changes.count) notifications")
        #expect(changes.first?.inodes == [theirs])
        #expect(changes.first.map { $0.names.map { "\($0.parent)/\(String(decoding: $0.name, as: UTF8.self))" } } == ["1/theirs"])
    }

    @Test func aPayloadRoundTripsAndAnOversizedBatchAsksForEverything() {
        let names: [(UInt64, [UInt8])] = [(1, Array("a b".utf8)), (0x1234, [0, 0xff, 0x2f])]
        let text = RemoteChange.encode(writer: 77, inodes: [5, 1 << 63], names: names)
        let decoded = RemoteChange.decode(text)
        #expect(decoded?.writer == 77 && decoded?.change.inodes == [5, 1 << 63] && decoded?.change.everything == false)
        #expect(decoded?.change.names.map(\.name) == names.map(\.1) && decoded?.change.names.map(\.parent) == [1, 0x1234])
        let big = RemoteChange.encode(writer: 77, inodes: Array(0..<10_000), names: [])
        #expect(RemoteChange.decode(big)?.change.everything == true)
    }

    /// Two writers whose open batches each hold a row the other's next change needs: the
    /// server breaks the deadlock by failing one change (`busy`); that writer commits what its
    /// batch holds, so the other can go on, and runs the change again. Both changes land.
    @Test func crossingChangesOfTwoWritersBothLand() throws {
        let f = try ConformanceFixture(.postgresql)
        let other = try f.reopen()
        let p1 = try f.insert(f.directory("p1")), p2 = try f.insert(f.directory("p2"))
        @Sendable func touch(_ state: WriterState, _ ino: UInt64, _ mtime: Int64) throws(IndexError) {
            _ = try state.asChange { tx throws(IndexError) in
                guard var row = try tx.reader.entry(ino) else { return }
                row.mtimeNs = mtime
                try tx.update(row)
            }
        }
        let first = NSLockedValue<String?>(nil), second = NSLockedValue<String?>(nil)
        try f.index.writer.withLock { a throws in
            try other.writer.withLock { b throws in
                try a.begin(); a.batchOpen = true
                try b.begin(); b.batchOpen = true
                try touch(a, p1, 1)
                try touch(b, p2, 2)
                // A's next change waits for B's row, on a thread of its own; then B's waits for A's.
                let writerA: WriterState = a
                let thread = Thread {
                    do { try touch(writerA, p2, 3); try writerA.commit(); first.withLock { $0 = "ok" } }
                    catch { writerA.rollback(); first.withLock { $0 = "\(error)" } }
                }
                thread.start()
                usleep(300_000)
                // A failure here must still end B's transaction, or A waits on it for ever.
                do { try touch(b, p1, 4); try b.commit(); second.withLock { $0 = "ok" } }
                catch { b.rollback(); second.withLock { $0 = "\(error)" } }
                while first.withLock({ $0 }) == nil { usleep(10_000) }
            }
        }
        #expect(first.withLock { $0 } == "ok" && second.withLock { $0 } == "ok",
                "A: \(first.withLock { $0 } ?? ""), B: \(second.withLock { $0 } ?? "")")
        #expect(try f.entry(p1)?.mtimeNs == 4 && f.entry(p2)?.mtimeNs == 3)
    }
}

import CShims
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A throwaway PostgreSQL server for this test process: `initdb` and `pg_ctl start` in a fresh
/// temporary directory, reachable only by a unix socket in that directory, stopped when the
/// process exits. Started once, on first use; each test gets its own database.
///
/// No test relies on a server the machine happened to run. When the server binaries are
/// missing the PostgreSQL cases fail with that message (the Makefile installs the Debian
/// `postgresql` package for `make test`): skipping would hide an engine that was never tested.
///
/// Shared by the index conformance suite and the integration tests (pools on PostgreSQL):
/// each test process starts its own server once.
public final class PostgresServer: Sendable {
    public let directory: String
    public let binaries: String

    /// The server, started on first use; the error says why it could not be.
    public static let shared: Result<PostgresServer, PostgresServerError> = Result { () throws(PostgresServerError) in try PostgresServer() }

    public static func get() throws -> PostgresServer { try shared.get() }

    /// A server of its own, for a test that stops and restarts it (the shared one serves
    /// every other test of the process); stopped at exit too.
    public static func dedicated() throws -> PostgresServer { try PostgresServer() }

    /// Stops the server as an administrator's restart does (`-m fast`: clients are cut off,
    /// committed work is kept), leaves it down for `seconds`, and starts it again.
    public func restart(downFor seconds: Double) throws {
        try stop()
        usleep(UInt32(seconds * 1_000_000))
        try start()
    }

    /// Stops the server (`-m fast`), for a test that keeps it down while it does something.
    public func stop() throws {
        try run("pg_ctl", ["-D", directory + "/data", "-m", "fast", "-w", "-t", "60", "stop"])
    }

    public func start() throws {
        try run("pg_ctl", ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-o", options, "start"])
    }

    private var options: String {
        "-c listen_addresses='' -c unix_socket_directories='\(directory)' -c fsync=off -c synchronous_commit=off "
            + "-c full_page_writes=off -c max_connections=300"
    }

    private init() throws(PostgresServerError) {
        binaries = try PostgresServer.findBinaries()
        var template = Array((NSTemporaryDirectory() + "estuary-pg-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw PostgresServerError("cannot create a temporary directory: \(String(cString: strerror(errno)))") }
        directory = String(cString: made)
        // The server refuses to run as root: the directory belongs to the postgres user.
        if getuid() == 0 {
            guard let account = getpwnam("postgres") else {
                throw PostgresServerError("running as root, and there is no 'postgres' user to run the test server as (install the Debian package postgresql)")
            }
            chown(directory, account.pointee.pw_uid, account.pointee.pw_gid)
        }
        try run("initdb", ["-D", directory + "/data", "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        // Socket only (no TCP port to collide with), no fsync: the data is thrown away.
        try run("pg_ctl", ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60", "-o", options, "start"])
        let first = PostgresServer.started.withLock { list in
            list.append((binaries, directory))
            return list.count == 1
        }
        guard first else { return }
        atexit {
            for (binaries, directory) in PostgresServer.started.withLock({ $0 }) {
                _ = PostgresServer.spawn(binaries + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "-w", "stop"])
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    /// What `atexit` stops: the C callback cannot capture.
    static let started = NSLockedValue<[(String, String)]>([])

    /// The newest PostgreSQL under /usr/lib/postgresql/VERSION/bin with initdb and pg_ctl.
    public static func findBinaries(under root: String = "/usr/lib/postgresql") throws(PostgresServerError) -> String {
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .filter { FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/initdb") && FileManager.default.isExecutableFile(atPath: "\(root)/\($0)/bin/pg_ctl") }
            .sorted { (Int($0) ?? 0) > (Int($1) ?? 0) }
        guard let newest = versions.first else {
            throw PostgresServerError("""
                the PostgreSQL engine's conformance tests need a PostgreSQL server: no initdb and pg_ctl under \(root)/*/bin. \
                Install the Debian package postgresql (`make test` does, through `make deps`)
                """)
        }
        return "\(root)/\(newest)/bin"
    }

    /// Runs a server program as the postgres user when this process is root.
    private func run(_ program: String, _ arguments: [String]) throws(PostgresServerError) {
        let (status, output) = PostgresServer.spawn(binaries + "/" + program, arguments)
        guard status == 0 else {
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            throw PostgresServerError("\(program) failed (status \(status)): \(output)\(log.isEmpty ? "" : "\nserver log:\n" + log)")
        }
    }

    /// posix_spawn and waitpid, not Foundation's Process: its waitUntilExit never returned
    /// here once pg_ctl had started the server. Output goes to a file, not a pipe, which the
    /// server would inherit and hold open. Nor does the server inherit the test process's other
    /// descriptors: a test's file kept open in a mount (HandleChurn's, say) would stay open in
    /// the postmaster for as long as it runs, and its RELEASE would never reach that daemon.
    public static func spawn(_ path: String, _ arguments: [String]) -> (Int32, String) {
        let argv = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", path] + arguments : [path] + arguments
        let outputPath = NSTemporaryDirectory() + "estuary-pg-output-" + UUID().uuidString
        defer { unlink(outputPath) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        _ = estuary_spawn_closefrom(&actions, 3)
        var cArgs = argv.map { strdup($0) } + [nil]
        defer { for a in cArgs { free(a) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, &cArgs, environ)
        guard rc == 0 else { return (-1, "cannot run \(argv[0]): \(String(cString: strerror(rc)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (exit, text)
    }

    /// A libpq connection string for `database` over the server's socket.
    public func conninfo(_ database: String) -> String { "host=\(directory) user=postgres dbname=\(database)" }

    /// The same as a URI, as a pool config names it; `password` goes into it when given (the
    /// server trusts the socket and ignores it: tests check that it is never shown).
    public func uri(_ database: String, password: String? = nil) -> String {
        "postgresql://postgres\(password.map { ":" + $0 } ?? "")@/\(database)?host=\(directory)"
    }

    /// Creates `database` unless this process already did.
    public func ensureDatabase(_ database: String) throws {
        let created = PostgresServer.databases.withLock { $0.insert(database).inserted }
        guard created else { return }
        try sql("CREATE DATABASE \"\(database)\"")
    }

    /// Runs `statement` with psql in `database` and returns its unaligned output.
    @discardableResult
    public func sql(_ statement: String, database: String = "postgres") throws -> String {
        let (status, output) = PostgresServer.spawn(binaries + "/psql", ["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                                                         "-h", directory, "-U", "postgres", "-d", database, "-c", statement])
        guard status == 0 else { throw PostgresServerError("psql failed (status \(status)) on \(statement): \(output)") }
        return output
    }

    private static let databases = NSLockedValue<Set<String>>([])
}

public struct PostgresServerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A value behind a lock, for the statics above.
public final class NSLockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    public init(_ value: Value) { self.value = value }
    public func withLock<R>(_ body: (inout Value) -> R) -> R { lock.withLock { body(&value) } }
}

import Foundation
import Testing
import TestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A pool whose index is in PostgreSQL (`[pool] index`, `-o index=`): it serves, the admin tool
/// reads it unmounted, the password in the URI is never shown, and a wrong database or a newer
/// schema stops the mount with an error naming what is wrong.
@Suite(.serialized)
struct PostgresPoolTests {
    static let password = "pw-s3cret-77"

    private func freshDatabase() throws -> (PostgresServer, String) {
        let server = try PostgresServer.get()
        let name = "pgpool_" + UUID().uuidString.prefix(8).lowercased()
        try server.ensureDatabase(name)
        return (server, name)
    }

    /// Unmounts a daemon started in the background (its log goes to the state directory) and
    /// waits for it to exit, by the pid in its mount record.
    private func unmountBackground(_ mountpoint: String, state: String) throws {
        let record = try String(contentsOfFile: state + "/mount", encoding: .utf8)
        let pid = try #require(record.split(separator: "\n").dropFirst().first.flatMap { Int32($0) })
        try Shell.run("/bin/fusermount3", ["-u", mountpoint])
        for _ in 0..<400 where kill(pid, 0) == 0 { usleep(25_000) }
        #expect(kill(pid, 0) != 0, "the daemon exited after the unmount")
    }

    private func mounts() -> String { procText("/proc/self/mounts") ?? "" }

    /// The server is started once, by whichever test first needs it, while other tests run: it
    /// must not inherit what they hold open (a file in a mount kept open by the postmaster for
    /// the rest of the run never reaches its daemon as a RELEASE).
    @Test func theServerInheritsNoDescriptorOfTheTests() throws {
        let path = NSTemporaryDirectory() + "estuary-held-" + UUID().uuidString
        let fd = open(path, O_CREAT | O_RDWR, 0o644)   // no O_CLOEXEC, as a careless test would
        try #require(fd >= 0)
        defer { close(fd); unlink(path) }
        let (status, output) = PostgresServer.spawn("/bin/ls", ["-l", "/proc/self/fd/"])
        #expect(status == 0, "\(output)")
        #expect(output.contains(" 0 -> "), "the listing shows the child's descriptors: \(output)")
        #expect(!output.contains(path), "the child holds the test's file: \(output)")
    }

    @Test func aPoolServesFromPostgresAndNeverShowsThePassword() throws {
        let (server, database) = try freshDatabase()
        let pool = try TestPool(extraConfig: "index = \"\(server.uri(database, password: Self.password))\"\n")
        try Fixtures.write(pool.siloPath("bulk0") + "/old.txt", "from the silo")
        let start = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-o", "log_level=debug"])
        #expect(start.status == 0, "\(start.output)")
        try "new".write(toFile: pool.path("new.txt"), atomically: false, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: pool.path("dir"), withIntermediateDirectories: false)
        #expect(try FileManager.default.contentsOfDirectory(atPath: pool.mountpoint).sorted() == ["dir", "new.txt", "old.txt"])
        #expect(!mounts().contains(Self.password))
        let mountedStatus = try pool.estuary(["status", pool.configPath, "--json"])
        #expect(mountedStatus.status == 0, "\(mountedStatus.output)")
        #expect(!mountedStatus.output.contains(Self.password))
        try unmountBackground(pool.mountpoint, state: pool.root + "/state")
        #expect(!FileManager.default.fileExists(atPath: pool.root + "/state/index.db"), "no SQLite index beside it")
        let names = try server.sql("SELECT convert_from(name, 'UTF8') FROM entries WHERE parent = 1 ORDER BY name", database: database)
        #expect(names.split(separator: "\n") == ["dir", "new.txt", "old.txt"])

        // Unmounted, the admin tool reads the same database.
        let status = try pool.estuary(["status", pool.configPath])
        #expect(status.status == 0, "\(status.output)")
        #expect(!status.output.contains(Self.password))
        let found = try pool.estuary(["find", pool.configPath, "--type", "f"])
        #expect(found.status == 0, "\(found.output)")
        #expect(found.output.split(separator: "\n").sorted() == ["/new.txt", "/old.txt"], "\(found.output)")
        let log = try String(contentsOfFile: pool.root + "/state/estuaryfs.log", encoding: .utf8)
        #expect(log.contains("mounted at"), "the log is the daemon's: \(log)")
        #expect(!log.contains(Self.password))
    }

    /// A zero-config pool has no file for the URI: `-o index=` names it, and the admin tool
    /// finds it again in the state directory while the pool is unmounted.
    @Test func aZeroConfigPoolTakesTheIndexAsAnOption() throws {
        let (server, database) = try freshDatabase()
        let root = NSTemporaryDirectory() + "estuary-zc-pg-" + UUID().uuidString.prefix(8)
        defer { _ = try? Shell.run("/bin/rm", ["-rf", root]) }
        for d in ["a", "b", "mnt"] { try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true) }
        try Fixtures.write(root + "/b/seen.txt", "x")
        let spec = "\(root)/a=fast:\(root)/b=bulk"
        let start = try Shell.run(Shell.estuaryfs, [spec, root + "/mnt", "-o", "index=\(server.uri(database, password: Self.password))"])
        #expect(start.status == 0, "\(start.output)")
        let statusJSON = try Shell.run(Shell.estuary, ["status", spec, "--json"])
        let state = try #require((try JSONSerialization.jsonObject(with: Data(statusJSON.output.utf8)) as? [String: Any])?["stateDirectory"] as? String)
        defer { _ = try? Shell.run("/bin/rm", ["-rf", state]) }
        #expect(FileManager.default.fileExists(atPath: root + "/mnt/seen.txt"))
        #expect(!mounts().contains(Self.password))
        #expect(!statusJSON.output.contains(Self.password))
        try "through".write(toFile: root + "/mnt/made.txt", atomically: false, encoding: .utf8)
        try unmountBackground(root + "/mnt", state: state)
        var record = stat()
        #expect(stat(state + "/index.uri", &record) == 0 && record.st_mode & 0o077 == 0, "recorded, private to the owner")
        #expect(!FileManager.default.fileExists(atPath: state + "/index.db"))
        let found = try Shell.run(Shell.estuary, ["find", spec, "--type", "f"])
        #expect(found.output.split(separator: "\n").sorted() == ["/made.txt", "/seen.txt"], "\(found.output)")
    }

    @Test func aDatabaseThatDoesNotExistStopsTheMountNamingIt() throws {
        let server = try PostgresServer.get()
        let pool = try TestPool()
        let result = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-f",
                                                      "-o", "index=\(server.uri("no_such_pool_db", password: Self.password))"])
        #expect(result.status != 0)
        #expect(result.output.contains("cannot open the index postgresql://postgres@/no_such_pool_db"), "\(result.output)")
        #expect(result.output.contains("\"no_such_pool_db\" does not exist"), "\(result.output)")
        #expect(!result.output.contains(Self.password))
        #expect(!pool.isMounted)
    }

    @Test func anUnreachableServerStopsTheMount() throws {
        let pool = try TestPool()
        let nowhere = NSTemporaryDirectory() + "estuary-no-server-" + UUID().uuidString.prefix(8)
        let result = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-f",
                                                      "-o", "index=postgresql://postgres@/x?host=\(nowhere)&connect_timeout=2"])
        #expect(result.status != 0)
        #expect(result.output.contains("cannot open the index") && result.output.contains(nowhere), "\(result.output)")
    }

    @Test func anIndexFromANewerEstuaryIsRefused() throws {
        let (server, database) = try freshDatabase()
        let pool = try TestPool(extraConfig: "index = \"\(server.uri(database))\"\n")
        try pool.mount()
        #expect(try pool.unmount() == 0)
        try server.sql("INSERT INTO migrations(name, applied_at) VALUES ('9999-from-the-future', 0)", database: database)
        let result = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-f"])
        #expect(result.status != 0)
        #expect(result.output.contains("'9999-from-the-future'") && result.output.contains("newer version"), "\(result.output)")
        let status = try pool.estuary(["status", pool.configPath])
        #expect(status.status != 0 && status.output.contains("newer version"), "\(status.output)")
    }

    @Test func aBadIndexOptionIsAUsageErrorThatDoesNotQuoteIt() throws {
        let pool = try TestPool()
        let result = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-f", "-o", "index=mysql://root:hunter2@db/x"])
        #expect(result.status == 2)
        #expect(result.output.contains("option index must be a PostgreSQL URI"), "\(result.output)")
        #expect(!result.output.contains("hunter2"))
    }
}

import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The state directory (index, its -wal and -shm, lock, log, socket) is private to the daemon's
/// user whatever the umask, an older pool is tightened when opened, and another local user is
/// told the truth: the pool is mounted, the command needs root.
@Suite(.serialized)
struct AdminPrivacyTests {
    /// Every entry of the state directory, and the directory itself, with its permission bits.
    private func modes(_ directory: String) throws -> [String: mode_t] {
        var out: [String: mode_t] = [:]
        var s = stat()
        #expect(stat(directory, &s) == 0)
        out["."] = s.st_mode & 0o7777
        for name in try FileManager.default.contentsOfDirectory(atPath: directory) {
            guard lstat(directory + "/" + name, &s) == 0, s.st_mode & S_IFMT != S_IFLNK else { continue }
            out[name] = s.st_mode & 0o7777
        }
        return out
    }

    private func expectPrivate(_ directory: String, _ note: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let found = try modes(directory)
        #expect(found["."] == 0o700, "\(note): state directory \(String(found["."] ?? 0, radix: 8))", sourceLocation: sourceLocation)
        for (name, mode) in found where name != "." {
            #expect(mode & 0o077 == 0, "\(note): \(name) is \(String(mode, radix: 8))", sourceLocation: sourceLocation)
        }
        #expect(found["index.db"] != nil, "\(note): no index in \(found.keys.sorted())", sourceLocation: sourceLocation)
    }

    @Test func anIndexMadeUnderUmask022IsPrivate() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        try Fixtures.write(pool.siloPath("fast0") + "/secret/names", "x")
        let scan = try Shell.sh("umask 022 && '\(Shell.estuary)' scan '\(pool.configPath)'")
        #expect(scan.status == 0, "\(scan.output)")
        try expectPrivate(pool.root + "/state", "after an offline scan under umask 022")
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try Fixtures.write(pool.path("more"), "written through the mount")
        #expect(FileManager.default.fileExists(atPath: pool.root + "/state/index.db-wal"))
        try expectPrivate(pool.root + "/state", "while mounted")
    }

    @Test func anOlderPoolIsTightenedWhenOpened() throws {
        let pool = try TestPool(silos: [("fast0", "fast")])
        try Fixtures.write(pool.siloPath("fast0") + "/a", "a")
        try pool.mount()
        try pool.unmount()
        let state = pool.root + "/state"
        #expect(chmod(state, 0o755) == 0)
        for name in try FileManager.default.contentsOfDirectory(atPath: state) { #expect(chmod(state + "/" + name, 0o644) == 0) }
        // The -wal and -shm an older daemon left at 0644 (SQLite gives them the database's mode).
        for suffix in ["-wal", "-shm"] where !FileManager.default.fileExists(atPath: state + "/index.db" + suffix) {
            #expect(FileManager.default.createFile(atPath: state + "/index.db" + suffix, contents: nil, attributes: [.posixPermissions: 0o644]))
        }
        try pool.mount()
        defer { _ = try? pool.unmount() }
        try expectPrivate(state, "after mounting a pool left at 0755/0644")
    }

    /// A local user who is not root: created for the test when missing.
    private func unprivilegedUser() throws -> (uid: String, gid: String) {
        let name = "estuary-tester"
        if try Shell.run("/usr/bin/id", ["-u", name]).status != 0 {
            let made = try Shell.run("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
            #expect(made.status == 0, "\(made.output)")
        }
        let uid = try Shell.run("/usr/bin/id", ["-u", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let gid = try Shell.run("/usr/bin/id", ["-g", name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return (uid, gid)
    }

    @Test func anotherUserCannotReadTheIndexAndIsToldTheCommandNeedsRoot() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        try Fixtures.write(pool.siloPath("fast0") + "/private/hidden-name", "x")
        try Fixtures.setXattr(pool.siloPath("fast0") + "/private/hidden-name", "user.project", "secret-tag")
        #expect(chmod(pool.siloPath("fast0") + "/private", 0o700) == 0)
        try Fixtures.write(pool.siloPath("fast0") + "/public", "readable by all")
        try pool.mount(options: ["-o", "allow_other"])
        defer { _ = try? pool.unmount() }
        let user = try unprivilegedUser()
        func asUser(_ program: String, _ arguments: [String]) throws -> Shell.Result {
            try Shell.run("/usr/bin/setpriv", ["--reuid=\(user.uid)", "--regid=\(user.gid)", "--clear-groups", program] + arguments)
        }
        // The index file (SQLite's) cannot be opened at all, whatever would read it.
        let index = pool.root + "/state/index.db"
        let cat = try asUser("/bin/cat", [index])
        #expect(cat.status != 0 && !cat.stdout.contains("hidden-name") && !cat.stdout.contains("secret-tag"), "cat read the index")

        let find = try asUser(Shell.estuary, ["find", pool.mountpoint])
        #expect(find.status == 1 && !find.stdout.contains("hidden-name"), "\(find.output)")
        #expect(find.stderr.contains("needs root"), "\(find.output)")
        for arguments in [["move", pool.path("public"), "--to", "bulk"], ["heat", pool.mountpoint], ["jobs", "list", pool.mountpoint],
                          ["objectives", "explain", pool.path("public")], ["status", pool.mountpoint]] {
            let result = try asUser(Shell.estuary, arguments)
            #expect(result.status == 1, "estuary \(arguments.joined(separator: " ")): \(result.status) \(result.output)")
            #expect(result.stderr.contains("is mounted at \(pool.mountpoint), but this command needs root: the control socket"),
                    "estuary \(arguments.joined(separator: " ")): \(result.output)")
            #expect(!result.output.contains("not mounted") && !result.output.contains("readonly database"), "\(result.output)")
        }
        // The same commands as root still work.
        #expect(try pool.estuary(["jobs", "list", pool.mountpoint]).status == 0)
    }
}

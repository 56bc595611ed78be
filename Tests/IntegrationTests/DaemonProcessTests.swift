import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What an administrator sees of the daemon as a process and at startup: its name, its errors,
/// and the layouts it refuses.
@Suite(.serialized)
struct DaemonProcessTests {
    private func daemonPid(_ pool: TestPool) -> Int32? {
        guard let text = try? String(contentsOfFile: pool.root + "/state/mount", encoding: .utf8) else { return nil }
        return text.split(separator: "\n").dropFirst().first.flatMap { Int32($0) }
    }

    private func writeConfig(_ path: String, _ text: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// The detached daemon is found by name, as pgrep, pidof, top and systemd look for it.
    @Test func backgroundDaemonIsNamedEstuaryfs() throws {
        let pool = try TestPool()
        let start = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint])
        try #require(start.status == 0, "\(start.output)")
        defer { _ = try? Shell.run("/bin/fusermount3", ["-u", pool.mountpoint]) }
        let pid = try #require(daemonPid(pool))
        let found = try Shell.run("/usr/bin/pgrep", ["-x", "estuaryfs"])
        #expect(found.stdout.split(separator: "\n").contains("\(pid)"), "pgrep -x estuaryfs: \(found.stdout); daemon \(pid)")
        let comm = try String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8)
        #expect(comm == "estuaryfs\n")
    }

    /// A bad config is reported once on stderr (not a log line and then the same plain line),
    /// in the background form and in the foreground.
    @Test(arguments: [[], ["-f"]])
    func configErrorIsPrintedOnce(extra: [String]) throws {
        let pool = try TestPool()
        let bad = pool.root + "/bad.toml"
        try writeConfig(bad, "[pool]\nname = \"x\"\nbogus = 3\n")
        let result = try Shell.run(Shell.estuaryfs, [bad, pool.mountpoint] + extra)
        #expect(result.status == 1)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        #expect(lines.first?.hasPrefix("estuaryfs: \(bad):3:1: unknown key 'bogus'") == true, "stderr: \(result.stderr)")
        #expect(!pool.isMounted)
    }

    /// A silo inside the mount point, or a mount point inside a silo, is refused before
    /// anything is mounted or written, naming the silo.
    @Test func siloInsideTheMountPointIsRefused() throws {
        let pool = try TestPool()
        let inner = pool.mountpoint + "/inner"
        try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: true)
        let config = pool.root + "/inner.toml"
        try writeConfig(config, """
            [pool]
            name = "inner"
            state_dir = "\(pool.root)/inner-state"

            [[silo]]
            name = "outside"
            path = "\(pool.siloPath("fast0"))"
            tier = "fast"

            [[silo]]
            name = "nested"
            path = "\(inner)"
            tier = "bulk"
            """)
        for extra in [[], ["-f"]] {
            let result = try Shell.run(Shell.estuaryfs, [config, pool.mountpoint] + extra)
            #expect(result.status == 1)
            #expect(result.stderr.contains("silo 'nested' (\(inner)) is inside the mount point \(pool.mountpoint)"), "\(result.stderr)")
            #expect(!pool.isMounted)
        }
        // Nothing was written into the silo that would have been hidden.
        #expect(try FileManager.default.contentsOfDirectory(atPath: inner).isEmpty)
    }

    @Test func mountPointInsideASiloIsRefused() throws {
        let pool = try TestPool()
        let inside = pool.siloPath("bulk0") + "/pool"
        try FileManager.default.createDirectory(atPath: inside, withIntermediateDirectories: true)
        // Reached through a symlink, it is still inside.
        let link = pool.root + "/link-to-inside"
        #expect(symlink(inside, link) == 0)
        let result = try Shell.run(Shell.estuaryfs, [pool.configPath, link])
        #expect(result.status == 1)
        #expect(result.stderr.contains("is inside silo 'bulk0' (\(pool.siloPath("bulk0")))"), "\(result.stderr)")
        #expect(!FileManager.default.fileExists(atPath: pool.siloPath("bulk0") + "/.estuary"))
    }
}

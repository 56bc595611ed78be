import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Bad input gets a clear error naming what was wrong, and never a crash or a hung mount.
@Suite(.serialized)
struct BadInputTests {
    @Test func malformedTomlNamesFileAndLine() throws {
        let pool = try TestPool()
        try "[pool]\nname = \"x\"\n[[silo]]\nname = \"a\"\npath = /not/quoted\n".write(toFile: pool.configPath, atomically: true, encoding: .utf8)
        let result = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-f"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(pool.configPath):5"), "\(result.stderr)")
        #expect(!pool.isMounted)
        let scan = try pool.estuary(["scan", pool.configPath])
        #expect(scan.status == 1 && scan.stderr.contains("\(pool.configPath):5"), "\(scan.stderr)")
    }

    @Test func duplicateSiloNamesPointAtBothLines() throws {
        let pool = try TestPool()
        let toml = """
        [pool]
        name = "dup"
        state_dir = "\(pool.root)/state"

        [[silo]]
        name = "disk"
        path = "\(pool.siloPath("fast0"))"
        tier = "fast"

        [[silo]]
        name = "disk"
        path = "\(pool.siloPath("bulk0"))"
        tier = "bulk"
        """
        try toml.write(toFile: pool.configPath, atomically: true, encoding: .utf8)
        let result = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(pool.configPath):11") && result.stderr.contains("line 6"), "\(result.stderr)")
        #expect(!pool.isMounted)
    }

    @Test func missingSiloAndSiloThatIsAFileAreOfflineWhileTheRestServes() throws {
        let pool = try TestPool()
        try Fixtures.write(pool.siloPath("fast0") + "/kept.txt", "still served")
        try FileManager.default.removeItem(atPath: pool.siloPath("bulk0"))
        try FileManager.default.removeItem(atPath: pool.siloPath("bulk1"))
        try "not a directory".write(toFile: pool.siloPath("bulk1"), atomically: true, encoding: .utf8)

        let scan = try pool.estuary(["scan", pool.configPath])
        #expect(scan.status == 3, "a scan that could not read silos exits 3: \(scan.output)")
        #expect(scan.stdout.contains("silo 'bulk0': /: the path does not exist"), "\(scan.stdout)")
        #expect(scan.stdout.contains("silo 'bulk1': /: the path is not a directory"), "\(scan.stdout)")

        try pool.mount()
        defer { _ = try? pool.unmount() }
        #expect(try String(contentsOfFile: pool.path("kept.txt"), encoding: .utf8) == "still served")
        let status = try pool.estuary(["status", pool.mountpoint])
        #expect(status.status == 0)
        #expect(status.stdout.contains("offline (the path does not exist)"), "\(status.stdout)")
        #expect(status.stdout.contains("offline (the path is not a directory)"), "\(status.stdout)")
    }

    @Test func noReachableSiloRefusesToMount() throws {
        let pool = try TestPool(silos: [("only", "fast")])
        try FileManager.default.removeItem(atPath: pool.siloPath("only"))
        let result = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint])
        #expect(result.status == 1)
        #expect(result.stderr.contains("silo 'only'") && result.stderr.contains("does not exist"), "\(result.stderr)")
        #expect(!pool.isMounted)
    }

    @Test func unreadableDirectoryIsReportedAndTheRestIsIndexed() throws {
        let pool = try TestPool(silos: [("data", "bulk")])
        try Fixtures.write(pool.siloPath("data") + "/open/a.txt", "a")
        try Fixtures.write(pool.siloPath("data") + "/locked/secret.txt", "s")
        chmod(pool.siloPath("data") + "/locked", 0o000)
        // Root reads everything, so run the scan as an unprivileged user who owns the state.
        try FileManager.default.createDirectory(atPath: pool.root + "/state", withIntermediateDirectories: true)
        for path in [pool.root, pool.root + "/state", pool.root + "/silos", pool.siloPath("data"), pool.siloPath("data") + "/open",
                     pool.siloPath("data") + "/open/a.txt", pool.configPath] {
            chown(path, 65534, 65534)
        }
        chmod(pool.root, 0o755)
        let scan = try Shell.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", Shell.estuary,
                                                    "scan", pool.configPath], environment: ["HOME": pool.root])
        #expect(scan.status == 3, "\(scan.output)")
        #expect(scan.stdout.contains("silo 'data': locked: cannot open directory: Permission denied"), "\(scan.stdout)")
        chmod(pool.siloPath("data") + "/locked", 0o755)
        // The unreadable directory is still listed (its contents unknown), the rest is indexed.
        try pool.mount(options: ["-o", "noscan"])
        defer { _ = try? pool.unmount() }
        #expect(FileManager.default.fileExists(atPath: pool.path("open/a.txt")))
        #expect(FileManager.default.fileExists(atPath: pool.path("locked")))
    }

    @Test func mountPointInUseIsRefused() throws {
        let pool = try TestPool()
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let second = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint])
        #expect(second.status == 1)
        #expect(second.stderr.contains("is in use"), "\(second.stderr)")
        let other = try TestPool()
        try FileManager.default.createDirectory(atPath: other.mountpoint + "2", withIntermediateDirectories: true)
        // The same pool mounted twice elsewhere is refused too: one daemon owns an index.
        let twice = try Shell.run(Shell.estuaryfs, [pool.configPath, other.mountpoint + "2"])
        #expect(twice.status == 1 && twice.stderr.contains("already mounted"), "\(twice.stderr)")
    }

    @Test func missingMountPointAndBadOptionsAreClear() throws {
        let pool = try TestPool()
        let missing = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.root + "/nowhere"])
        #expect(missing.status == 1 && missing.stderr.contains("does not exist"), "\(missing.stderr)")
        let option = try Shell.run(Shell.estuaryfs, [pool.configPath, pool.mountpoint, "-o", "attr_timeout=soon"])
        #expect(option.status == 2 && option.stderr.contains("attr_timeout"), "\(option.stderr)")
        let usage = try Shell.run(Shell.estuaryfs, [pool.configPath])
        #expect(usage.status == 2 && usage.stderr.contains("usage:"))
    }
}

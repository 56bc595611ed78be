import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Exit statuses scripts can trust (2 for usage, as the README says and `estuaryfs` does), and
/// POOL arguments that are resolved, never invented.
@Suite(.serialized)
struct ExitCodeTests {
    @Test func usageErrorsExitTwo() throws {
        for arguments in [["bogus"], ["status"], ["find", "/tmp", "--where", "size >"], ["find", "/tmp", "--type", "q"],
                          ["move", "/tmp/x"], ["jobs", "list"]] {
            let result = try Shell.run(Shell.estuary, arguments)
            #expect(result.status == 2, "estuary \(arguments.joined(separator: " ")): \(result.status) \(result.output)")
            #expect(result.stderr.contains("Usage:") || result.stderr.contains("Error:"), "\(result.output)")
        }
        let daemon = try Shell.run(Shell.estuaryfs, ["--bogus-option"])
        #expect(daemon.status == 2, "\(daemon.output)")
    }

    /// With ESTUARY_STATE_ROOT pointing at an empty directory, read-only commands on mistyped or
    /// never-used pools fail and leave it empty.
    @Test func aReadOnlyCommandNeverCreatesAPool() throws {
        let root = NSTemporaryDirectory() + "estuary-state-" + UUID().uuidString.prefix(8)
        let silo = root + "-silo"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: silo, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root); try? FileManager.default.removeItem(atPath: silo) }
        let environment = ["ESTUARY_STATE_ROOT": root]
        for arguments in [["status", "/nonexistent-\(UUID().uuidString)"], ["status", "no-such-pool-name"],
                          ["status", silo + "=fast"], ["status", silo], ["find", silo + "=fast"], ["du", silo + "=fast"]] {
            let result = try Shell.run(Shell.estuary, arguments, environment: environment)
            #expect(result.status == 1, "estuary \(arguments.joined(separator: " ")): \(result.status) \(result.output)")
            #expect(!result.stderr.contains("<spec>:1:1"), "\(result.output)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty, "estuary \(arguments.joined(separator: " ")) created a pool")
        }
        let missing = try Shell.run(Shell.estuary, ["status", "/nonexistent-pool"], environment: environment)
        #expect(missing.stderr.contains("no pool '/nonexistent-pool'"), "\(missing.output)")
        let directory = try Shell.run(Shell.estuary, ["status", silo], environment: environment)
        #expect(directory.stderr.contains("no Estuary pool is mounted on \(silo)"), "\(directory.output)")
    }

    @Test func aRelativeMountPointIsResolvedFirst() throws {
        let pool = try TestPool(silos: [("fast0", "fast")])
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let status = try Shell.sh("cd '\(pool.root)' && '\(Shell.estuary)' status mnt")
        #expect(status.status == 0 && status.stdout.contains("mounted at \(pool.mountpoint)"), "\(status.output)")
        let jobs = try Shell.sh("cd '\(pool.root)' && '\(Shell.estuary)' jobs list ./mnt/")
        #expect(jobs.status == 0 && jobs.stdout.contains("no jobs"), "\(jobs.output)")
    }
}

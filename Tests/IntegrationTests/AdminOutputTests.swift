import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// What `estuary` shows a person: names that cannot forge lines or drive the terminal, output
/// that fits the terminal, the marks and pointers an administrator needs.
@Suite(.serialized)
struct AdminOutputTests {
    /// A file name carrying a newline and colour escapes, and the line it would forge.
    static let evil = "evil\n\u{1b}[31mFAKE LINE\u{1b}[0m"

    private func eventually(_ seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline { if try condition() { return true }; usleep(100_000) }
        return false
    }

    /// No byte below 0x20 but the newlines ending lines, no line that starts with the forged text.
    private func isClean(_ output: String) -> Bool {
        !output.utf8.contains { $0 < 0x20 && $0 != 0x0a } && !output.split(separator: "\n").contains { $0.hasPrefix("FAKE LINE") }
    }

    @Test func controlCharactersInNamesAreEscapedInHumanOutputAndExactInJSON() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        // The same name in two silos: a shadowed duplicate, listed by `estuary status`.
        try Fixtures.write(pool.siloPath("fast0") + "/d/" + Self.evil, "new", mtime: Int(time(nil)) - 10)
        try Fixtures.write(pool.siloPath("bulk0") + "/d/" + Self.evil, "old", mtime: Int(time(nil)) - 1000)
        try Fixtures.write(pool.siloPath("fast0") + "/m/" + Self.evil, "to move")
        try pool.mount()
        defer { _ = try? pool.unmount() }

        let status = try pool.estuary(["status", pool.mountpoint])
        #expect(status.status == 0, "\(status.output)")
        #expect(isClean(status.stdout), "\(status.stdout.debugDescription)")
        #expect(status.stdout.contains("'/d/evil'$'\\n\\033''[31mFAKE LINE'$'\\033''[0m'"), "\(status.stdout)")
        let json = try pool.estuary(["status", pool.mountpoint, "--json"])
        let shadows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])["shadows"] as? [[String: Any]]
        #expect(shadows?.first?["path"] as? String == "/d/" + Self.evil)

        let find = try pool.estuary(["find", pool.mountpoint, "--type", "f"])
        #expect(isClean(find.stdout) && find.stdout.contains("$'\\n\\033'"), "\(find.stdout.debugDescription)")
        let print0 = try pool.estuary(["find", pool.mountpoint, "--type", "f", "--print0"])
        #expect(print0.stdoutBytes == Array((pool.mountpoint + "/d/" + Self.evil).utf8) + [0] + Array((pool.mountpoint + "/m/" + Self.evil).utf8) + [0])

        let move = try pool.estuary(["move", pool.path("m/" + Self.evil), "--to", "bulk", "--wait"])
        #expect(move.status == 0 && isClean(move.stdout), "\(move.output.debugDescription)")
        let jobs = try pool.estuary(["jobs", "list", pool.mountpoint, "--all"])
        #expect(jobs.status == 0 && isClean(jobs.stdout) && jobs.stdout.contains("$'\\n\\033'"), "\(jobs.stdout.debugDescription)")
        let jobsJSON = try pool.estuary(["jobs", "list", pool.mountpoint, "--all", "--json"])
        let listed = try JSONSerialization.jsonObject(with: Data(jobsJSON.stdout.utf8)) as? [[String: Any]]
        #expect(listed?.first?["path"] as? String == pool.path("m/" + Self.evil))
        let heat = try pool.estuary(["heat", pool.mountpoint])
        #expect(isClean(heat.stdout), "\(heat.stdout.debugDescription)")
    }

    /// For names holding control characters or bytes that are not UTF-8, `estuary find` writes
    /// exactly what `ls --quoting-style=shell-escape` writes for the same paths.
    @Test func findQuotesUnprintableNamesAsLsDoes() throws {
        let pool = try TestPool(silos: [("fast0", "fast")])
        let names: [[UInt8]] = [Array(Self.evil.utf8), Array("it's\tx".utf8), [0xff, 0xfe] + Array("raw".utf8),
                                Array("caf\u{e9}\u{1}".utf8), Array("c1\u{85}x".utf8), Array("back\\slash\n".utf8)]
        for name in names { try Fixtures.writeRawName(pool.siloPath("fast0"), name, "x") }
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let find = try pool.estuary(["find", pool.mountpoint, "--type", "f"])
        let ls = try Shell.sh("LC_ALL=C.UTF-8 ls -1d --quoting-style=shell-escape '\(pool.mountpoint)'/*")
        #expect(ls.status == 0, "\(ls.output)")
        #expect(Set(find.stdout.split(separator: "\n")) == Set(ls.stdout.split(separator: "\n")), "find:\n\(find.stdout)\nls:\n\(ls.stdout)")
        #expect(find.stdout.split(separator: "\n").count == names.count)
    }

    @Test func statusFitsTheTerminalMarksDrainingAndNamesTheLog() throws {
        // A silo whose path is long and missing: offline, with a long reason naming the path.
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk"), ("bulk1", "bulk"), ("cold0", "bulk")])
        let long = pool.root + "/" + String(repeating: "a-rather-long-directory-name-", count: 5) + "gone"
        let toml = try String(contentsOfFile: pool.configPath, encoding: .utf8)
        try toml.replacingOccurrences(of: "\"\(pool.siloPath("cold0"))\"", with: "\"\(long)\"")
            .write(toFile: pool.configPath, atomically: true, encoding: .utf8)
        for i in 0..<3 { try Fixtures.write(pool.siloPath("bulk1") + "/f\(i)", "data \(i)") }
        try pool.mount()
        defer { _ = try? pool.unmount() }

        let drain = try pool.estuary(["silo", "drain", pool.mountpoint, "bulk1"])
        #expect(drain.status == 0, "\(drain.output)")
        for columns in [80, 100] {
            let status = try Shell.run(Shell.estuary, ["status", pool.mountpoint], environment: ["COLUMNS": String(columns)])
            #expect(status.status == 0, "\(status.output)")
            let widest = status.stdout.split(separator: "\n").map(\.count).max() ?? 0
            #expect(widest <= columns, "\(widest) columns at COLUMNS=\(columns):\n\(status.stdout)")
            #expect(status.stdout.contains("online, draining"), "\(status.stdout)")
            #expect(status.stdout.contains("log: "), "\(status.stdout)")
            #expect(status.stdout.contains("offline"), "\(status.stdout)")
        }
        let json = try pool.estuary(["status", pool.mountpoint, "--json"])
        let silos = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])["silos"] as? [[String: Any]]
        #expect(silos?.first { $0["name"] as? String == "bulk1" }?["draining"] as? Bool == true)
        #expect(silos?.first { $0["name"] as? String == "bulk0" }?["draining"] as? Bool == false)
    }

    @Test func aRecursiveMoveSummarisesItsJobs() throws {
        let pool = try TestPool(silos: [("fast0", "fast"), ("bulk0", "bulk")])
        for i in 0..<40 { try Fixtures.write(pool.siloPath("fast0") + "/tree/f\(i)", "file \(i)") }
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let move = try pool.estuary(["move", pool.path("tree"), "--recursive", "--to", "bulk"])
        #expect(move.status == 0, "\(move.output)")
        #expect(move.stdout.hasPrefix("queued 40 move(s) to bulk: jobs "), "\(move.stdout)")
        #expect(move.stdout.split(separator: ",").count < 10 && move.stdout.count < 120, "\(move.stdout)")
        let tree = pool.path("tree")
        #expect(try eventually {
            let jobs = try pool.estuary(["jobs", "list", pool.mountpoint])
            return jobs.stdout.hasPrefix("no jobs") || !jobs.stdout.contains(tree)
        })
        let again = try pool.estuary(["move", pool.path("tree"), "--recursive", "--to", "fast", "--json"])
        let jobs = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? [[String: Any]]
        #expect(jobs?.count == 40, "\(again.output)")
    }
}

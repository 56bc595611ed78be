import Foundation
import Syscalls
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The mounted namespace against the silos it is made of, seen through real syscalls.
@Suite(.serialized)
struct NamespaceViewTests {
    private func expected(_ pool: TestPool) throws -> [[UInt8]: SeenEntry] {
        TreeSnapshot.expectedMerge(try pool.silos.map { try TreeSnapshot.take(pool.siloPath($0.name), skipReserved: true) })
    }

    private func compare(_ seen: [[UInt8]: SeenEntry], _ want: [[UInt8]: SeenEntry]) {
        let missing = Set(want.keys).subtracting(seen.keys).map { displayName($0) }.sorted()
        let extra = Set(seen.keys).subtracting(want.keys).map { displayName($0) }.sorted()
        #expect(missing.isEmpty, "missing through the mount: \(missing)")
        #expect(extra.isEmpty, "unexpected through the mount: \(extra)")
        for (path, entry) in want {
            guard let got = seen[path] else { continue }
            #expect(got.matches(entry), "\(displayName(path)): mount shows \(got), silos hold \(entry)")
        }
    }

    @Test func mountShowsTheMergedSilos() throws {
        let pool = try TestPool()
        try Fixtures.populate(pool)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let seen = try TreeSnapshot.take(pool.mountpoint)
        compare(seen, try expected(pool))
        #expect(seen[Array(".estuary".utf8)] == nil)

        // The shadowed duplicate: the newer copy is visible, and status reports the older one.
        #expect(try String(contentsOfFile: pool.path("shared/report.txt"), encoding: .utf8) == "newer report\n")
        #expect(try String(contentsOfFile: pool.path("tie.txt"), encoding: .utf8) == "fast copy")
        let status = try pool.estuary(["status", pool.configPath, "--json"])
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"path\" : \"\\/shared\\/report.txt\""), "\(status.stdout)")
        #expect(status.stdout.contains("\"shadowSilo\" : \"bulk0\""))

        // The 5 GiB sparse file: size, holes and marks read through the mount.
        let image = pool.path("images/disk.img")
        let attributes = try Sys.statPath(image)
        #expect(attributes.size == Fixtures.sparseSize)
        let fd = try Sys.open(image, flags: O_RDONLY)
        defer { close(fd) }
        for (offset, mark) in Fixtures.sparseMarks {
            var buffer = [UInt8](repeating: 0, count: mark.utf8.count)
            let n = try buffer.withUnsafeMutableBytes { try Sys.pread(fd, $0.baseAddress!, $0.count, offset) }
            #expect(n == mark.utf8.count && buffer == Array(mark.utf8), "mark \(mark) at \(offset)")
        }
        var zeros = [UInt8](repeating: 1, count: 65536)
        _ = try zeros.withUnsafeMutableBytes { try Sys.pread(fd, $0.baseAddress!, $0.count, 1 << 30) }
        #expect(zeros.allSatisfy { $0 == 0 })

        // Computed attributes name where the data is.
        let silo = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.silo", pool.path("shared/report.txt")])
        #expect(silo.stdout == "fast0")
        let tier = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.tier", pool.path("images/disk.img")])
        #expect(tier.stdout == "bulk")
        let backing = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.path", pool.path("projects/apollo/data/run2.csv")])
        #expect(backing.stdout == pool.siloPath("bulk1") + "/projects/apollo/data/run2.csv")
        // ...but are not listed, so cp -a and rsync do not copy them.
        let listed = try Shell.run("/usr/bin/getfattr", ["-d", "-m", "-", pool.path("projects/apollo/plan.txt")])
        #expect(listed.stdout.contains("user.project=\"apollo\"") && !listed.stdout.contains("user.estuary"))
    }

    @Test func toolsSeeTheSameAsTheSilos() throws {
        let pool = try TestPool()
        try Fixtures.populate(pool)
        try pool.mount()
        defer { _ = try? pool.unmount() }
        // `find` walks exactly the merged names (raw bytes, NUL-separated), and `ls -lR` can stat
        // every one of them (a failed stat shows as "?" in its listing).
        let want = try expected(pool)
        let find = try Shell.sh("find '\(pool.mountpoint)' -mindepth 1 -printf '%P\\0'")
        #expect(find.status == 0)
        let found = Set(find.stdoutBytes.split(separator: 0).map { Array($0) })
        #expect(found == Set(want.keys), "find lists \(found.count) names, the silos hold \(want.count)")
        let ls = try Shell.sh("LC_ALL=C ls -lRA '\(pool.mountpoint)'")
        #expect(ls.status == 0 && ls.stderr.isEmpty, "\(ls.stderr)")
        #expect(!ls.stdout.contains(" ? "), "ls -lR could not stat an entry")
        // `stat` and `cat` of every small file agree with the file in its silo.
        for (path, entry) in want where entry.kind == .regular && entry.size < 1 << 20 {
            let name = displayName(path)
            if name.contains("\\x") || name.contains("\n") || name.contains("\t") { continue }
            let viaMount = try Shell.run("/usr/bin/stat", ["-c", "%s %a %u %g %Y %h %F", pool.path(name)])
            let backing = try Shell.run("/usr/bin/getfattr", ["--only-values", "-n", "user.estuary.path", pool.path(name)]).stdout
            let direct = try Shell.run("/usr/bin/stat", ["-c", "%s %a %u %g %Y %h %F", backing])
            #expect(viaMount.stdout == direct.stdout, "stat of \(name)")
            let catMount = try Shell.run("/bin/cat", [pool.path(name)]).stdout
            let catSilo = try Shell.run("/bin/cat", [backing]).stdout
            #expect(catMount == catSilo, "cat of \(name)")
        }
        // `getfattr` dumps the same tags through the mount as in the silo.
        let tagsMount = try Shell.run("/usr/bin/getfattr", ["--absolute-names", "-d", pool.path("projects/apollo/plan.txt")]).stdout
        let tagsSilo = try Shell.run("/usr/bin/getfattr", ["--absolute-names", "-d", pool.siloPath("fast0") + "/projects/apollo/plan.txt"]).stdout
        #expect(tagsMount.split(separator: "\n").dropFirst() == tagsSilo.split(separator: "\n").dropFirst())
    }

    @Test func largeDirectoryListsCompletely() throws {
        let pool = try TestPool()
        for i in 0..<3000 {
            let silo = pool.silos[i % pool.silos.count].name
            try Fixtures.write(pool.siloPath(silo) + "/big/file-\(i)-with-a-longer-name-to-fill-buffers", "\(i)")
        }
        try pool.mount()
        defer { _ = try? pool.unmount() }
        let names = try FileManager.default.contentsOfDirectory(atPath: pool.path("big"))
        #expect(names.count == 3000)
        #expect(Set(names).count == 3000)
        let plain = try Shell.sh("ls -f '\(pool.path("big"))' | wc -l")
        #expect(plain.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "3002")
        var s = stat()
        #expect(lstat(pool.path("big"), &s) == 0)
        #expect(s.st_nlink == 2)
        #expect(lstat(pool.mountpoint, &s) == 0 && s.st_nlink == 3)
    }
}
